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

// A database of format version 8 (groups, no group name index) opens as version 9 with the
// index built: every group is listed, by display name case-insensitively then ID, in its
// tenant only, and later writes move what the migration wrote.
func TestFormatV8BuildsGroupNames(t *testing.T) {
	ctx := t.Context()
	groups := []store.Group{
		{TenantID: "t", ID: "g1", DisplayName: "Site Paris"},
		{TenantID: "t", ID: "g2", DisplayName: "all devices"},
		{TenantID: "t", ID: "g4", DisplayName: "Helpdesk"},
		{TenantID: "t", ID: "g3", DisplayName: "HELPDESK"},
		{TenantID: "t2", ID: "g1", DisplayName: "Other"},
	}
	s := openAtFormat(t, 8, func(tx kv.Tx) error {
		var errs []error
		for _, tn := range []string{"t", "t2"} {
			js, _ := json.Marshal(store.Tenant{ID: tn, DisplayName: tn})
			errs = append(errs, tx.Put(bTenants, []byte(tn), js))
		}
		for _, g := range groups {
			js, _ := json.Marshal(g)
			errs = append(errs, tx.Put(bGroups, subKey(g.TenantID, g.ID), js))
		}
		return errors.Join(errs...)
	})
	list := func(tenantID string) string {
		t.Helper()
		page, next, err := s.ListGroupsPage(ctx, tenantID, "", 10, 10, nil)
		if err != nil || next != "" {
			t.Fatalf("ListGroupsPage(%s): next %q, %v", tenantID, next, err)
		}
		var out []string
		for _, g := range page {
			out = append(out, g.ID+" "+g.DisplayName)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct{ got, want string }{
		{list("t"), "[g2 all devices g3 HELPDESK g4 Helpdesk g1 Site Paris]"},
		{list("t2"), "[g1 Other]"},
	} {
		if c.got != c.want {
			t.Errorf("after the migration: %s, want %s", c.got, c.want)
		}
	}
	// A group deleted, one created.
	if err := errors.Join(s.DeleteGroup(ctx, "t", "g3"), s.CreateGroup(ctx, store.Group{TenantID: "t", ID: "g5", DisplayName: "Berlin"})); err != nil {
		t.Fatal(err)
	}
	if got, want := list("t"), "[g2 all devices g5 Berlin g4 Helpdesk g1 Site Paris]"; got != want {
		t.Errorf("after the writes: %s, want %s", got, want)
	}
	err := s.kv.View(ctx, func(tx kv.Tx) error {
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
