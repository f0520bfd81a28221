package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// RunPolicy runs the conformance tests of the policy engine's storage: groups and members
// (existence, tenant isolation, cycles), the group list by name, versioned profiles with their raw JSON, assignments,
// the per-tenant policy version, snapshots, setting states inside check-ins, and concurrent
// policy writes of one tenant.
func RunPolicy(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Groups", func(t *testing.T) { testGroups(t, open) })
	t.Run("GroupNames", func(t *testing.T) { testGroupNames(t, open) })
	t.Run("GroupMembers", func(t *testing.T) { testGroupMembers(t, open) })
	t.Run("Profiles", func(t *testing.T) { testProfiles(t, open) })
	t.Run("SettingStates", func(t *testing.T) { testSettingStates(t, open) })
	t.Run("SettingStatesPaging", func(t *testing.T) { testSettingStatesPaging(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testPolicyConcurrent(t, open) })
	t.Run("TenantDelete", func(t *testing.T) { testPolicyTenantDelete(t, open) })
}

// policyFixture makes tenants a and b, a user and a device in each.
func policyFixture(t *testing.T, s store.Store) context.Context {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{"ta", "tb"} {
		must(t, "CreateTenant", s.CreateTenant(ctx, tenant(id, id+".example")))
		must(t, "CreateUser", s.CreateUser(ctx, store.User{TenantID: id, ID: "u-" + id, UPN: "u@" + id + ".example", CreatedAt: t0}))
		_, err := s.RegisterDevice(ctx, device(id, "d-"+id, "0"+id))
		must(t, "RegisterDevice", err)
	}
	return ctx
}

func version(t *testing.T, s store.Store, tenantID string) uint64 {
	t.Helper()
	v, err := s.PolicyVersion(context.Background(), tenantID)
	must(t, "PolicyVersion", err)
	return v
}

func testGroups(t *testing.T, open opener) {
	s := open(t)
	ctx := policyFixture(t, s)
	if v := version(t, s, "ta"); v != 0 {
		t.Fatalf("initial policy version %d", v)
	}
	for _, g := range []string{"g1", "g2", "g3"} {
		must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: "ta", ID: g, DisplayName: g}))
	}
	mustErr(t, "CreateGroup twice", s.CreateGroup(ctx, store.Group{TenantID: "ta", ID: "g1"}), store.ErrExists)
	mustErr(t, "CreateGroup in unknown tenant", s.CreateGroup(ctx, store.Group{TenantID: "nope", ID: "g1"}), store.ErrNotFound)
	if v := version(t, s, "ta"); v != 3 {
		t.Errorf("policy version after 3 groups = %d", v)
	}
	if v := version(t, s, "tb"); v != 0 {
		t.Errorf("tenant b's version moved: %d", v)
	}
	_, err := s.Group(ctx, "tb", "g1")
	mustErr(t, "Group of another tenant", err, store.ErrNotFound)
	gs, err := s.ListGroups(ctx, "ta")
	must(t, "ListGroups", err)
	if len(gs) != 3 || gs[0].ID != "g1" {
		t.Errorf("ListGroups = %+v", gs)
	}

	must(t, "AddMembers", s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberDevice, ID: "d-ta"}, store.Member{Kind: store.MemberUser, ID: "u-ta"}))
	must(t, "AddMembers again", s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberDevice, ID: "d-ta"}))
	must(t, "nest g1 in g2", s.AddMembers(ctx, "ta", "g2", store.Member{Kind: store.MemberGroup, ID: "g1"}))
	must(t, "nest g2 in g3", s.AddMembers(ctx, "ta", "g3", store.Member{Kind: store.MemberGroup, ID: "g2"}))
	mustErr(t, "cycle g3 in g1", s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberGroup, ID: "g3"}), store.ErrConflict)
	mustErr(t, "group in itself", s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberGroup, ID: "g1"}), store.ErrConflict)
	mustErr(t, "device of another tenant", s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberDevice, ID: "d-tb"}), store.ErrNotFound)
	mustErr(t, "user of another tenant", s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberUser, ID: "u-tb"}), store.ErrNotFound)
	mustErr(t, "unknown group", s.AddMembers(ctx, "ta", "nope", store.Member{Kind: store.MemberUser, ID: "u-ta"}), store.ErrNotFound)
	ms, err := s.Members(ctx, "ta", "g1")
	must(t, "Members", err)
	if len(ms) != 2 || ms[0] != (store.Member{Kind: store.MemberDevice, ID: "d-ta"}) || ms[1] != (store.Member{Kind: store.MemberUser, ID: "u-ta"}) {
		t.Errorf("Members(g1) = %+v", ms)
	}
	v := version(t, s, "ta")
	must(t, "RemoveMember", s.RemoveMember(ctx, "ta", "g1", store.Member{Kind: store.MemberUser, ID: "u-ta"}))
	mustErr(t, "RemoveMember twice", s.RemoveMember(ctx, "ta", "g1", store.Member{Kind: store.MemberUser, ID: "u-ta"}), store.ErrNotFound)
	if got := version(t, s, "ta"); got != v+1 {
		t.Errorf("version after RemoveMember = %d, want %d", got, v+1)
	}

	must(t, "CreateProfile", s.CreateProfile(ctx, store.Profile{TenantID: "ta", ID: "p1", Name: "p"}))
	must(t, "SetAssignments", s.SetAssignments(ctx, "ta", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "g2"}}))
	mustErr(t, "DeleteGroup while assigned", s.DeleteGroup(ctx, "ta", "g2"), store.ErrConflict)
	must(t, "DeleteGroup g1", s.DeleteGroup(ctx, "ta", "g1"))
	ms, err = s.Members(ctx, "ta", "g2")
	must(t, "Members(g2)", err)
	if len(ms) != 0 {
		t.Errorf("deleted group still a member of g2: %+v", ms)
	}
	mustErr(t, "DeleteGroup twice", s.DeleteGroup(ctx, "ta", "g1"), store.ErrNotFound)

	snap, err := s.PolicySnapshot(ctx, "ta")
	must(t, "PolicySnapshot", err)
	if snap.Version != version(t, s, "ta") || len(snap.Groups) != 2 || len(snap.Members["g3"]) != 1 || len(snap.Profiles) != 1 ||
		len(snap.Assignments["p1"]) != 1 || len(snap.UserIDs) != 1 || snap.UserIDs[0] != "u-ta" {
		t.Errorf("PolicySnapshot = %+v", snap)
	}
	other, err := s.PolicySnapshot(ctx, "tb")
	must(t, "PolicySnapshot(tb)", err)
	if len(other.Groups)+len(other.Profiles) != 0 {
		t.Errorf("tenant b sees tenant a's policy: %+v", other)
	}
}

func testProfiles(t *testing.T, open opener) {
	s := open(t)
	ctx := policyFixture(t, s)
	raw := json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x"}`)
	p := store.Profile{TenantID: "ta", ID: "p1", Kind: store.ProfileCustom, Name: "x", ScopeTags: []string{"0"}, Raw: raw,
		Settings: []store.ProfileSetting{{LocURI: "./Device/Vendor/MSFT/X", Format: "chr", Value: "v"}}}
	must(t, "CreateProfile", s.CreateProfile(ctx, p))
	mustErr(t, "CreateProfile twice", s.CreateProfile(ctx, p), store.ErrExists)
	got, err := s.Profile(ctx, "ta", "p1")
	must(t, "Profile", err)
	if got.Version != 1 || string(got.Raw) != string(raw) || len(got.Settings) != 1 || got.Settings[0].Value != "v" {
		t.Errorf("Profile = %+v", got)
	}
	_, err = s.Profile(ctx, "tb", "p1")
	mustErr(t, "Profile of another tenant", err, store.ErrNotFound)
	must(t, "UpdateProfile", s.UpdateProfile(ctx, "ta", "p1", func(p *store.Profile) error { p.Name = "y"; return nil }))
	mustErr(t, "UpdateProfile moving tenant", s.UpdateProfile(ctx, "ta", "p1", func(p *store.Profile) error { p.TenantID = "tb"; return nil }), store.ErrConflict)
	mustErr(t, "UpdateProfile error", s.UpdateProfile(ctx, "ta", "p1", func(*store.Profile) error { return errBoom }), errBoom)
	got, _ = s.Profile(ctx, "ta", "p1")
	if got.Version != 2 || got.Name != "y" {
		t.Errorf("after update: version %d name %q", got.Version, got.Name)
	}
	mustErr(t, "assign unknown group", s.SetAssignments(ctx, "ta", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "nope"}}), store.ErrNotFound)
	mustErr(t, "assign unknown profile", s.SetAssignments(ctx, "ta", "nope", nil), store.ErrNotFound)
	as := []store.Assignment{{Target: store.TargetAllDevices}}
	must(t, "SetAssignments", s.SetAssignments(ctx, "ta", "p1", as))
	gotAs, err := s.Assignments(ctx, "ta", "p1")
	must(t, "Assignments", err)
	if len(gotAs) != 1 || gotAs[0] != as[0] {
		t.Errorf("Assignments = %+v", gotAs)
	}
	list, err := s.ListProfiles(ctx, "ta")
	must(t, "ListProfiles", err)
	if len(list) != 1 {
		t.Errorf("ListProfiles = %d", len(list))
	}
	v := version(t, s, "ta")
	must(t, "DeleteProfile", s.DeleteProfile(ctx, "ta", "p1"))
	if version(t, s, "ta") != v+1 {
		t.Error("DeleteProfile did not bump the version")
	}
	_, err = s.Assignments(ctx, "ta", "p1")
	mustErr(t, "Assignments of a deleted profile", err, store.ErrNotFound)
	mustErr(t, "DeleteProfile twice", s.DeleteProfile(ctx, "ta", "p1"), store.ErrNotFound)
}

func testSettingStates(t *testing.T, open opener) {
	s := open(t)
	ctx := policyFixture(t, s)
	must(t, "CreateProfile", s.CreateProfile(ctx, store.Profile{TenantID: "ta", ID: "p1", Name: "p"}))
	pc, err := s.PolicyCheck(ctx, "d-ta")
	must(t, "PolicyCheck", err)
	if pc.Device.ID != "d-ta" || pc.HasResolved || pc.TenantVersion != 1 {
		t.Errorf("PolicyCheck = %+v", pc)
	}
	_, err = s.PolicyCheck(ctx, "nope")
	mustErr(t, "PolicyCheck of unknown device", err, store.ErrNotFound)
	for _, dev := range []string{"d-ta", "d-tb"} {
		err := s.Checkin(ctx, dev, func(tx store.DeviceTx) error {
			if _, ok, err := tx.DevicePolicy(); err != nil || ok {
				t.Errorf("DevicePolicy before any: %v %v", ok, err)
			}
			// The version PolicyCheck and PolicyVersion read, in the check-in's transaction.
			for tenant, want := range map[string]uint64{"ta": 1, "tb": 0, "no-such-tenant": 0} {
				if v, err := tx.PolicyVersion(tenant); err != nil || v != want {
					t.Errorf("PolicyVersion(%s) in a check-in of %s = %d, %v; want %d", tenant, dev, v, err, want)
				}
			}
			for _, uri := range []string{"./Device/Vendor/MSFT/B", "./Device/Vendor/MSFT/A"} {
				if err := tx.PutSettingState(store.SettingState{LocURI: uri, State: store.SettingPending, Value: dev, Sources: []string{"p1"}}); err != nil {
					return err
				}
			}
			if err := tx.PutSettingState(store.SettingState{DeviceID: "someone-else", LocURI: "./X"}); err == nil {
				t.Error("PutSettingState for another device accepted")
			}
			return tx.PutDevicePolicy(store.DevicePolicy{Version: 1, OSVersion: "10.0.1", ResolvedAt: t0})
		})
		must(t, "Checkin", err)
	}
	// A rolled-back check-in leaves nothing.
	err = s.Checkin(ctx, "d-ta", func(tx store.DeviceTx) error {
		if err := tx.DeleteSettingState("./Device/Vendor/MSFT/A"); err != nil {
			return err
		}
		return errBoom
	})
	mustErr(t, "rolled-back Checkin", err, errBoom)
	list, err := s.SettingStates(ctx, "d-ta")
	must(t, "SettingStates", err)
	if len(list) != 2 || list[0].LocURI != "./Device/Vendor/MSFT/A" || list[0].TenantID != "ta" || list[0].DeviceID != "d-ta" || list[0].Value != "d-ta" {
		t.Fatalf("SettingStates = %+v", list)
	}
	pc, err = s.PolicyCheck(ctx, "d-ta")
	must(t, "PolicyCheck", err)
	if !pc.HasResolved || pc.Resolved.Version != 1 || pc.Resolved.OSVersion != "10.0.1" {
		t.Errorf("PolicyCheck after resolution = %+v", pc)
	}
	var seen []store.SettingState
	must(t, "ListSettingStates", s.ListSettingStates(ctx, "tb", func(st store.SettingState) (bool, error) {
		seen = append(seen, st)
		return true, nil
	}))
	if len(seen) != 2 || seen[0].DeviceID != "d-tb" || seen[1].DeviceID != "d-tb" {
		t.Errorf("ListSettingStates(tb) = %+v", seen)
	}
	n := 0
	must(t, "ListSettingStates stop", s.ListSettingStates(ctx, "ta", func(store.SettingState) (bool, error) { n++; return false, nil }))
	if n != 1 {
		t.Errorf("ListSettingStates went on after false: %d", n)
	}
	must(t, "Checkin delete", s.Checkin(ctx, "d-ta", func(tx store.DeviceTx) error { return tx.DeleteSettingState("./Device/Vendor/MSFT/A") }))
	list, _ = s.SettingStates(ctx, "d-ta")
	if len(list) != 1 {
		t.Errorf("after delete: %+v", list)
	}
}
