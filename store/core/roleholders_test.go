package core

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A database of format version 6 (users, some holding an admin role, no role holder index)
// opens as version 7 with the index built: every user holding a role is listed, in UPN
// order, in its tenant only, and later writes move what the migration wrote.
func TestFormatV6BuildsRoleHolders(t *testing.T) {
	ctx := t.Context()
	users := []store.User{
		{TenantID: "t", ID: "u1", UPN: "Zoe@t.example", AdminRole: store.RoleAdmin},
		{TenantID: "t", ID: "u2", UPN: "bob@t.example"},
		{TenantID: "t", ID: "u3", UPN: "Carol@t.example", AdminRole: store.RoleReader, AdminScopeTags: []string{"paris"}},
		{TenantID: "t", ID: "u4", UPN: "dave@t.example", Disabled: true, AdminRole: store.RoleOperator},
		{TenantID: "t2", ID: "u1", UPN: "amy@t2.example", AdminRole: store.RoleAdmin},
	}
	s := openAtFormat(t, 6, func(tx kv.Tx) error {
		var errs []error
		for _, u := range users {
			js, _ := json.Marshal(u)
			errs = append(errs, tx.Put(bUsers, subKey(u.TenantID, u.ID), js),
				tx.Put(bUserUPN, upnKey(u.TenantID, u.UPN), []byte(u.ID)))
		}
		return errors.Join(errs...)
	})
	holders := func(tenantID string) string {
		t.Helper()
		page, next, err := s.ListRoleHoldersPage(ctx, tenantID, "", 10, 10, nil)
		if err != nil || next != "" {
			t.Fatalf("ListRoleHoldersPage(%s): next %q, %v", tenantID, next, err)
		}
		var out []string
		for _, u := range page {
			out = append(out, u.UPN+" "+u.AdminRole)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct{ got, want string }{
		{holders("t"), "[Carol@t.example reader dave@t.example operator Zoe@t.example admin]"},
		{holders("t2"), "[amy@t2.example admin]"},
	} {
		if c.got != c.want {
			t.Errorf("after the migration: %s, want %s", c.got, c.want)
		}
	}
	// A revoked role, a granted one, a holder renamed, a holder deleted.
	steps := []error{
		s.UpdateUser(ctx, "t", "u1", func(u *store.User) error { u.AdminRole = ""; return nil }),
		s.UpdateUser(ctx, "t", "u2", func(u *store.User) error { u.AdminRole = store.RoleOperator; return nil }),
		s.UpdateUser(ctx, "t", "u3", func(u *store.User) error { u.UPN = "alice@t.example"; return nil }),
	}
	_, err := s.DeleteUser(ctx, "t", "u4")
	if err := errors.Join(append(steps, err)...); err != nil {
		t.Fatal(err)
	}
	if got, want := holders("t"), "[alice@t.example reader bob@t.example operator]"; got != want {
		t.Errorf("after the writes: %s, want %s", got, want)
	}
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bMeta, metaSchema)
		if err != nil || binary.BigEndian.Uint64(v) != FormatVersion {
			return fmt.Errorf("format version %x, %v; want %d", v, err, FormatVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
