package storetest

import (
	"context"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// testPolicyTenantDelete checks that DeleteTenant takes the tenant's whole policy with it
// (groups, members both ways, profiles, assignments, setting states, the policy version), so
// a tenant created again with the same ID starts empty, and that another tenant's policy is
// untouched.
func testPolicyTenantDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := policyFixture(t, s)
	for _, tn := range []string{"ta", "tb"} {
		fillPolicy(t, ctx, s, tn)
	}
	vb := version(t, s, "tb")
	must(t, "retire", s.UpdateDevice(ctx, "d-ta", func(d *store.Device) error { d.State = store.DeviceRetired; return nil }))
	_, err := s.DeleteTenant(ctx, "ta")
	must(t, "DeleteTenant", err)

	must(t, "CreateTenant again", s.CreateTenant(ctx, tenant("ta", "ta.example")))
	if v := version(t, s, "ta"); v != 0 {
		t.Errorf("policy version of the re-created tenant = %d", v)
	}
	snap, err := s.PolicySnapshot(ctx, "ta")
	must(t, "PolicySnapshot", err)
	if len(snap.Groups)+len(snap.Members)+len(snap.Profiles)+len(snap.Assignments)+len(snap.UserIDs) != 0 {
		t.Errorf("the re-created tenant inherits policy: %+v", snap)
	}
	n := 0
	must(t, "ListSettingStates", s.ListSettingStates(ctx, "ta", func(store.SettingState) (bool, error) { n++; return true, nil }))
	if n != 0 {
		t.Errorf("the re-created tenant inherits %d setting states", n)
	}
	// Groups and users of the same IDs start without members or memberships.
	must(t, "CreateUser", s.CreateUser(ctx, store.User{TenantID: "ta", ID: "u-ta", UPN: "u@ta.example", CreatedAt: t0}))
	for _, g := range []string{"g1", "g2"} {
		must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: "ta", ID: g, DisplayName: g}))
		if ms, err := s.Members(ctx, "ta", g); err != nil || len(ms) != 0 {
			t.Errorf("members of re-created group %s: %v %v", g, ms, err)
		}
	}
	must(t, "CreateProfile", s.CreateProfile(ctx, store.Profile{TenantID: "ta", ID: "p1", Name: "p"}))
	if as, err := s.Assignments(ctx, "ta", "p1"); err != nil || len(as) != 0 {
		t.Errorf("assignments of the re-created profile: %v %v", as, err)
	}
	must(t, "DeleteGroup g2 (no longer assigned)", s.DeleteGroup(ctx, "ta", "g2"))

	other, err := s.PolicySnapshot(ctx, "tb")
	must(t, "PolicySnapshot(tb)", err)
	if other.Version != vb || len(other.Groups) != 2 || len(other.Members["g1"]) != 2 || len(other.Members["g2"]) != 1 ||
		len(other.Profiles) != 1 || len(other.Assignments["p1"]) != 1 {
		t.Errorf("the other tenant's policy after the delete: %+v", other)
	}
	list, err := s.SettingStates(ctx, "d-tb")
	if err != nil || len(list) != 1 {
		t.Errorf("the other tenant's setting states after the delete: %+v %v", list, err)
	}
}

// fillPolicy gives tenant tn (of policyFixture) two nested groups holding its user and
// device, an assigned profile and a setting state of its device.
func fillPolicy(t *testing.T, ctx context.Context, s store.Store, tn string) {
	t.Helper()
	for _, g := range []string{"g1", "g2"} {
		must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: tn, ID: g, DisplayName: g}))
	}
	must(t, "AddMembers", s.AddMembers(ctx, tn, "g1", store.Member{Kind: store.MemberUser, ID: "u-" + tn},
		store.Member{Kind: store.MemberDevice, ID: "d-" + tn}))
	must(t, "AddMembers", s.AddMembers(ctx, tn, "g2", store.Member{Kind: store.MemberGroup, ID: "g1"}))
	must(t, "CreateProfile", s.CreateProfile(ctx, store.Profile{TenantID: tn, ID: "p1", Name: "p"}))
	must(t, "SetAssignments", s.SetAssignments(ctx, tn, "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "g2"}}))
	must(t, "Checkin", s.Checkin(ctx, "d-"+tn, func(tx store.DeviceTx) error {
		return tx.PutSettingState(store.SettingState{LocURI: "./Device/Vendor/MSFT/X", State: store.SettingPending})
	}))
}
