package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// registered returns a store with tenant t1 and devices d1 and d2 enrolled.
func registered(t *testing.T, open opener) store.Store {
	t.Helper()
	s := open(t)
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "contoso.com")))
	for _, id := range []string{"d1", "d2"} {
		_, err := s.RegisterDevice(t.Context(), device("t1", id, "AA"+id))
		must(t, "RegisterDevice", err)
	}
	return s
}

func commandIDs(cmds []store.Command) []string {
	ids := make([]string, len(cmds))
	for i, c := range cmds {
		ids[i] = c.ID
	}
	return ids
}

func testCommands(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"OrderAndSeqPerDevice", func(t *testing.T, s store.Store) {
			must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1"), command("d2", "c2"), command("d1", "c3")))
			must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c4")))
			must(t, "Enqueue", s.Enqueue(t.Context(), command("d2", "c5")))
			for dev, want := range map[string][]string{"d1": {"c1", "c3", "c4"}, "d2": {"c2", "c5"}} {
				got, err := s.ListCommands(t.Context(), dev)
				must(t, "ListCommands", err)
				if !slices.Equal(commandIDs(got), want) {
					t.Fatalf("ListCommands(%s) = %v, want %v", dev, commandIDs(got), want)
				}
				for i := 1; i < len(got); i++ {
					if got[i].Seq <= got[i-1].Seq {
						t.Fatalf("%s: Seq not increasing: %d after %d", dev, got[i].Seq, got[i-1].Seq)
					}
				}
			}
		}},
		{"Defaults", func(t *testing.T, s store.Store) {
			c := command("d1", "")
			must(t, "Enqueue", s.Enqueue(t.Context(), c))
			got, err := s.ListCommands(t.Context(), "d1")
			must(t, "ListCommands", err)
			if len(got) != 1 {
				t.Fatalf("%d commands", len(got))
			}
			g := got[0]
			if g.ID == "" || g.Seq == 0 || g.State != store.CommandQueued || g.CreatedAt.IsZero() || g.TenantID != "t1" {
				t.Fatalf("defaults not applied: %+v", g)
			}
			if g.Payload.Verb != "Get" || len(g.Payload.Items) != 1 || g.Payload.Items[0].Target != "./DevDetail/SwV" {
				t.Fatalf("payload = %+v", g.Payload)
			}
			byID, err := s.Command(t.Context(), "d1", g.ID)
			must(t, "Command", err)
			if byID.Seq != g.Seq {
				t.Fatalf("Command Seq %d, listed %d", byID.Seq, g.Seq)
			}
		}},
		{"DuplicateID", func(t *testing.T, s store.Store) {
			must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1")))
			mustErr(t, "Enqueue again", s.Enqueue(t.Context(), command("d1", "c2"), command("d1", "c1")), store.ErrExists)
			got, err := s.ListCommands(t.Context(), "d1")
			must(t, "ListCommands", err)
			if !slices.Equal(commandIDs(got), []string{"c1"}) {
				t.Fatalf("refused Enqueue stored commands: %v", commandIDs(got))
			}
		}},
		{"UnknownDevice", func(t *testing.T, s store.Store) {
			mustErr(t, "Enqueue", s.Enqueue(t.Context(), command("nope", "c1")), store.ErrNotFound)
		}},
		{"OtherTenant", func(t *testing.T, s store.Store) {
			c := command("d1", "c1")
			c.TenantID = "t2"
			mustErr(t, "Enqueue", s.Enqueue(t.Context(), c), store.ErrConflict)
		}},
		{"Missing", func(t *testing.T, s store.Store) {
			_, err := s.Command(t.Context(), "d1", "nope")
			mustErr(t, "Command", err, store.ErrNotFound)
			list, err := s.ListCommands(t.Context(), "d1")
			must(t, "ListCommands", err)
			if len(list) != 0 {
				t.Fatalf("%d commands on an empty queue", len(list))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, registered(t, open)) })
	}
}

func testCheckin(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"HasPending", checkinHasPending},
		{"OpenOrderAndFinalStates", checkinOpenOrderAndFinalStates},
		{"OpenDue", checkinOpenDue},
		{"UnknownStateLeavesOpenSet", checkinUnknownStateLeavesOpenSet},
		{"PutCommandUnknown", checkinPutCommandUnknown},
		{"Session", checkinSession},
		{"SessionEviction", checkinSessionEviction},
		{"DeviceScope", checkinDeviceScope},
		{"DeviceAndPutDevice", checkinDeviceAndPutDevice},
		{"RepeatedPutDevice", checkinRepeatedPutDevice},
		{"EnqueueInTx", checkinEnqueueInTx},
		{"AuditInTx", checkinAuditInTx},
		{"ErrorRollsBack", checkinErrorRollsBack},
		{"RerunSafe", checkinRerunSafe},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, registered(t, open)) })
	}
}

func checkinHasPending(t *testing.T, s store.Store) {
	pending := func() bool {
		var p bool
		must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
			var err error
			p, err = tx.HasPending()
			return err
		}))
		return p
	}
	if pending() {
		t.Fatal("idle device has pending work")
	}
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d2", "other")))
	if pending() {
		t.Fatal("another device's command is pending here")
	}
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1")))
	if !pending() {
		t.Fatal("no pending work after Enqueue")
	}
}

func checkinOpenOrderAndFinalStates(t *testing.T, s store.Store) {
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1"), command("d1", "c2"), command("d1", "c3"), command("d1", "c4")))
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		open, err := tx.Open()
		if err != nil {
			return err
		}
		if !slices.Equal(commandIDs(open), []string{"c1", "c2", "c3", "c4"}) {
			return fmt.Errorf("Open = %v", commandIDs(open))
		}
		states := []store.CommandState{store.CommandSent, store.CommandSucceeded, store.CommandRetry, store.CommandFailed}
		for i, c := range open {
			c.State = states[i]
			c.StatusCode = 200
			if err := tx.PutCommand(c); err != nil {
				return err
			}
		}
		return nil
	}))
	var open []store.Command
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		var err error
		open, err = tx.Open()
		return err
	}))
	if !slices.Equal(commandIDs(open), []string{"c1", "c3"}) {
		t.Fatalf("Open after final states = %v, want [c1 c3]", commandIDs(open))
	}
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		// A Seq other than the stored one is refused, also for a command read in this run.
		open, err := tx.Open()
		if err != nil || len(open) == 0 {
			return fmt.Errorf("Open = %v, %v", commandIDs(open), err)
		}
		c := open[0]
		c.Seq++
		if err := tx.PutCommand(c); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("PutCommand with another Seq after Open: %v, want ErrConflict", err)
		}
		return nil
	}))
	c2, err := s.Command(t.Context(), "d1", "c2")
	must(t, "Command", err)
	if c2.State != store.CommandSucceeded || c2.StatusCode != 200 {
		t.Fatalf("c2 = %+v", c2)
	}
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		for _, id := range []string{"c1", "c3"} {
			c, err := tx.Command(id)
			if err != nil {
				return err
			}
			c.State = store.CommandCancelled
			if err := tx.PutCommand(c); err != nil {
				return err
			}
		}
		p, err := tx.HasPending()
		if err == nil && p {
			err = fmt.Errorf("HasPending true with every command final")
		}
		return err
	}))
}

func checkinUnknownStateLeavesOpenSet(t *testing.T, s store.Store) {
	// An at-most-once command whose claim ran out is stored as unknown (final), and a
	// resend records its copy in ResentAs; both survive a read.
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1"), command("d1", "c2")))
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		c, err := tx.Command("c1")
		if err != nil {
			return err
		}
		c.State, c.ResentAs, c.SentCount = store.CommandUnknown, "c2", 1
		return tx.PutCommand(c)
	}))
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		open, err := tx.Open()
		if err != nil {
			return err
		}
		if !slices.Equal(commandIDs(open), []string{"c2"}) {
			return fmt.Errorf("Open = %v, want [c2]", commandIDs(open))
		}
		return nil
	}))
	c1, err := s.Command(t.Context(), "d1", "c1")
	must(t, "Command", err)
	if c1.State != store.CommandUnknown || c1.ResentAs != "c2" || c1.SentCount != 1 {
		t.Fatalf("c1 = %+v", c1)
	}
	list, err := s.ListCommands(t.Context(), "d1")
	must(t, "ListCommands", err)
	if len(list) != 2 || list[0].ResentAs != "c2" || list[0].State != store.CommandUnknown {
		t.Fatalf("ListCommands = %+v", list)
	}
}

func checkinPutCommandUnknown(t *testing.T, s store.Store) {
	err := s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		return tx.PutCommand(command("d1", "never-enqueued"))
	})
	mustErr(t, "PutCommand", err, store.ErrNotFound)
}

func checkinSession(t *testing.T, s store.Store) {
	want := store.Session{
		DeviceID: "d1", SessionID: "D", ClientMsgID: 2, ServerMsgID: 1,
		Sent:      map[string]store.SentRef{"1:2": {CommandID: "c1", Verb: "Replace", Child: []int{0, 1}}},
		LastReply: []byte("<SyncML/>"), StartedAt: t0, UpdatedAt: t0,
	}
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		if _, err := tx.Session("D"); !isNotFound(err) {
			return fmt.Errorf("Session before Put: %v, want ErrNotFound", err)
		}
		return tx.PutSession(want)
	}))
	var got store.Session
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		var err error
		got, err = tx.Session("D")
		return err
	}))
	if got.ClientMsgID != 2 || got.Sent["1:2"].CommandID != "c1" || !slices.Equal(got.Sent["1:2"].Child, []int{0, 1}) ||
		string(got.LastReply) != "<SyncML/>" || !got.StartedAt.Equal(t0) {
		t.Fatalf("Session = %+v", got)
	}
	err := s.Checkin(t.Context(), "d2", func(tx store.DeviceTx) error {
		_, err := tx.Session("D")
		return err
	})
	mustErr(t, "Session of another device", err, store.ErrNotFound)
}

func checkinSessionEviction(t *testing.T, s store.Store) {
	// A device keeps its store.MaxSessions most recently updated sessions: writing a
	// new one deletes the least recently updated, rewriting one deletes nothing, and
	// another device's sessions are never counted.
	// Every other write reads the session first in its check-in, as the session engine
	// does (a store may then know whether it is new without reading it again).
	reads := 0
	put := func(dev, id string, at time.Time) {
		t.Helper()
		reads++
		must(t, "PutSession "+id, s.Checkin(t.Context(), dev, func(tx store.DeviceTx) error {
			if reads%2 == 0 {
				if _, err := tx.Session(id); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return tx.PutSession(store.Session{SessionID: id, UpdatedAt: at})
		}))
	}
	put("d2", "old", t0.Add(-time.Hour))
	const n = store.MaxSessions + 4
	for i := range n {
		put("d1", fmt.Sprint(i), t0.Add(time.Duration(i)*time.Minute))
		if i == store.MaxSessions-1 {
			put("d1", "0", t0.Add(24*time.Hour)) // "0" becomes the most recent
			put("d1", "0", t0.Add(24*time.Hour)) // once more, read first or not
		}
	}
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		for i := range n {
			_, err := tx.Session(fmt.Sprint(i))
			if kept := i == 0 || i >= n-(store.MaxSessions-1); kept != (err == nil) {
				return fmt.Errorf("session %d: kept %v, Session error %v", i, kept, err)
			}
		}
		return nil
	}))
	must(t, "Checkin d2", s.Checkin(t.Context(), "d2", func(tx store.DeviceTx) error {
		_, err := tx.Session("old")
		return err
	}))
}

func checkinDeviceScope(t *testing.T, s store.Store) {
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d2", "c2")))
	steps := map[string]func(tx store.DeviceTx) error{
		"PutDevice":  func(tx store.DeviceTx) error { return tx.PutDevice(device("t1", "d2", "AAd2")) },
		"PutSession": func(tx store.DeviceTx) error { return tx.PutSession(store.Session{DeviceID: "d2", SessionID: "1"}) },
		"PutCommand": func(tx store.DeviceTx) error {
			c := command("d2", "c2")
			c.State = store.CommandSucceeded
			return tx.PutCommand(c)
		},
		"Enqueue": func(tx store.DeviceTx) error { return tx.Enqueue(command("d2", "c9")) },
	}
	for name, step := range steps {
		mustErr(t, name+" of another device", s.Checkin(t.Context(), "d1", step), store.ErrConflict)
	}
	_, err := s.Command(t.Context(), "d2", "c9")
	mustErr(t, "Command enqueued across devices", err, store.ErrNotFound)
}

func checkinDeviceAndPutDevice(t *testing.T, s store.Store) {
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		d.LastSeenAt = t0.Add(time.Hour)
		d.Nodes["./DevDetail/SwV"] = "10.0.26100"
		d.CertSerial = "BB01"
		return tx.PutDevice(d)
	}))
	got, err := s.Device(t.Context(), "d1")
	must(t, "Device", err)
	if !got.LastSeenAt.Equal(t0.Add(time.Hour)) || got.Nodes["./DevDetail/SwV"] != "10.0.26100" {
		t.Fatalf("Device = %+v", got)
	}
	if r, _ := s.CertRevoked(t.Context(), "AAd1"); !r {
		t.Fatal("PutDevice with a new serial left the old one unrevoked")
	}
	err = s.Checkin(t.Context(), "unknown", func(tx store.DeviceTx) error {
		_, err := tx.Device()
		return err
	})
	mustErr(t, "Device of unknown device", err, store.ErrNotFound)
}

func checkinRepeatedPutDevice(t *testing.T, s store.Store) {
	// Each PutDevice is checked against the device as the transaction last wrote it,
	// read back or not: every replaced serial is revoked, and Device reads the latest
	// write.
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		d := device("t1", "d1", "BB01")
		d.DeviceName = "first"
		if err := tx.PutDevice(d); err != nil { // no Device before it
			return err
		}
		got, err := tx.Device()
		if err != nil {
			return err
		}
		if got.CertSerial != "BB01" || got.DeviceName != "first" {
			return fmt.Errorf("Device after PutDevice = %+v", got)
		}
		got.CertSerial = "CC01"
		if err := tx.PutDevice(got); err != nil {
			return err
		}
		got.CertSerial, got.DeviceName = "DD01", "second"
		if err := tx.PutDevice(got); err != nil {
			return err
		}
		got.TenantID = "t2"
		if err := tx.PutDevice(got); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("PutDevice moving tenant: %v, want ErrConflict", err)
		}
		return nil
	}))
	for _, serial := range []string{"AAd1", "BB01", "CC01"} {
		if r, err := s.CertRevoked(t.Context(), serial); err != nil || !r {
			t.Errorf("serial %s replaced in the check-in: revoked %v, %v", serial, r, err)
		}
	}
	if r, _ := s.CertRevoked(t.Context(), "DD01"); r {
		t.Error("the current serial DD01 is revoked")
	}
	got, err := s.Device(t.Context(), "d1")
	must(t, "Device", err)
	if got.CertSerial != "DD01" || got.DeviceName != "second" {
		t.Fatalf("Device = %+v", got)
	}
}

func checkinEnqueueInTx(t *testing.T, s store.Store) {
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1")))
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		if err := tx.Enqueue(command("", "c2"), command("d1", "c3")); err != nil {
			return err
		}
		open, err := tx.Open()
		if err == nil && !slices.Equal(commandIDs(open), []string{"c1", "c2", "c3"}) {
			err = fmt.Errorf("Open inside the transaction = %v", commandIDs(open))
		}
		return err
	}))
	got, err := s.ListCommands(t.Context(), "d1")
	must(t, "ListCommands", err)
	if !slices.Equal(commandIDs(got), []string{"c1", "c2", "c3"}) {
		t.Fatalf("ListCommands = %v", commandIDs(got))
	}
	if got[1].Seq <= got[0].Seq || got[2].Seq <= got[1].Seq || got[1].TenantID != "t1" || got[1].State != store.CommandQueued {
		t.Fatalf("commands enqueued in a check-in: %+v", got)
	}
}

func checkinAuditInTx(t *testing.T, s store.Store) {
	e1, e2 := event("t1", t0, "d1"), event("t1", t0.Add(time.Second), "d1")
	must(t, "AppendAudit", s.AppendAudit(t.Context(), e1))
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error { return tx.Audit(e2) }))
	evs := auditEvents(t, s, "t1", 0)
	verifyChain(t, audit.Anchor{}, evs)
	if len(evs) != 2 || evs[0].ID != e1.ID || evs[1].ID != e2.ID {
		t.Fatalf("events after a check-in appended one: %+v", evs)
	}
	callerEvent(t, s, e1, evs[0])
	callerEvent(t, s, e2, evs[1])
}

func checkinErrorRollsBack(t *testing.T, s store.Store) {
	must(t, "Enqueue", s.Enqueue(t.Context(), command("d1", "c1")))
	ev := event("t1", t0, "d1")
	err := s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		d.DeviceName = "changed"
		d.CertSerial = "CC01"
		c, err := tx.Command("c1")
		if err != nil {
			return err
		}
		c.State = store.CommandSucceeded
		for _, step := range []error{
			tx.PutDevice(d), tx.PutSession(store.Session{SessionID: "1"}), tx.PutCommand(c),
			tx.Enqueue(command("d1", "c2")), tx.Audit(ev),
		} {
			if step != nil {
				return step
			}
		}
		return fmt.Errorf("after writing: %w", errBoom)
	})
	mustErr(t, "Checkin", err, errBoom)
	if d, _ := s.Device(t.Context(), "d1"); d.DeviceName == "changed" {
		t.Fatal("device change survived the rollback")
	}
	if r, _ := s.CertRevoked(t.Context(), "AAd1"); r {
		t.Fatal("revocation survived the rollback")
	}
	if c, _ := s.Command(t.Context(), "d1", "c1"); c.State != store.CommandQueued {
		t.Fatalf("command state %s survived the rollback", c.State)
	}
	if _, err := s.Command(t.Context(), "d1", "c2"); !isNotFound(err) {
		t.Fatalf("command enqueued in a rolled-back check-in: %v", err)
	}
	if evs := auditEvents(t, s, "t1", 0); len(evs) != 0 {
		t.Fatalf("%d audit events survived the rollback", len(evs))
	}
	if ev.Seq != 0 || ev.Hash != "" {
		t.Fatalf("rolled-back event was sealed: Seq %d", ev.Seq)
	}
	err = s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		_, err := tx.Session("1")
		return err
	})
	mustErr(t, "Session written in a rolled-back check-in", err, store.ErrNotFound)
}

func checkinRerunSafe(t *testing.T, s store.Store) {
	var runs atomic.Int32
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		runs.Add(1)
		if err := tx.Enqueue(command("d1", "")); err != nil {
			return err
		}
		return tx.Audit(event("t1", t0, "d1"))
	}))
	if runs.Load() < 1 {
		t.Fatal("fn never ran")
	}
	cmds, err := s.ListCommands(t.Context(), "d1")
	must(t, "ListCommands", err)
	if len(cmds) != 1 {
		t.Fatalf("%d commands after %d runs of one check-in, want 1", len(cmds), runs.Load())
	}
	if evs := auditEvents(t, s, "t1", 0); len(evs) != 1 {
		t.Fatalf("%d audit events after one check-in, want 1", len(evs))
	}
}
