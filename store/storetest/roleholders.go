package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// holders lists the tenant's admin role holders page by page (limit a page), each as
// "UPN role", with the pages' nexts.
func holders(t *testing.T, s store.Store, tenantID string, limit int, keep func(store.User) bool) (out, nexts []string) {
	t.Helper()
	after := ""
	for range 100 {
		page, next, err := s.ListRoleHoldersPage(t.Context(), tenantID, after, limit, 100, keep)
		must(t, "ListRoleHoldersPage", err)
		for _, u := range page {
			out = append(out, u.UPN+" "+u.AdminRole)
		}
		if next == "" {
			return out, nexts
		}
		nexts = append(nexts, next)
		after = next
	}
	t.Fatalf("ListRoleHoldersPage(%s) did not end", tenantID)
	return nil, nil
}

func wantHolders(t *testing.T, s store.Store, when, tenantID string, want ...string) {
	t.Helper()
	if got, _ := holders(t, s, tenantID, 2, nil); !slices.Equal(got, want) {
		t.Errorf("%s: holders of %s %q, want %q", when, tenantID, got, want)
	}
}

// userRoleHolders: the role holder list follows every user write (create with a role, grant,
// change, revoke, UPN rename including one only in case, delete, the tenant's deletion),
// pages in UPN order like the user list, applies keep, and never shows another tenant's.
func userRoleHolders(t *testing.T, s store.Store) {
	ctx := t.Context()
	grant := func(tenantID, id, role string, tags ...string) {
		t.Helper()
		must(t, "UpdateUser "+id, s.UpdateUser(ctx, tenantID, id, func(u *store.User) error {
			u.AdminRole, u.AdminScopeTags = role, tags
			return nil
		}))
	}
	for _, tn := range []string{"t1", "t10"} {
		must(t, "CreateTenant", s.CreateTenant(ctx, tenant(tn, tn+".example")))
	}
	for i, upn := range []string{"Dora@x.com", "bob@x.com", "alice@x.com", "carol@x.com", "eve@x.com"} {
		must(t, "CreateUser", s.CreateUser(ctx, user("t1", fmt.Sprintf("u%d", i), upn)))
	}
	boss := user("t10", "boss", "aaron@x.com")
	boss.AdminRole = store.RoleAdmin
	must(t, "CreateUser with a role", s.CreateUser(ctx, boss))
	wantHolders(t, s, "no role granted", "t1")
	wantHolders(t, s, "created with a role", "t10", "aaron@x.com admin")

	grant("t1", "u0", store.RoleReader, "paris")
	grant("t1", "u3", store.RoleOperator)
	grant("t1", "u4", store.RoleAdmin)
	grant("t1", "u4", store.RoleReader) // changed: one entry still
	wantHolders(t, s, "granted", "t1", "carol@x.com operator", "Dora@x.com reader", "eve@x.com reader")
	if _, nexts := holders(t, s, "t1", 2, nil); !slices.Equal(nexts, []string{"dora@x.com"}) {
		t.Errorf("pages of 2 end at %q, want [dora@x.com]", nexts)
	}
	paris := func(u store.User) bool { return slices.Contains(u.AdminScopeTags, "paris") }
	if got, _ := holders(t, s, "t1", 1, paris); !slices.Equal(got, []string{"Dora@x.com reader"}) {
		t.Errorf("holders keep accepts: %q", got)
	}
	page, next, err := s.ListRoleHoldersPage(ctx, "t1", "", 5, 1, nil)
	must(t, "ListRoleHoldersPage within 1", err)
	if len(page) != 1 || next != "carol@x.com" {
		t.Errorf("a page read within 1 holder: %d users, next %q; want 1, carol@x.com", len(page), next)
	}
	if _, _, err := s.ListRoleHoldersPage(ctx, "t1", "", 0, 10, nil); err == nil {
		t.Error("ListRoleHoldersPage with limit 0 did not fail")
	}

	must(t, "UpdateUser rename", s.UpdateUser(ctx, "t1", "u3", func(u *store.User) error { u.UPN = "zed@x.com"; return nil }))
	must(t, "UpdateUser case", s.UpdateUser(ctx, "t1", "u0", func(u *store.User) error { u.UPN = "DORA@x.com"; return nil }))
	grant("t1", "u4", "")
	wantHolders(t, s, "renamed and revoked", "t1", "DORA@x.com reader", "zed@x.com operator")
	_, err = s.DeleteUser(ctx, "t1", "u3")
	must(t, "DeleteUser", err)
	wantHolders(t, s, "holder deleted", "t1", "DORA@x.com reader")
	// A new user of the deleted holder's UPN holds no role.
	must(t, "CreateUser", s.CreateUser(ctx, user("t1", "u9", "zed@x.com")))
	wantHolders(t, s, "UPN given again", "t1", "DORA@x.com reader")

	_, err = s.DeleteTenant(ctx, "t1")
	must(t, "DeleteTenant", err)
	wantHolders(t, s, "tenant deleted", "t1")
	wantHolders(t, s, "other tenant deleted", "t10", "aaron@x.com admin")
	must(t, "CreateUser", s.CreateUser(ctx, user("t1", "u0", "dora@x.com")))
	wantHolders(t, s, "tenant's UPN given again", "t1")
}
