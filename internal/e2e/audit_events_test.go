package e2e

import (
	"context"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
)

// The enrollment and sign-in kinds of audit event are written by the code paths that cause
// them, over the wire: a real enrollment, a refused enrollment (wrong password), a sign-in
// through the identity provider (Federated enrollment), a refused sign-in, and an admin
// retire.
func TestAuditEventsFromEnrollmentAndSignIn(t *testing.T) {
	e := start(t)
	ctx := context.Background()

	ok := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(ok, "alice@contoso.com", enroll.CSRWindows)

	bad := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	if err := bad.Enroll(ctx, enroll.Request{ServerURL: e.url, UPN: "alice@contoso.com", Password: "wrong", RootCAs: e.app.CA.Pool()}); err == nil {
		t.Fatal("enrollment with a wrong password succeeded")
	}

	fed := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionEnterprise))
	e.enroll(fed, "bob@fabrikam.com", enroll.CSRClean)
	refused := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionEnterprise))
	if err := refused.Enroll(ctx, enroll.Request{ServerURL: e.url, UPN: "bob@fabrikam.com", Password: "wrong", RootCAs: e.app.CA.Pool()}); err == nil {
		t.Fatal("federated enrollment with a wrong password succeeded")
	}
	if st := e.api("POST", "/tenants/"+contosoTenant+"/devices/"+ok.Identity().DeviceID+"/retire", nil, nil); st != 200 {
		t.Fatalf("retire: HTTP %d", st)
	}

	kinds := func(tenant string) map[audit.Kind][]*audit.Event {
		out := map[audit.Kind][]*audit.Event{}
		err := e.app.Store.AuditEvents(ctx, tenant, 0, func(ev *audit.Event) (bool, error) {
			c := *ev
			out[ev.Kind] = append(out[ev.Kind], &c)
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	contoso, fabrikam := kinds(contosoTenant), kinds(fabrikamTen)
	cases := []struct {
		name   string
		events map[audit.Kind][]*audit.Event
		kind   audit.Kind
		check  func(*audit.Event) bool
	}{
		{"enrolled", contoso, audit.KindEnrolled, func(ev *audit.Event) bool { return ev.DeviceID == ok.Identity().DeviceID }},
		{"enrollment refused: wrong password", contoso, audit.KindEnrollmentRefused, func(ev *audit.Event) bool { return ev.Actor.ID == "alice@contoso.com" }},
		{"retired by an admin", contoso, audit.KindRetired, func(ev *audit.Event) bool { return ev.Subject.ID == ok.Identity().DeviceID }},
		{"federated enrollment", fabrikam, audit.KindEnrolled, func(ev *audit.Event) bool { return ev.DeviceID == fed.Identity().DeviceID }},
		{"sign-in at the identity provider", fabrikam, audit.KindSignIn, func(ev *audit.Event) bool { return ev.Actor.ID == "bob@fabrikam.com" }},
		{"refused sign-in", fabrikam, audit.KindAuthRefused, func(ev *audit.Event) bool { return ev.Actor.ID == "bob@fabrikam.com" && ev.Action == "signin" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, ev := range tc.events[tc.kind] {
				if tc.check(ev) {
					return
				}
			}
			t.Fatalf("no %s event matched (%d of that kind)", tc.kind, len(tc.events[tc.kind]))
		})
	}
	for _, tenant := range []string{contosoTenant, fabrikamTen} {
		rep, err := audit.VerifyTenant(ctx, e.app.Store.AuditReader(), tenant)
		if err != nil || !rep.OK() {
			t.Fatalf("tenant %s chain: %+v %v", tenant, rep, err)
		}
	}
}
