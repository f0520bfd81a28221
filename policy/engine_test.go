package policy

import (
	"context"
	"fmt"
	"github.com/hellomdm/hellomdm/store/core"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/payload"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/syncml"
)

var now0 = time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t   *testing.T
	db  store.Store
	eng *Engine
	n   int
}

func newFixture(t *testing.T, osVersion string, edition int) *fixture {
	t.Helper()
	db, err := core.OpenBolt(filepath.Join(t.TempDir(), "p.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.CreateTenant(ctx, store.Tenant{ID: tenantID, DisplayName: "Contoso", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	_, err = db.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: tenantID, State: store.DeviceEnrolled, CertSerial: "01", OSVersion: osVersion, OSEdition: edition})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db}
	f.eng = NewEngine(WithIDs(func() string { f.n++; return fmt.Sprintf("id-%03d", f.n) }))
	return f
}

// deliveries are the store's command states as the engine sees them.
var deliveries = map[store.CommandState]Delivery{
	store.CommandQueued: DeliveryWaiting, store.CommandSent: DeliveryWaiting, store.CommandRetry: DeliveryRetry,
	store.CommandAccepted: DeliveryAccepted, store.CommandSucceeded: DeliverySucceeded, store.CommandFailed: DeliveryFailed,
	store.CommandCancelled: DeliveryCancelled, store.CommandUnknown: DeliveryUnknown,
}

func info(d store.Device) DeviceInfo {
	return DeviceInfo{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, OSVersion: d.OSVersion, OSEdition: d.OSEdition}
}

// write applies a plan in a check-in transaction, as the session engine does.
func write(tx store.DeviceTx, dev *store.Device, p Plan) error {
	for _, s := range p.Put {
		if err := tx.PutSettingState(s); err != nil {
			return err
		}
	}
	var cmds []store.Command
	for _, c := range p.Commands {
		cmds = append(cmds, store.Command{ID: c.ID, TenantID: dev.TenantID, DeviceID: dev.ID, Source: c.Source, Payload: payload.FromSyncML(c.Payload)})
	}
	if len(cmds) > 0 {
		if err := tx.Enqueue(cmds...); err != nil {
			return err
		}
	}
	if p.Resolved != nil {
		dev.PolicyDirty = false
		return tx.PutDevicePolicy(*p.Resolved)
	}
	return nil
}

// prepare reads what a check-in reads before its transaction: nil when the device is idle.
func (f *fixture) prepare() *Snapshot {
	f.t.Helper()
	ctx := context.Background()
	pc, err := f.db.PolicyCheck(ctx, "d1")
	if err != nil {
		f.t.Fatalf("PolicyCheck: %v", err)
	}
	c := Check{Device: info(pc.Device), Dirty: pc.Device.PolicyDirty, Resolved: pc.Resolved, HasResolved: pc.HasResolved, TenantVersion: pc.TenantVersion}
	if !c.Stale() {
		return nil
	}
	ps, err := f.db.PolicySnapshot(ctx, tenantID)
	if err != nil {
		f.t.Fatalf("PolicySnapshot: %v", err)
	}
	return NewSnapshot(ps, f.eng.Catalog())
}

func (f *fixture) profile(id string, assign []store.Assignment, settings ...store.ProfileSetting) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.db.CreateProfile(ctx, prof(id, settings...)); err != nil {
		f.t.Fatal(err)
	}
	if err := f.db.SetAssignments(ctx, tenantID, id, assign); err != nil {
		f.t.Fatal(err)
	}
}

// checkin runs Prepare and, when it found work, Reconcile; it returns the events.
func (f *fixture) checkin() (bool, []*audit.Event) {
	f.t.Helper()
	snap := f.prepare()
	if snap == nil {
		return false, nil
	}
	var evs []*audit.Event
	err := f.db.Checkin(context.Background(), "d1", func(tx store.DeviceTx) error {
		dev, err := tx.Device()
		if err != nil {
			return err
		}
		states, err := tx.SettingStates()
		if err != nil {
			return err
		}
		cmds := map[string]Delivery{}
		for _, id := range Awaited(states) {
			if c, err := tx.Command(id); err == nil {
				cmds[id] = deliveries[c.State]
			}
		}
		p, err := f.eng.Reconcile(snap, info(dev), states, cmds, now0)
		if err != nil {
			return err
		}
		evs = p.Events
		if err := write(tx, &dev, p); err != nil {
			return err
		}
		return tx.PutDevice(dev)
	})
	if err != nil {
		f.t.Fatalf("Reconcile: %v", err)
	}
	return true, evs
}

// answer records a device answer on a command and runs Outcome.
func (f *fixture) answer(id string, state store.CommandState, code int, results ...string) []*audit.Event {
	f.t.Helper()
	var evs []*audit.Event
	err := f.db.Checkin(context.Background(), "d1", func(tx store.DeviceTx) error {
		c, err := tx.Command(id)
		if err != nil {
			return err
		}
		c.State, c.StatusCode = state, code
		for _, r := range results {
			c.Results = append(c.Results, store.Item{Source: c.Payload.Items[0].Target, Data: r})
		}
		if err := tx.PutCommand(c); err != nil {
			return err
		}
		dev, _ := tx.Device()
		states, err := tx.SettingStates()
		if err != nil {
			return err
		}
		r := CommandResult{ID: c.ID, Source: c.Source, Payload: payload.ToSyncML(c.Payload), Delivery: deliveries[c.State], StatusCode: c.StatusCode,
			Results: payload.ItemsToSyncML(c.Results)}
		p := f.eng.Outcome(states, r, now0.Add(time.Minute))
		evs = p.Events
		return write(tx, &dev, p)
	})
	if err != nil {
		f.t.Fatalf("Outcome: %v", err)
	}
	return evs
}

func (f *fixture) open() []store.Command {
	f.t.Helper()
	var open []store.Command
	err := f.db.Checkin(context.Background(), "d1", func(tx store.DeviceTx) error {
		var err error
		open, err = tx.Open()
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return open
}

func (f *fixture) state(uri string) store.SettingState {
	f.t.Helper()
	list, err := f.db.SettingStates(context.Background(), "d1")
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range list {
		if s.LocURI == uri {
			return s
		}
	}
	f.t.Fatalf("no setting state for %s in %+v", uri, list)
	return store.SettingState{}
}

func TestReconcileWriteThenSucceeded(t *testing.T) {
	f := newFixture(t, modernOS, 4)
	f.profile("p1", []store.Assignment{allDevices}, set(pinURI, "bool", "true"))
	ran, evs := f.checkin()
	if !ran || len(evs) != 1 || evs[0].Kind != audit.KindSettingState || evs[0].Action != store.SettingPending {
		t.Fatalf("first check-in: ran %v, events %+v", ran, evs)
	}
	open := f.open()
	if len(open) != 2 {
		t.Fatalf("queued %d commands, want Replace + Get", len(open))
	}
	w, g := open[0], open[1]
	if w.Payload.Verb != syncml.VerbReplace || w.Payload.Items[0].Target != pinReal || w.Payload.Items[0].Meta == nil ||
		w.Payload.Items[0].Meta.Format != "bool" || w.Payload.Items[0].Data != "true" || w.Source != "policy:p1" {
		t.Errorf("write command = %+v", w)
	}
	if g.Payload.Verb != syncml.VerbGet || g.Payload.Items[0].Target != pinReal {
		t.Errorf("verify command = %+v", g.Payload)
	}
	if ran, _ := f.checkin(); ran {
		t.Error("second check-in is not idle")
	}
	evs = f.answer(w.ID, store.CommandSucceeded, 200)
	if st := f.state(pinReal); st.State != store.SettingSucceeded || len(evs) != 1 {
		t.Fatalf("after 200: %+v, events %d", st, len(evs))
	}
	var details map[string]any
	if err := jsonUnmarshal(evs[0].Details, &details); err != nil || details["from"] != "pending" || details["to"] != "succeeded" || details["locUri"] != pinReal {
		t.Errorf("event details %s", evs[0].Details)
	}
	f.answer(g.ID, store.CommandSucceeded, 200, "True")
	if st := f.state(pinReal); st.State != store.SettingSucceeded {
		t.Errorf("after matching Get: %+v", st)
	}
	// A change of the profile elsewhere bumps the version: the unchanged setting queues nothing.
	if err := f.db.UpdateProfile(context.Background(), tenantID, "p1", func(p *store.Profile) error { p.Description = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	if ran, evs := f.checkin(); !ran || len(evs) != 0 || len(f.open()) != 0 {
		t.Errorf("unchanged setting after version bump: ran %v, events %d, open %d", ran, len(evs), len(f.open()))
	}
}

func TestReconcileAcceptedWaitsForGet(t *testing.T) {
	tests := []struct {
		name      string
		got       string
		state     string
		errorCode int
	}{
		{name: "get matches", got: "true", state: store.SettingSucceeded},
		{name: "get mismatch", got: "false", state: store.SettingError, errorCode: MismatchCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, modernOS, 4)
			f.profile("p1", []store.Assignment{allDevices}, set(pinURI, "bool", "true"))
			f.checkin()
			open := f.open()
			f.answer(open[0].ID, store.CommandAccepted, 202)
			if st := f.state(pinReal); st.State != store.SettingPending {
				t.Fatalf("after 202: %s", st.State)
			}
			if evs := f.answer(open[1].ID, store.CommandSucceeded, 200); len(evs) != 0 || f.state(pinReal).State != store.SettingPending {
				t.Fatalf("Get status without results moved the state")
			}
			f.answer(open[1].ID, store.CommandSucceeded, 200, tt.got)
			st := f.state(pinReal)
			if st.State != tt.state || st.ErrorCode != tt.errorCode {
				t.Errorf("state %s/%d, want %s/%d", st.State, st.ErrorCode, tt.state, tt.errorCode)
			}
			if tt.errorCode == MismatchCode && !strings.HasPrefix(st.ErrorDetail, MismatchDetail) {
				t.Errorf("detail %q", st.ErrorDetail)
			}
		})
	}
}

func TestReconcileWriteError(t *testing.T) {
	f := newFixture(t, modernOS, 4)
	f.profile("p1", []store.Assignment{allDevices}, set(webURI, "chr", "a.com"))
	f.checkin()
	open := f.open()
	f.answer(open[0].ID, store.CommandFailed, 404)
	st := f.state(webURI)
	if st.State != store.SettingError || st.ErrorCode != 404 || st.ErrorDetail != "404: node not found on this device" {
		t.Fatalf("after 404: %+v", st)
	}
	f.answer(open[1].ID, store.CommandFailed, 404)
	if st := f.state(webURI); st.ErrorDetail != "404: node not found on this device" {
		t.Errorf("the verifying Get overwrote the write's error: %+v", st)
	}
	// Marking the device dirty resends the failed setting.
	if err := f.db.UpdateDevice(context.Background(), "d1", func(d *store.Device) error { d.PolicyDirty = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if ran, _ := f.checkin(); !ran || len(f.open()) != 2 || f.state(webURI).State != store.SettingPending {
		t.Errorf("resend to a failed device: ran %v, open %d", ran, len(f.open()))
	}
}

func TestReconcileRemoval(t *testing.T) {
	tests := []struct {
		name   string
		state  store.CommandState
		code   int
		want   string
		detail string
	}{
		{name: "delete succeeds", state: store.CommandSucceeded, code: 200, want: store.SettingRemoved},
		{name: "node already gone", state: store.CommandFailed, code: 404, want: store.SettingRemoved},
		{name: "device refuses", state: store.CommandFailed, code: 405, want: store.SettingError, detail: "refused to remove"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, modernOS, 4)
			f.profile("p1", []store.Assignment{allDevices}, set(pinURI, "bool", "true"))
			f.checkin()
			open := f.open()
			f.answer(open[0].ID, store.CommandSucceeded, 200)
			f.answer(open[1].ID, store.CommandSucceeded, 200, "true")
			if err := f.db.SetAssignments(context.Background(), tenantID, "p1", nil); err != nil {
				t.Fatal(err)
			}
			if ran, _ := f.checkin(); !ran {
				t.Fatal("unassignment did not trigger reconciliation")
			}
			open = f.open()
			if len(open) != 1 || open[0].Payload.Verb != syncml.VerbDelete || open[0].Payload.Items[0].Target != pinReal {
				t.Fatalf("queued %+v, want one Delete", open)
			}
			if st := f.state(pinReal); st.State != store.SettingPending || !st.Removing {
				t.Fatalf("while deleting: %+v", st)
			}
			f.answer(open[0].ID, tt.state, tt.code)
			st := f.state(pinReal)
			if st.State != tt.want || !strings.Contains(st.ErrorDetail, tt.detail) {
				t.Errorf("after Delete %d: %s %q, want %s %q", tt.code, st.State, st.ErrorDetail, tt.want, tt.detail)
			}
			f.profile("p2", nil, set(webURI, "chr", "a.com")) // bump the version again
			f.checkin()
			if n := len(f.open()); n != 0 {
				t.Errorf("%d commands queued after the removal settled", n)
			}
		})
	}
}

func TestReconcileConflictAndNotApplicable(t *testing.T) {
	f := newFixture(t, "10.0.14393.0", 101)
	f.profile("p1", []store.Assignment{allDevices}, set(webURI, "chr", "a.com"), set("./Vendor/MSFT/Foo/Bar", "chr", "x"))
	f.profile("p2", []store.Assignment{allDevices}, set("./Device/Vendor/MSFT/Foo/Bar", "chr", "y"))
	_, evs := f.checkin()
	if n := len(f.open()); n != 0 {
		t.Errorf("%d commands queued for a conflict and an inapplicable node", n)
	}
	if st := f.state("./Device/Vendor/MSFT/Foo/Bar"); st.State != store.SettingConflict || strings.Join(st.Sources, ",") != "p1,p2" {
		t.Errorf("conflict state %+v", st)
	}
	if st := f.state(webURI); st.State != store.SettingNotApplicable || st.ErrorDetail == "" {
		t.Errorf("not applicable state %+v", st)
	}
	if len(evs) != 2 {
		t.Errorf("%d events, want 2", len(evs))
	}
	// The device is upgraded: the OS version change alone triggers reconciliation.
	if err := f.db.UpdateDevice(context.Background(), "d1", func(d *store.Device) error { d.OSVersion, d.OSEdition = modernOS, 4; return nil }); err != nil {
		t.Fatal(err)
	}
	if ran, _ := f.checkin(); !ran || len(f.open()) != 2 {
		t.Errorf("after upgrade: ran %v, open %d", ran, len(f.open()))
	}
}

func TestReports(t *testing.T) {
	f := newFixture(t, modernOS, 4)
	f.profile("p1", []store.Assignment{allDevices}, set(pinURI, "bool", "true"), set(webURI, "chr", "a.com"))
	f.checkin()
	open := f.open()
	f.answer(open[0].ID, store.CommandSucceeded, 200)
	pr, err := ProfileReport(context.Background(), f.db, tenantID, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Counts[store.SettingSucceeded] != 1 || pr.Counts[store.SettingPending] != 1 || len(pr.Devices) != 1 || len(pr.Devices[0].Settings) != 2 {
		t.Errorf("profile report %+v", pr)
	}
	dr, err := DeviceReport(context.Background(), f.db, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(dr.Profiles, ",") != "p1" || len(dr.Settings) != 2 {
		t.Errorf("device report %+v", dr)
	}
}
