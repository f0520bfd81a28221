package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// memberState is a group's members read page by page (pages of 2), its count, and which of
// check are members, in one string.
func memberState(t *testing.T, s store.Store, tenantID, groupID string, check ...store.Member) string {
	t.Helper()
	var ids []string
	count, after := -1, ""
	for range 100 {
		p, err := s.MembersPage(t.Context(), tenantID, groupID, after, 2)
		must(t, "MembersPage", err)
		if len(p.Members) > 2 || p.Next != "" && len(p.Members) != 2 {
			t.Fatalf("a page of 2 with %d members, next %q", len(p.Members), p.Next)
		}
		if count >= 0 && p.Count != count {
			t.Fatalf("the count moved between pages: %d then %d", count, p.Count)
		}
		count = p.Count
		for _, m := range p.Members {
			ids = append(ids, m.Kind[:1]+":"+m.ID)
		}
		if after = p.Next; after == "" {
			break
		}
	}
	among, err := s.MembersAmong(t.Context(), tenantID, groupID, check)
	must(t, "MembersAmong", err)
	return fmt.Sprint(count, ids, among)
}

// testGroupMembers: a group's member pages, count and membership check follow every
// membership write (adding, adding again, removing, deleting a member user or group, deleting the group, deleting the tenant), page by kind then ID from the skip
// point, stay within the tenant and the group (t1 and t10, g1 and g10: one prefix is not
// another's), and refuse a group that does not exist.
func testGroupMembers(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := func(id string) store.Member { return store.Member{Kind: store.MemberUser, ID: id} }
	g := func(id string) store.Member { return store.Member{Kind: store.MemberGroup, ID: id} }
	d := func(id string) store.Member { return store.Member{Kind: store.MemberDevice, ID: id} }
	for _, tn := range []string{"t1", "t10"} {
		must(t, "CreateTenant", s.CreateTenant(ctx, tenant(tn, tn+".example")))
		for _, id := range []string{"u1", "u2", "u3"} {
			must(t, "CreateUser", s.CreateUser(ctx, store.User{TenantID: tn, ID: id, UPN: id + "@" + tn + ".example", CreatedAt: t0}))
		}
		for _, id := range []string{"g1", "g10", "g2"} {
			must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: tn, ID: id, DisplayName: id}))
		}
	}
	_, err := s.RegisterDevice(ctx, device("t1", "d1", "01"))
	must(t, "RegisterDevice", err)
	must(t, "AddMembers", s.AddMembers(ctx, "t1", "g1", u("u2"), u("u1"), g("g2"), d("d1"), u("u3")))
	must(t, "AddMembers again", s.AddMembers(ctx, "t1", "g1", u("u1"), u("u1")))
	must(t, "AddMembers g10", s.AddMembers(ctx, "t1", "g10", u("u1")))
	must(t, "AddMembers t10", s.AddMembers(ctx, "t10", "g1", u("u1")))
	check := []store.Member{u("u1"), g("g2"), d("d1"), u("u9"), g("u1")}
	for _, c := range []struct{ tn, g, want string }{
		{"t1", "g1", "5 [d:d1 g:g2 u:u1 u:u2 u:u3] [true true true false false]"},
		{"t1", "g10", "1 [u:u1] [true false false false false]"},
		{"t1", "g2", "0 [] [false false false false false]"},
		{"t10", "g1", "1 [u:u1] [true false false false false]"},
	} {
		if got := memberState(t, s, c.tn, c.g, check...); got != c.want {
			t.Errorf("%s/%s added: %s, want %s", c.tn, c.g, got, c.want)
		}
	}
	// From a member on: the page after g:g2.
	p, err := s.MembersPage(ctx, "t1", "g1", "group\x00g2", 1)
	must(t, "MembersPage after g2", err)
	if len(p.Members) != 1 || p.Members[0] != u("u1") || p.Next != "user\x00u1" || p.Count != 5 {
		t.Errorf("the page of 1 after group g2: %+v; want u1, next user\\x00u1, count 5", p)
	}
	if err := s.RemoveMember(ctx, "t1", "g1", u("u9")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing a non-member: %v, want ErrNotFound", err)
	}
	must(t, "RemoveMember", s.RemoveMember(ctx, "t1", "g1", u("u2")))
	_, err = s.DeleteUser(ctx, "t1", "u1")
	must(t, "DeleteUser", err)
	must(t, "DeleteGroup g2", s.DeleteGroup(ctx, "t1", "g2"))
	for _, c := range []struct{ tn, g, want string }{
		{"t1", "g1", "2 [d:d1 u:u3] [false false true false false]"},
		{"t1", "g10", "0 [] [false false false false false]"},
		{"t10", "g1", "1 [u:u1] [true false false false false]"},
	} {
		if got := memberState(t, s, c.tn, c.g, check...); got != c.want {
			t.Errorf("%s/%s after the removals: %s, want %s", c.tn, c.g, got, c.want)
		}
	}
	// A group deleted and created again starts empty; the tenant's deletion leaves none.
	must(t, "DeleteGroup g1", s.DeleteGroup(ctx, "t1", "g1"))
	must(t, "CreateGroup g1", s.CreateGroup(ctx, store.Group{TenantID: "t1", ID: "g1", DisplayName: "g1"}))
	if got, want := memberState(t, s, "t1", "g1", u("u3")), "0 [] [false]"; got != want {
		t.Errorf("g1 deleted and created again: %s, want %s", got, want)
	}
	_, err = s.DeleteTenant(ctx, "t10")
	must(t, "DeleteTenant", err)
	must(t, "CreateTenant again", s.CreateTenant(ctx, tenant("t10", "t10.example")))
	must(t, "CreateGroup t10", s.CreateGroup(ctx, store.Group{TenantID: "t10", ID: "g1", DisplayName: "g1"}))
	if got, want := memberState(t, s, "t10", "g1", u("u1")), "0 [] [false]"; got != want {
		t.Errorf("t10 deleted and created again: %s, want %s", got, want)
	}
	if _, err := s.MembersPage(ctx, "t1", "g9", "", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MembersPage of a missing group: %v, want ErrNotFound", err)
	}
	if _, err := s.MembersAmong(ctx, "t1", "g9", check); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MembersAmong of a missing group: %v, want ErrNotFound", err)
	}
}
