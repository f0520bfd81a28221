package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// auditOf lists the tenant's audit events of one kind for one device, in chain order.
func (e *env) auditOf(tenant string, kind audit.Kind, deviceID string) []audit.Event {
	e.t.Helper()
	var out []audit.Event
	err := e.app.Store.AuditEvents(context.Background(), tenant, 0, func(ev *audit.Event) (bool, error) {
		if ev.Kind == kind && ev.DeviceID == deviceID {
			out = append(out, *ev)
		}
		return true, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// MS-MDE2 renewal over the wire: the agent renews over mTLS with its current certificate,
// syncs with the new one, the old one is refused, and the tenant's audit log says so.
func TestRenewal(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		shape enroll.CSRShape
	}{
		{"Windows CSR (RSA, PKCS#7 signed with RSA)", enroll.CSRWindows},
		{"clean CSR (P-256)", enroll.CSRClean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
			e.enroll(a, "alice@contoso.com", tc.shape)
			did := a.Identity().DeviceID
			if _, err := a.Sync(ctx); err != nil {
				t.Fatalf("sync before renewal: %v", err)
			}
			old := tlsCertOf(t, a)

			if err := a.Renew(ctx); err != nil {
				t.Fatalf("renew: %v", err)
			}
			renewed := tlsCertOf(t, a)
			if renewed.Leaf.SerialNumber.Cmp(old.Leaf.SerialNumber) == 0 || renewed.Leaf.Subject.CommonName != did {
				t.Fatalf("renewed certificate %v serial %X, old serial %X", renewed.Leaf.Subject, renewed.Leaf.SerialNumber, old.Leaf.SerialNumber)
			}
			if _, err := a.Sync(ctx); err != nil {
				t.Fatalf("sync with the renewed certificate: %v", err)
			}
			d, err := e.app.Store.Device(ctx, did)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(d.CertSerial, renewed.Leaf.SerialNumber.Text(16)) {
				t.Errorf("server records serial %s, want %X", d.CertSerial, renewed.Leaf.SerialNumber)
			}

			for _, c := range []struct {
				name    string
				wantHdr int
				old     bool
			}{
				{"renewed certificate accepted", syncml.StatusOK, false},
				{"old certificate refused", syncml.StatusInvalidCredentials, true},
			} {
				cert := renewed
				if c.old {
					cert = old
				}
				httpStatus, hdr, err := e.checkin(cert, did)
				if err != nil || httpStatus != http.StatusOK || hdr != c.wantHdr {
					t.Errorf("%s: HTTP %d, SyncHdr %d, %v; want 200 and %d", c.name, httpStatus, hdr, err, c.wantHdr)
				}
			}

			evs := e.auditOf(contosoTenant, audit.KindRenewed, did)
			if len(evs) != 1 {
				t.Fatalf("%d %s events for %s, want 1", len(evs), audit.KindRenewed, did)
			}
			var details struct{ OldCertSerial, CertSerial string }
			if err := json.Unmarshal(evs[0].Details, &details); err != nil {
				t.Fatalf("details %s: %v", evs[0].Details, err)
			}
			if !strings.EqualFold(details.OldCertSerial, old.Leaf.SerialNumber.Text(16)) ||
				!strings.EqualFold(details.CertSerial, renewed.Leaf.SerialNumber.Text(16)) {
				t.Errorf("details %s; want old serial %X, new serial %X", evs[0].Details, old.Leaf.SerialNumber, renewed.Leaf.SerialNumber)
			}
		})
	}
	rep, err := audit.VerifyTenant(ctx, e.app.Store.AuditReader(), contosoTenant)
	if err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

// setting.state events come from the check-in path: a setting assigned to the device's group
// goes pending → succeeded as the device syncs, and to removed when the device leaves it.
func TestSettingStateAuditEvents(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRClean)
	did := a.Identity().DeviceID
	const pinSuffix = "/PassportForWork/" + contosoTenant + "/Policies/EnablePinRecovery"

	var g wire.Group
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups", map[string]string{"displayName": "WHfB pilot"}, &g); st != http.StatusCreated {
		t.Fatalf("creating group: HTTP %d", st)
	}
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups/"+g.ID+"/members", map[string]string{"id": did}, nil); st != http.StatusNoContent {
		t.Fatalf("adding the device: HTTP %d", st)
	}
	pin := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	e.assign("configurationPolicies", pin, groupTarget(g.ID))
	if evs := e.auditOf(contosoTenant, audit.KindSettingState, did); len(evs) != 0 {
		t.Fatalf("setting.state events before the device checked in: %+v", evs)
	}

	e.syncUntil(a, func() bool { return stateOf(e.settingStates(did), pinSuffix) == store.SettingSucceeded })
	if got := stateOf(e.settingStates(did), pinSuffix); got != store.SettingSucceeded {
		t.Fatalf("setting state %q, want succeeded", got)
	}
	if st := e.api(http.MethodDelete, "/tenants/"+contosoTenant+"/groups/"+g.ID+"/members/"+did, nil, nil); st != http.StatusNoContent {
		t.Fatalf("removing the device: HTTP %d", st)
	}
	e.syncUntil(a, func() bool { return stateOf(e.settingStates(did), pinSuffix) == store.SettingRemoved })

	type change struct{ From, To string }
	var changes []change
	for _, ev := range e.auditOf(contosoTenant, audit.KindSettingState, did) {
		if !strings.HasSuffix(ev.Subject.ID, pinSuffix) {
			continue
		}
		var d struct {
			From, To, LocURI string
		}
		if err := json.Unmarshal(ev.Details, &d); err != nil {
			t.Fatalf("details %s: %v", ev.Details, err)
		}
		if d.LocURI != ev.Subject.ID || ev.Action != d.To || ev.Actor.Type != audit.ActorSystem {
			t.Errorf("event %+v: details %s disagree with its subject, action or actor", ev, ev.Details)
		}
		changes = append(changes, change{d.From, d.To})
	}
	// Each wanted transition appears, in this order (others, e.g. succeeded → pending while
	// the Delete is out, may come between).
	want := []struct {
		name string
		ok   func(change) bool
	}{
		{"new setting → pending", func(c change) bool { return c.From == "" && c.To == store.SettingPending }},
		{"pending → succeeded", func(c change) bool { return c.From == store.SettingPending && c.To == store.SettingSucceeded }},
		{"→ removed", func(c change) bool { return c.From != store.SettingRemoved && c.To == store.SettingRemoved }},
	}
	i := 0
	for _, c := range changes {
		if i < len(want) && want[i].ok(c) {
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("setting.state transitions %+v: no %q after the earlier ones", changes, want[i].name)
	}
}
