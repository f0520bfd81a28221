package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A database of format version 9 (member entries with empty values, no member counts)
// opens as version 10 with every group's count written and every entry marked: pages,
// counts and the membership check read what the migration wrote, and later writes move it.
func TestFormatV9CountsMembers(t *testing.T) {
	ctx := t.Context()
	u := func(id string) store.Member { return store.Member{Kind: store.MemberUser, ID: id} }
	members := map[string][]store.Member{"g1": {u("u1"), u("u2"), u("u3")}, "g2": {u("u1")}}
	s := openAtFormat(t, 9, func(tx kv.Tx) error {
		var errs []error
		js, _ := json.Marshal(store.Tenant{ID: "t", DisplayName: "t"})
		errs = append(errs, tx.Put(bTenants, []byte("t"), js))
		for _, id := range []string{"u1", "u2", "u3", "u4"} {
			js, _ := json.Marshal(store.User{TenantID: "t", ID: id, UPN: id + "@example.com"})
			errs = append(errs, tx.Put(bUsers, subKey("t", id), js))
		}
		for _, g := range []string{"g1", "g2", "g3"} {
			js, _ := json.Marshal(store.Group{TenantID: "t", ID: g, DisplayName: g})
			errs = append(errs, tx.Put(bGroups, subKey("t", g), js), tx.Put(bGroupNames, groupNameKey(store.Group{TenantID: "t", ID: g, DisplayName: g}), []byte(g)))
			for _, m := range members[g] {
				errs = append(errs, tx.Put(bMembers, memberKey("t", g, m), nil), tx.Put(bParents, parentKey("t", g, m), nil))
			}
		}
		return errors.Join(errs...)
	})
	state := func(g string) string {
		t.Helper()
		p, err := s.MembersPage(ctx, "t", g, "", 10)
		if err != nil {
			t.Fatalf("MembersPage(%s): %v", g, err)
		}
		among, err := s.MembersAmong(ctx, "t", g, []store.Member{u("u1"), u("u4")})
		if err != nil {
			t.Fatalf("MembersAmong(%s): %v", g, err)
		}
		var ids []string
		for _, m := range p.Members {
			ids = append(ids, m.ID)
		}
		return fmt.Sprint(p.Count, ids, among)
	}
	for _, c := range []struct{ g, want string }{
		{"g1", "3 [u1 u2 u3] [true false]"},
		{"g2", "1 [u1] [true false]"},
		{"g3", "0 [] [false false]"},
	} {
		if got := state(c.g); got != c.want {
			t.Errorf("%s after the migration: %s, want %s", c.g, got, c.want)
		}
	}
	// Adding an existing member and a new one, removing one, deleting a user.
	err := errors.Join(s.AddMembers(ctx, "t", "g1", u("u1"), u("u4")), s.RemoveMember(ctx, "t", "g1", u("u2")))
	if err == nil {
		_, err = s.DeleteUser(ctx, "t", "u1")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ g, want string }{
		{"g1", "2 [u3 u4] [false true]"},
		{"g2", "0 [] [false false]"},
	} {
		if got := state(c.g); got != c.want {
			t.Errorf("%s after the writes: %s, want %s", c.g, got, c.want)
		}
	}
}
