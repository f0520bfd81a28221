package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

const (
	pinRecovery = "./Device/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/EnablePinRecovery"
	webSignIn   = "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
)

// A session: package 1 gets Statuses plus the queued commands; the device answers them with
// mixed statuses; the server records each, stores Get results, retries failures in a later
// session and ends each session with a message of only Statuses and Final.
func TestSessionStatusesRetriesResults(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true, MaxAttempts: 3})
	dev := ts.enroll("B5B954E81FBCB94EB79BD08BE625F4EE")

	ids := []string{
		ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"}),
		ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: webSignIn, Format: "chr", Data: "signin.contoso.com;portal.contoso.com"}),
		ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"}),
		ts.queue(dev.id, wire.CommandRequest{Verb: "Delete", LocURI: "./Device/Vendor/MSFT/Policy/Config/Authentication/EnableWebSignIn"}),
		ts.queue(dev.id, wire.CommandRequest{Verb: "Add", LocURI: "./Device/Vendor/MSFT/Nope/Node", Format: "int", Data: "1"}),
	}
	reply := dev.send(dev.first())
	if reply.Header.SessionID != "1" || reply.Header.MsgID != "1" || reply.Header.Target != dev.id {
		t.Fatalf("reply header = %+v", reply.Header)
	}
	if c := reply.Body[0]; c.Verb != syncml.VerbStatus || c.CmdRef != "0" || c.Cmd != "SyncHdr" || c.Data != "200" {
		t.Fatalf("first element is not the SyncHdr status: %+v", c)
	}
	for _, ref := range []string{"2", "3", "4"} {
		if code, ok := statusFor(reply, ref); !ok || code != 200 {
			t.Fatalf("status for client CmdID %s = %d, %v", ref, code, ok)
		}
	}
	cmds := commandsOf(reply)
	if len(cmds) != 5 || !reply.Final {
		t.Fatalf("got %d commands (final %v), want 5", len(cmds), reply.Final)
	}
	// The device: 200 for the first, 200 + Results for the Get, 404 for the Delete, 500 for the Add.
	b := dev.next()
	codes := []int{200, 200, 200, 404, 500}
	for i, c := range cmds {
		b.Status("1", c, codes[i])
		if c.Verb == syncml.VerbGet {
			b.Results("1", c, []syncml.Item{{Source: "./DevDetail/SwV", Meta: &syncml.Meta{Format: "chr"}, Data: "10.0.22631.2428"}})
		}
	}
	end := dev.send(b)
	if n := len(commandsOf(end)); n != 0 || !end.Final {
		t.Fatalf("closing message has %d commands, final %v; want only Statuses and Final", n, end.Final)
	}

	want := []struct {
		state    store.CommandState
		code     int
		attempts int
	}{{store.CommandSucceeded, 200, 0}, {store.CommandSucceeded, 200, 0}, {store.CommandSucceeded, 200, 0}, {store.CommandRetry, 404, 1}, {store.CommandRetry, 500, 1}}
	for i, id := range ids {
		v := ts.command(dev.id, id)
		if v.State != string(want[i].state) || v.StatusCode != want[i].code || v.Attempts != want[i].attempts {
			t.Errorf("command %d: state %s code %d attempts %d; want %+v", i, v.State, v.StatusCode, v.Attempts, want[i])
		}
	}
	if v := ts.command(dev.id, ids[3]); v.StatusText != "404: node not found on this device" {
		t.Errorf("status text = %q", v.StatusText)
	}
	if v := ts.command(dev.id, ids[2]); len(v.Results) != 1 || v.Results[0].Data != "10.0.22631.2428" || v.Results[0].LocURI != "./DevDetail/SwV" {
		t.Errorf("Get results = %+v", v.Results)
	}

	// Two more sessions answering 404/500 exhaust the three attempts; successes never return.
	for round := 2; round <= 3; round++ {
		reply := dev.send(dev.first())
		cmds := commandsOf(reply)
		if len(cmds) != 2 {
			t.Fatalf("session %d: %d commands resent, want the 2 failed ones", round, len(cmds))
		}
		b := dev.next()
		b.Status("1", cmds[0], 404)
		b.Status("1", cmds[1], 500)
		dev.send(b)
	}
	for i, code := range map[int]int{3: 404, 4: 500} {
		v := ts.command(dev.id, ids[i])
		if v.State != string(store.CommandFailed) || v.StatusCode != code || v.Attempts != 3 || v.SentCount != 3 {
			t.Errorf("command %d after 3 failures: %+v", i, v)
		}
	}
	if cmds := commandsOf(dev.send(dev.first())); len(cmds) != 0 {
		t.Errorf("a fourth session still got %d commands", len(cmds))
	}
}

// The server dies after the message that sent a command and before the one reporting its
// Status: after the restart the next session gets the command once more, and its Status is
// recorded once.
func TestRestartBetweenSendAndStatus(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, omadm.Config{ClaimLease: 200 * time.Millisecond})
	dev := ts.enroll("0123456789ABCDEF0123456789ABCDEF")
	id := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})

	if n := len(commandsOf(dev.send(dev.first()))); n != 1 {
		t.Fatalf("first session got %d commands", n)
	}
	ts.restart()
	dev.reconnect()
	time.Sleep(300 * time.Millisecond) // the broken session's claim runs out

	reply := dev.send(dev.first())
	cmds := commandsOf(reply)
	if len(cmds) != 1 {
		t.Fatalf("after restart got %d commands, want the command again", len(cmds))
	}
	b := dev.next()
	b.Status("1", cmds[0], 200)
	b.Status("1", cmds[0], 200) // a duplicate Status is not recorded twice
	dev.send(b)
	v := ts.command(dev.id, id)
	if v.State != "succeeded" || v.SentCount != 2 {
		t.Fatalf("command after restart: %+v", v)
	}
	if cmds := commandsOf(dev.send(dev.first())); len(cmds) != 0 {
		t.Fatalf("a delivered command was sent again")
	}
	delivered := 0
	err := ts.app.Store.AuditEvents(context.Background(), testTenant, 0, func(e *audit.Event) (bool, error) {
		if e.Kind == audit.KindCommandDelivered && e.Subject.ID == id {
			delivered++
		}
		return true, nil
	})
	if err != nil || delivered != 1 {
		t.Fatalf("delivered events = %d (%v), want 1", delivered, err)
	}
}

// 50 devices check in concurrently, and one more device runs 2 sessions at once: every
// command is delivered exactly once and no two sessions carry the same command.
func TestConcurrentSessions(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	var devs []*testDevice
	for i := 0; i < 50; i++ {
		d := ts.enroll(strings.ToUpper(strings.Repeat(string(rune('A'+i%26)), 2)) + strings.Repeat("0", 28) + string(rune('A'+i/26)) + "Z")
		ts.queue(d.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})
		devs = append(devs, d)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for _, d := range devs {
		wg.Add(1)
		go func(d *testDevice) {
			defer wg.Done()
			raw, _ := d.first().Bytes(true)
			st, body := d.post(raw)
			m, err := syncml.Parse(body)
			if st != 200 || err != nil {
				errs <- "bad reply"
				return
			}
			cmds := commandsOf(m)
			if len(cmds) != 1 {
				errs <- "wrong command count"
				return
			}
			b := d.next()
			b.Status("1", cmds[0], 200)
			raw, _ = b.Bytes(true)
			if st, _ := d.post(raw); st != 200 {
				errs <- "bad second reply"
			}
		}(d)
	}
	// One device, two simultaneous sessions over two connections.
	same := ts.enroll("FEEDFACEFEEDFACEFEEDFACEFEEDFACE")
	for i := 0; i < 4; i++ {
		ts.queue(same.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})
	}
	other := &testDevice{ts: ts, id: same.id, cert: same.cert, key: same.key, session: 100}
	other.reconnect()
	got := make([][]syncml.Command, 2)
	for i, d := range []*testDevice{same, other} {
		wg.Add(1)
		go func(i int, d *testDevice) {
			defer wg.Done()
			raw, _ := d.first().Bytes(true)
			_, body := d.post(raw)
			m, err := syncml.Parse(body)
			if err != nil {
				errs <- "same-device reply: " + err.Error()
				return
			}
			got[i] = commandsOf(m)
		}(i, d)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(got[0]) + len(got[1]); n != 4 || (len(got[0]) != 0 && len(got[1]) != 0) {
		t.Fatalf("two sessions of one device took %d and %d commands; want all 4 in exactly one", len(got[0]), len(got[1]))
	}
	for _, d := range devs {
		cmds, err := ts.app.Store.ListCommands(context.Background(), d.id)
		if err != nil || len(cmds) != 1 || cmds[0].State != store.CommandSucceeded || cmds[0].SentCount != 1 {
			t.Fatalf("device %s: %+v %v", d.id, cmds, err)
		}
	}
}

// Bad input gets the right answer and changes nothing.
func TestCheckinBadInput(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	dev := ts.enroll("AAAABBBBCCCCDDDDEEEEFFFF00001111")
	victim := ts.enroll("99998888777766665555444433332222")
	id := ts.queue(victim.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})

	syncHdrStatus := func(body []byte) int {
		m, err := syncml.Parse(body)
		if err != nil {
			t.Fatalf("reply is not SyncML: %v: %s", err, body)
		}
		code, _ := statusFor(m, "0")
		return code
	}
	t.Run("source is another device", func(t *testing.T) {
		b := dev.first()
		m := b.Message(true)
		m.Header.Source = victim.id // claims to be the victim
		raw, _ := m.Marshal()
		st, body := dev.post(raw)
		if st != 200 || syncHdrStatus(body) != syncml.StatusForbidden || len(commandsOf(mustParse(t, body))) != 0 {
			t.Fatalf("HTTP %d: %s", st, body)
		}
	})
	t.Run("unknown session continued", func(t *testing.T) {
		dev.session = 77
		raw, _ := syncml.NewBuilder(dev.header(2), 1).Bytes(true)
		if st, body := dev.post(raw); st != 200 || syncHdrStatus(body) != syncml.StatusBadRequest {
			t.Fatalf("HTTP %d: %s", st, body)
		}
	})
	t.Run("idle session continued", func(t *testing.T) {
		// A session that ended at its first message leaves no record; its SessionID
		// continued is refused as when it had one.
		raw, _ := dev.first().Bytes(true)
		if st, body := dev.post(raw); st != 200 || syncHdrStatus(body) != syncml.StatusOK || len(commandsOf(mustParse(t, body))) != 0 {
			t.Fatalf("idle session: HTTP %d: %s", st, body)
		}
		raw, _ = dev.next().Bytes(true)
		if st, body := dev.post(raw); st != 200 || syncHdrStatus(body) != syncml.StatusBadRequest {
			t.Fatalf("HTTP %d: %s", st, body)
		}
	})
	t.Run("repeated message answered from the stored reply", func(t *testing.T) {
		// The reply carries a command, so the session stays open and the same message again
		// is a retransmission (an ended session's MsgID 1 would start a new session).
		ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
		raw, _ := dev.first().Bytes(true)
		_, first := dev.post(raw)
		_, again := dev.post(raw)
		if string(first) != string(again) || len(commandsOf(mustParse(t, first))) != 1 {
			t.Fatalf("a repeated message got a different reply")
		}
	})
	t.Run("MsgID going backwards", func(t *testing.T) {
		raw, _ := dev.first().Bytes(true)
		dev.post(raw)
		b := dev.next()
		raw2, _ := b.Bytes(true)
		dev.post(raw2)
		// MsgID 1 again with a different body is a new session start; MsgID 1 → 3 → 2 is not.
		dev.msgID = 3
		r3, _ := dev.next().Bytes(true)
		if st, body := dev.post(r3); st != 200 || syncHdrStatus(body) != syncml.StatusBadRequest {
			t.Fatalf("skipped MsgID: HTTP %d: %s", st, body)
		}
	})
	t.Run("status for unknown CmdRef and results without a Get", func(t *testing.T) {
		dev.send(dev.first())
		b := dev.next()
		b.Status("1", syncml.Command{Verb: "Replace", CmdID: "42"}, 200)
		b.Results("1", syncml.Command{Verb: "Get", CmdID: "43"}, []syncml.Item{{Source: "./DevDetail/SwV", Data: "x"}})
		if m := dev.send(b); len(commandsOf(m)) != 0 {
			t.Fatalf("unexpected commands")
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		anon := &testDevice{ts: ts, id: victim.id}
		anon.client = ts.admin
		raw, _ := anon.first().Bytes(true)
		if st, _ := anon.post(raw); st != http.StatusUnauthorized {
			t.Fatalf("HTTP %d", st)
		}
	})
	t.Run("body over the size limit", func(t *testing.T) {
		big := make([]byte, syncml.DefaultMaxMessageBytes+10)
		if st, _ := dev.post(big); st != http.StatusRequestEntityTooLarge {
			t.Fatalf("HTTP %d", st)
		}
	})
	t.Run("malformed XML", func(t *testing.T) {
		if st, _ := dev.post([]byte("<SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr>")); st != http.StatusBadRequest {
			t.Fatalf("HTTP %d", st)
		}
	})
	t.Run("replaced certificate", func(t *testing.T) {
		old := &testDevice{ts: ts, id: dev.id, cert: dev.cert, key: dev.key}
		old.reconnect()
		ts.enroll(dev.id) // re-enrollment replaces (and revokes) the old certificate
		raw, _ := old.first().Bytes(true)
		if st, body := old.post(raw); st != 200 || syncHdrStatus(body) != syncml.StatusInvalidCredentials {
			t.Fatalf("HTTP %d: %s", st, body)
		}
	})
	if v := ts.command(victim.id, id); v.State != "queued" || v.SentCount != 0 {
		t.Fatalf("the victim's command moved: %+v", v)
	}
}

func mustParse(t *testing.T, b []byte) *syncml.Message {
	t.Helper()
	m, err := syncml.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
