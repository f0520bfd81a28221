package policy

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
	"github.com/hellomdm/hellomdm/syncml"
)

// These tests run the engine with no store: its inputs are values and its output a Plan.

func TestCheckStale(t *testing.T) {
	d := DeviceInfo{ID: "d1", TenantID: tenantID, UserID: "u1", OSVersion: modernOS, OSEdition: 4}
	at := model.DevicePolicy{Version: 3, OSVersion: modernOS, OSEdition: 4, UserID: "u1"}
	tests := []struct {
		name  string
		c     Check
		stale bool
	}{
		{"resolved at the tenant's version", Check{Device: d, Resolved: at, HasResolved: true, TenantVersion: 3}, false},
		{"dirty", Check{Device: d, Dirty: true, Resolved: at, HasResolved: true, TenantVersion: 3}, true},
		{"policy changed", Check{Device: d, Resolved: at, HasResolved: true, TenantVersion: 4}, true},
		{"OS upgraded", Check{Device: DeviceInfo{ID: "d1", UserID: "u1", OSVersion: "10.0.26100.1", OSEdition: 4}, Resolved: at, HasResolved: true, TenantVersion: 3}, true},
		{"edition changed", Check{Device: DeviceInfo{ID: "d1", UserID: "u1", OSVersion: modernOS, OSEdition: 48}, Resolved: at, HasResolved: true, TenantVersion: 3}, true},
		{"user changed", Check{Device: DeviceInfo{ID: "d1", UserID: "u2", OSVersion: modernOS, OSEdition: 4}, Resolved: at, HasResolved: true, TenantVersion: 3}, true},
		{"never resolved, tenant without policy", Check{Device: d}, false},
		{"never resolved, tenant with policy", Check{Device: d, TenantVersion: 1}, true},
		{"never resolved, dirty", Check{Device: d, Dirty: true}, true},
	}
	for _, tt := range tests {
		if got := tt.c.Stale(); got != tt.stale {
			t.Errorf("%s: Stale() = %v, want %v", tt.name, got, tt.stale)
		}
	}
}

// pureDevice is a device's confirmed state kept in memory: setting states and the delivery of
// each command the engine queued.
type pureDevice struct {
	info   DeviceInfo
	states []model.SettingState
	cmds   map[string]Delivery
}

func (d *pureDevice) apply(p Plan) {
	for _, s := range p.Put {
		i := slices.IndexFunc(d.states, func(o model.SettingState) bool { return o.LocURI == s.LocURI })
		if i < 0 {
			d.states = append(d.states, s)
		} else {
			d.states[i] = s
		}
	}
	for _, c := range p.Commands {
		d.cmds[c.ID] = DeliveryWaiting
	}
}

func (d *pureDevice) awaited() map[string]Delivery {
	out := map[string]Delivery{}
	for _, id := range Awaited(d.states) {
		if v, ok := d.cmds[id]; ok {
			out[id] = v
		}
	}
	return out
}

func TestReconcilePlan(t *testing.T) {
	n := 0
	e := NewEngine(WithIDs(func() string { n++; return fmt.Sprintf("id-%d", n) }))
	snap := NewSnapshot(model.PolicySnapshot{TenantID: tenantID, Version: 7,
		Profiles:    []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
		Assignments: map[string][]model.Assignment{"p1": {allDevices}}}, csp.Default())
	d := &pureDevice{info: DeviceInfo{ID: "d1", TenantID: tenantID, OSVersion: modernOS, OSEdition: 4}, cmds: map[string]Delivery{}}

	p, err := e.Reconcile(snap, d.info, nil, nil, now0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Commands) != 2 || p.Commands[0].Payload.Verb != syncml.VerbReplace || p.Commands[1].Payload.Verb != syncml.VerbGet ||
		p.Commands[0].Source != "policy:p1" || p.Commands[0].Payload.Items[0].Target != pinReal {
		t.Fatalf("commands %+v, want Replace + Get of %s from policy:p1", p.Commands, pinReal)
	}
	if len(p.Put) != 1 || p.Put[0].State != model.SettingPending || p.Put[0].WriteCommandID != p.Commands[0].ID ||
		p.Put[0].VerifyCommandID != p.Commands[1].ID || p.Put[0].TenantID != tenantID || p.Put[0].DeviceID != "d1" || !p.Put[0].LastChanged.Equal(now0) {
		t.Fatalf("put %+v", p.Put)
	}
	if p.Resolved == nil || p.Resolved.Version != 7 || p.Resolved.OSVersion != modernOS || !p.Resolved.ResolvedAt.Equal(now0) {
		t.Fatalf("resolved %+v", p.Resolved)
	}
	if len(p.Events) != 1 || p.Events[0].Action != model.SettingPending || p.Events[0].DeviceID != "d1" {
		t.Fatalf("events %+v", p.Events)
	}
	d.apply(p)

	// While the write is on its way, nothing is planned but the resolution.
	if got := Awaited(d.states); !slices.Equal(got, []string{p.Commands[0].ID, p.Commands[1].ID}) {
		t.Fatalf("Awaited = %v", got)
	}
	again, err := e.Reconcile(snap, d.info, d.states, d.awaited(), now0)
	if err != nil || len(again.Commands) != 0 || len(again.Put) != 0 || len(again.Events) != 0 || again.Resolved == nil {
		t.Fatalf("second reconcile: %+v, %v", again, err)
	}
	// Commands that are gone (not found) or refused are sent again.
	for _, cmds := range []map[string]Delivery{nil, {p.Commands[0].ID: DeliveryFailed, p.Commands[1].ID: DeliveryCancelled}} {
		if re, _ := e.Reconcile(snap, d.info, d.states, cmds, now0); len(re.Commands) != 2 {
			t.Errorf("deliveries %v: %d commands planned, want the write and Get again", cmds, len(re.Commands))
		}
	}
	// Accepted (202) waits for the Get.
	acc := map[string]Delivery{p.Commands[0].ID: DeliveryAccepted, p.Commands[1].ID: DeliverySucceeded}
	if re, _ := e.Reconcile(snap, d.info, d.states, acc, now0); len(re.Commands) != 0 {
		t.Errorf("accepted write: %d commands planned", len(re.Commands))
	}

	// The write's 200 succeeds the setting; the outcome of another source plans nothing.
	ok := CommandResult{ID: p.Commands[0].ID, Source: p.Commands[0].Source, Payload: p.Commands[0].Payload, Delivery: DeliverySucceeded, StatusCode: 200}
	if out := e.Outcome(d.states, ok, now0); len(out.Put) != 1 || out.Put[0].State != model.SettingSucceeded || len(out.Events) != 1 || len(out.Commands) != 0 || out.Resolved != nil {
		t.Fatalf("outcome of the write: %+v", out)
	}
	admin := ok
	admin.Source = "admin:t1"
	if Follows(admin) || len(e.Outcome(d.states, admin, now0).Put) != 0 {
		t.Error("an admin command's outcome moved a setting state")
	}
	if !Follows(ok) {
		t.Error("Follows refuses the engine's own command")
	}
}

func TestReconcileOtherTenant(t *testing.T) {
	e := NewEngine()
	snap := NewSnapshot(model.PolicySnapshot{TenantID: "other", Version: 1}, csp.Default())
	_, err := e.Reconcile(snap, DeviceInfo{ID: "d1", TenantID: tenantID}, nil, nil, now0)
	if !errors.Is(err, ErrOtherTenant) {
		t.Fatalf("err = %v, want ErrOtherTenant", err)
	}
}
