package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

func testTenants(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"CreateAndGet", tenantCreateAndGet},
		{"Missing", tenantMissing},
		{"DuplicateID", tenantDuplicateID},
		{"DuplicateDomainAcrossTenants", tenantDuplicateDomainAcrossTenants},
		{"ByDomainCaseInsensitive", tenantByDomainCaseInsensitive},
		{"Delete", tenantDelete},
		{"Update", tenantUpdate},
		{"UpdateToTakenDomain", tenantUpdateToTakenDomain},
		{"UpdateFnError", tenantUpdateFnError},
		{"UpdateMissing", tenantUpdateMissing},
		{"List", tenantList},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func tenantCreateAndGet(t *testing.T, s store.Store) {
	want := tenant("t1", "contoso.com")
	must(t, "CreateTenant", s.CreateTenant(t.Context(), want))
	got, err := s.Tenant(t.Context(), "t1")
	must(t, "Tenant", err)
	if got.ID != want.ID || got.DisplayName != want.DisplayName || !slices.Equal(got.VerifiedDomains, want.VerifiedDomains) ||
		got.AuthPolicy != want.AuthPolicy || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("Tenant = %+v, want %+v", got, want)
	}
}

func tenantMissing(t *testing.T, s store.Store) {
	_, err := s.Tenant(t.Context(), "nope")
	mustErr(t, "Tenant", err, store.ErrNotFound)
}

func tenantDuplicateID(t *testing.T, s store.Store) {
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "a.com")))
	mustErr(t, "CreateTenant again", s.CreateTenant(t.Context(), tenant("t1", "b.com")), store.ErrExists)
	_, err := s.TenantByDomain(t.Context(), "b.com")
	mustErr(t, "TenantByDomain of the refused tenant", err, store.ErrNotFound)
}

func tenantDuplicateDomainAcrossTenants(t *testing.T, s store.Store) {
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "contoso.com")))
	mustErr(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t2", "other.com", "CONTOSO.com")), store.ErrExists)
	_, err := s.Tenant(t.Context(), "t2")
	mustErr(t, "Tenant of the refused tenant", err, store.ErrNotFound)
	_, err = s.TenantByDomain(t.Context(), "other.com")
	mustErr(t, "TenantByDomain of the refused tenant", err, store.ErrNotFound)
}

func tenantByDomainCaseInsensitive(t *testing.T, s store.Store) {
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "contoso.com", "fabrikam.com")))
	for _, dom := range []string{"contoso.com", "CONTOSO.COM", "Fabrikam.Com"} {
		got, err := s.TenantByDomain(t.Context(), dom)
		must(t, "TenantByDomain "+dom, err)
		if got.ID != "t1" {
			t.Fatalf("TenantByDomain(%s) = %s, want t1", dom, got.ID)
		}
	}
	_, err := s.TenantByDomain(t.Context(), "unknown.com")
	mustErr(t, "TenantByDomain unknown", err, store.ErrNotFound)
}

func tenantDelete(t *testing.T, s store.Store) {
	// Refused while a device is enrolled; once it is retired the tenant goes with its
	// domains, users, groups, tokens and keys, and keeps its audit chain and the
	// retired device. Another tenant (t10, whose keys share a prefix) is untouched.
	ctx := t.Context()
	for _, tn := range []string{"t1", "t10"} {
		must(t, "CreateTenant", s.CreateTenant(ctx, tenant(tn, tn+".example")))
		must(t, "CreateUser", s.CreateUser(ctx, user(tn, "u1", "alice@"+tn+".example")))
		must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: tn, ID: "g1", DisplayName: "g1"}))
		must(t, "AddMembers", s.AddMembers(ctx, tn, "g1", store.Member{Kind: store.MemberUser, ID: "u1"}))
		must(t, "CreateToken", s.CreateToken(ctx, store.AdminToken{ID: "tok-" + tn, Hash: "hash-" + tn, Role: store.RoleAdmin, TenantID: tn, CreatedAt: t0}))
		must(t, "PutConfig", s.PutConfig(ctx, store.ConfigTenantPrefix(tn)+"signing-key", []byte("k")))
		_, err := s.RegisterDevice(ctx, device(tn, "d-"+tn, "0A"+tn[1:]))
		must(t, "RegisterDevice", err)
		must(t, "AppendAudit", s.AppendAudit(ctx, event(tn, t0, "before")))
	}
	must(t, "CreateToken", s.CreateToken(ctx, store.AdminToken{ID: "tok-global", Hash: "hash-global", Role: store.RoleAdmin, CreatedAt: t0}))
	_, err := s.DeleteTenant(ctx, "t1")
	mustErr(t, "DeleteTenant with an enrolled device", err, store.ErrConflict)
	if _, err := s.User(ctx, "t1", "u1"); err != nil {
		t.Fatalf("a refused delete removed a user: %v", err)
	}
	_, err = s.DeleteTenant(ctx, "nope")
	mustErr(t, "DeleteTenant unknown", err, store.ErrNotFound)
	must(t, "retire", s.UpdateDevice(ctx, "d-t1", func(d *store.Device) error { d.State = store.DeviceRetired; return nil }))
	got, err := s.DeleteTenant(ctx, "t1")
	must(t, "DeleteTenant", err)
	if got.ID != "t1" {
		t.Fatalf("DeleteTenant returned %+v", got)
	}
	_, err = s.Tenant(ctx, "t1")
	mustErr(t, "Tenant after delete", err, store.ErrNotFound)
	_, err = s.TenantByDomain(ctx, "t1.example")
	mustErr(t, "TenantByDomain after delete", err, store.ErrNotFound)
	_, err = s.User(ctx, "t1", "u1")
	mustErr(t, "User after delete", err, store.ErrNotFound)
	_, err = s.UserByUPN(ctx, "t1", "alice@t1.example")
	mustErr(t, "UserByUPN after delete", err, store.ErrNotFound)
	_, err = s.Group(ctx, "t1", "g1")
	mustErr(t, "Group after delete", err, store.ErrNotFound)
	if ms, err := s.Members(ctx, "t1", "g1"); err == nil && len(ms) != 0 {
		t.Fatalf("members after delete: %v", ms)
	}
	_, err = s.TokenByHash(ctx, "hash-t1")
	mustErr(t, "TokenByHash after delete", err, store.ErrNotFound)
	_, err = s.GetConfig(ctx, store.ConfigTenantPrefix("t1")+"signing-key")
	mustErr(t, "GetConfig after delete", err, store.ErrNotFound)
	if evs := auditEvents(t, s, "t1", 0); len(evs) == 0 {
		t.Fatal("the deleted tenant's audit chain is gone")
	}
	if d, err := s.Device(ctx, "d-t1"); err != nil || d.State != store.DeviceRetired {
		t.Fatalf("the retired device after delete: %+v %v", d, err)
	}
	// The other tenant and the global token are untouched.
	for _, check := range []func() error{
		func() error { _, err := s.Tenant(ctx, "t10"); return err },
		func() error { _, err := s.TenantByDomain(ctx, "t10.example"); return err },
		func() error { _, err := s.User(ctx, "t10", "u1"); return err },
		func() error { _, err := s.Group(ctx, "t10", "g1"); return err },
		func() error { _, err := s.TokenByHash(ctx, "hash-t10"); return err },
		func() error { _, err := s.TokenByHash(ctx, "hash-global"); return err },
		func() error { _, err := s.GetConfig(ctx, store.ConfigTenantPrefix("t10")+"signing-key"); return err },
	} {
		must(t, "the other tenant after delete", check())
	}
	if ms, err := s.Members(ctx, "t10", "g1"); err != nil || len(ms) != 1 {
		t.Fatalf("t10's members after delete: %v %v", ms, err)
	}
	// The domain is free again.
	must(t, "CreateTenant with the freed domain", s.CreateTenant(ctx, tenant("t2", "t1.example")))
}

func tenantUpdate(t *testing.T, s store.Store) {
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "old.com")))
	err := s.UpdateTenant(t.Context(), "t1", func(tn *store.Tenant) error {
		tn.DisplayName = "Renamed"
		tn.VerifiedDomains = []string{"new.com"}
		tn.AuthPolicy = store.AuthFederated
		return nil
	})
	must(t, "UpdateTenant", err)
	got, err := s.TenantByDomain(t.Context(), "NEW.com")
	must(t, "TenantByDomain new", err)
	if got.DisplayName != "Renamed" || got.AuthPolicy != store.AuthFederated {
		t.Fatalf("updated tenant = %+v", got)
	}
	_, err = s.TenantByDomain(t.Context(), "old.com")
	mustErr(t, "TenantByDomain old", err, store.ErrNotFound)
}

func tenantUpdateToTakenDomain(t *testing.T, s store.Store) {
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "one.com")))
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t2", "two.com")))
	err := s.UpdateTenant(t.Context(), "t2", func(tn *store.Tenant) error {
		tn.DisplayName = "changed"
		tn.VerifiedDomains = append(tn.VerifiedDomains, "One.com")
		return nil
	})
	mustErr(t, "UpdateTenant", err, store.ErrExists)
	got, err := s.Tenant(t.Context(), "t2")
	must(t, "Tenant", err)
	if got.DisplayName == "changed" {
		t.Fatal("refused update was stored")
	}
	if owner, _ := s.TenantByDomain(t.Context(), "one.com"); owner.ID != "t1" {
		t.Fatalf("one.com moved to %q", owner.ID)
	}
}

func tenantUpdateFnError(t *testing.T, s store.Store) {
	must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant("t1", "a.com")))
	err := s.UpdateTenant(t.Context(), "t1", func(tn *store.Tenant) error {
		tn.DisplayName = "changed"
		return errBoom
	})
	mustErr(t, "UpdateTenant", err, errBoom)
	if got, _ := s.Tenant(t.Context(), "t1"); got.DisplayName == "changed" {
		t.Fatal("aborted update was stored")
	}
}

func tenantUpdateMissing(t *testing.T, s store.Store) {
	err := s.UpdateTenant(t.Context(), "nope", func(*store.Tenant) error { return nil })
	mustErr(t, "UpdateTenant", err, store.ErrNotFound)
}

func tenantList(t *testing.T, s store.Store) {
	for _, id := range []string{"t3", "t1", "t2"} {
		must(t, "CreateTenant", s.CreateTenant(t.Context(), tenant(id, id+".example")))
	}
	got, err := s.ListTenants(t.Context())
	must(t, "ListTenants", err)
	var ids []string
	for _, tn := range got {
		ids = append(ids, tn.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"t1", "t2", "t3"}) {
		t.Fatalf("ListTenants IDs = %v", ids)
	}
}

func user(tenantID, id, upn string) store.User {
	return store.User{TenantID: tenantID, ID: id, UPN: upn, DisplayName: id, PasswordHash: "$argon2id$x", CreatedAt: t0}
}

func testUsers(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"CreateAndGet", userCreateAndGet},
		{"DuplicateID", userDuplicateID},
		{"DuplicateUPNCaseInsensitive", userDuplicateUPNCaseInsensitive},
		{"ByUPNCaseInsensitive", userByUPNCaseInsensitive},
		{"UpdateUPN", userUpdateUPN},
		{"UpdateToTakenUPN", userUpdateToTakenUPN},
		{"UpdateFnErrorAndMissing", userUpdateFnErrorAndMissing},
		{"Delete", userDelete},
		{"ListByTenant", userListByTenant},
		{"ListPage", userListPage},
		{"RoleHolders", userRoleHolders},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func userCreateAndGet(t *testing.T, s store.Store) {
	want := user("t1", "u1", "alice@contoso.com")
	want.TOTPSecret = []byte{1, 2, 3}
	must(t, "CreateUser", s.CreateUser(t.Context(), want))
	got, err := s.User(t.Context(), "t1", "u1")
	must(t, "User", err)
	if got.UPN != want.UPN || got.PasswordHash != want.PasswordHash || !slices.Equal(got.TOTPSecret, want.TOTPSecret) {
		t.Fatalf("User = %+v, want %+v", got, want)
	}
	_, err = s.User(t.Context(), "t2", "u1")
	mustErr(t, "User in another tenant", err, store.ErrNotFound)
}

func userDuplicateID(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "a@x.com")))
	mustErr(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "b@x.com")), store.ErrExists)
	_, err := s.UserByUPN(t.Context(), "t1", "b@x.com")
	mustErr(t, "UserByUPN of the refused user", err, store.ErrNotFound)
}

func userDuplicateUPNCaseInsensitive(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "alice@contoso.com")))
	mustErr(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u2", "ALICE@contoso.com")), store.ErrExists)
	_, err := s.User(t.Context(), "t1", "u2")
	mustErr(t, "User of the refused user", err, store.ErrNotFound)
	must(t, "CreateUser same UPN in another tenant", s.CreateUser(t.Context(), user("t2", "u2", "alice@contoso.com")))
}

func userByUPNCaseInsensitive(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "Alice@Contoso.com")))
	for _, upn := range []string{"alice@contoso.com", "ALICE@CONTOSO.COM", "Alice@Contoso.com"} {
		got, err := s.UserByUPN(t.Context(), "t1", upn)
		must(t, "UserByUPN "+upn, err)
		if got.ID != "u1" {
			t.Fatalf("UserByUPN(%s) = %s", upn, got.ID)
		}
	}
	_, err := s.UserByUPN(t.Context(), "t2", "alice@contoso.com")
	mustErr(t, "UserByUPN in another tenant", err, store.ErrNotFound)
}

func userUpdateUPN(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "old@x.com")))
	must(t, "UpdateUser", s.UpdateUser(t.Context(), "t1", "u1", func(u *store.User) error {
		u.UPN = "new@x.com"
		u.TOTPLastStep = 42
		return nil
	}))
	got, err := s.UserByUPN(t.Context(), "t1", "NEW@x.com")
	must(t, "UserByUPN new", err)
	if got.TOTPLastStep != 42 {
		t.Fatalf("TOTPLastStep = %d", got.TOTPLastStep)
	}
	_, err = s.UserByUPN(t.Context(), "t1", "old@x.com")
	mustErr(t, "UserByUPN old", err, store.ErrNotFound)
}

func userUpdateToTakenUPN(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "a@x.com")))
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u2", "b@x.com")))
	err := s.UpdateUser(t.Context(), "t1", "u2", func(u *store.User) error { u.UPN = "A@x.com"; return nil })
	mustErr(t, "UpdateUser", err, store.ErrExists)
	got, err := s.UserByUPN(t.Context(), "t1", "b@x.com")
	must(t, "UserByUPN", err)
	if got.ID != "u2" {
		t.Fatalf("b@x.com is %s", got.ID)
	}
}

func userUpdateFnErrorAndMissing(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "a@x.com")))
	err := s.UpdateUser(t.Context(), "t1", "u1", func(u *store.User) error { u.DisplayName = "x"; return errBoom })
	mustErr(t, "UpdateUser", err, errBoom)
	if got, _ := s.User(t.Context(), "t1", "u1"); got.DisplayName == "x" {
		t.Fatal("aborted update was stored")
	}
	err = s.UpdateUser(t.Context(), "t1", "nope", func(*store.User) error { return nil })
	mustErr(t, "UpdateUser missing", err, store.ErrNotFound)
}

func userDelete(t *testing.T, s store.Store) {
	// A deleted user is gone with its UPN, TOTP secret, group memberships and failed
	// sign-in window; another tenant's user of the same UPN is untouched, and the UPN
	// can be given to a new user.
	ctx := t.Context()
	for _, tn := range []string{"t1", "t2"} {
		must(t, "CreateTenant", s.CreateTenant(ctx, tenant(tn, tn+".example")))
		u := user(tn, "u1", "Alice@x.com")
		u.TOTPSecret = []byte{1, 2, 3}
		must(t, "CreateUser", s.CreateUser(ctx, u))
		must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: tn, ID: "g1", DisplayName: "g1"}))
		must(t, "AddMembers", s.AddMembers(ctx, tn, "g1", store.Member{Kind: store.MemberUser, ID: "u1"}))
	}
	_, _, err := s.RecordFailedSignIn(ctx, "alice@x.com", t0, time.Hour)
	must(t, "RecordFailedSignIn", err)
	v := version(t, s, "t1")
	got, err := s.DeleteUser(ctx, "t1", "u1")
	must(t, "DeleteUser", err)
	if got.ID != "u1" || got.UPN != "Alice@x.com" {
		t.Fatalf("DeleteUser returned %+v", got)
	}
	_, err = s.User(ctx, "t1", "u1")
	mustErr(t, "User after delete", err, store.ErrNotFound)
	_, err = s.UserByUPN(ctx, "t1", "alice@x.com")
	mustErr(t, "UserByUPN after delete", err, store.ErrNotFound)
	if ms, err := s.Members(ctx, "t1", "g1"); err != nil || len(ms) != 0 {
		t.Fatalf("members of t1/g1 after delete: %v %v", ms, err)
	}
	if nv := version(t, s, "t1"); nv <= v {
		t.Fatalf("policy version %d after delete, was %d", nv, v)
	}
	if n, _, err := s.FailedSignIns(ctx, "alice@x.com", t0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("failed sign-ins after delete: %d %v", n, err)
	}
	if other, err := s.User(ctx, "t2", "u1"); err != nil || len(other.TOTPSecret) == 0 {
		t.Fatalf("t2's user after t1's delete: %+v %v", other, err)
	}
	if ms, err := s.Members(ctx, "t2", "g1"); err != nil || len(ms) != 1 {
		t.Fatalf("members of t2/g1 after t1's delete: %v %v", ms, err)
	}
	_, err = s.DeleteUser(ctx, "t1", "u1")
	mustErr(t, "DeleteUser again", err, store.ErrNotFound)
	must(t, "CreateUser with the freed UPN", s.CreateUser(ctx, user("t1", "u9", "alice@x.com")))
	again, err := s.User(ctx, "t1", "u9")
	must(t, "User of the new user", err)
	if len(again.TOTPSecret) != 0 {
		t.Fatalf("the new user inherited a TOTP secret")
	}
}

func userListByTenant(t *testing.T, s store.Store) {
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u1", "a@x.com")))
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", "u2", "b@x.com")))
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t10", "u3", "c@x.com")))
	got, err := s.ListUsers(t.Context(), "t1")
	must(t, "ListUsers", err)
	var ids []string
	for _, u := range got {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"u1", "u2"}) {
		t.Fatalf("ListUsers(t1) = %v", ids)
	}
}

// userListPage: pages follow the UPN order (case-insensitive), skip what keep refuses, say
// whether more follow, and never show another tenant's users.
func userListPage(t *testing.T, s store.Store) {
	for i, upn := range []string{"Dora@x.com", "bob@x.com", "alice@x.com", "carol@x.com", "eve@x.com"} {
		must(t, "CreateUser", s.CreateUser(t.Context(), user("t1", fmt.Sprintf("u%d", i), upn)))
	}
	must(t, "CreateUser", s.CreateUser(t.Context(), user("t10", "other", "aaron@x.com")))
	notBob := func(u store.User) bool { return u.UPN != "bob@x.com" }
	none := func(store.User) bool { return false }
	cases := []struct {
		after         string
		limit, budget int
		keep          func(store.User) bool
		want          []string
		next          string
	}{
		{"", 2, 100, nil, []string{"alice@x.com", "bob@x.com"}, "bob@x.com"},
		{"bob@x.com", 2, 100, nil, []string{"carol@x.com", "Dora@x.com"}, "dora@x.com"},
		{"dora@x.com", 2, 100, nil, []string{"eve@x.com"}, ""},
		{"", 2, 100, notBob, []string{"alice@x.com", "carol@x.com"}, "carol@x.com"},
		{"carol@x.com", 5, 100, notBob, []string{"Dora@x.com", "eve@x.com"}, ""},
		{"", 5, 100, none, nil, ""},
		{"zz@x.com", 5, 100, nil, nil, ""},
		// The budget ends the read: the next page goes on after the last user read.
		{"", 5, 3, none, nil, "carol@x.com"},
		{"", 5, 2, notBob, []string{"alice@x.com"}, "bob@x.com"},
		{"bob@x.com", 1, 2, nil, []string{"carol@x.com"}, "carol@x.com"},
	}
	for _, tc := range cases {
		got, next, err := s.ListUsersPage(t.Context(), "t1", tc.after, tc.limit, tc.budget, tc.keep)
		must(t, "ListUsersPage", err)
		var upns []string
		for _, u := range got {
			upns = append(upns, u.UPN)
		}
		if !slices.Equal(upns, tc.want) || next != tc.next {
			t.Errorf("ListUsersPage(t1, after %q, %d within %d) = %v, next %q; want %v, next %q", tc.after, tc.limit, tc.budget, upns, next, tc.want, tc.next)
		}
	}
	if _, _, err := s.ListUsersPage(t.Context(), "t1", "", 0, 10, nil); err == nil {
		t.Error("ListUsersPage with limit 0 did not fail")
	}
}
