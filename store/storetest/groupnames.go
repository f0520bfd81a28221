package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// groupNames lists the tenant's groups page by page (limit a page, budget 100), each by its
// display name, with the pages' nexts.
func groupNames(t *testing.T, s store.Store, tenantID string, limit int, keep func(store.Group) bool) (out, nexts []string) {
	t.Helper()
	after := ""
	for range 100 {
		page, next, err := s.ListGroupsPage(t.Context(), tenantID, after, limit, 100, keep)
		must(t, "ListGroupsPage", err)
		for _, g := range page {
			out = append(out, g.DisplayName)
		}
		if next == "" {
			return out, nexts
		}
		nexts = append(nexts, next)
		after = next
	}
	t.Fatalf("ListGroupsPage(%s) did not end", tenantID)
	return nil, nil
}

func wantGroups(t *testing.T, s store.Store, when, tenantID string, want ...string) {
	t.Helper()
	if got, _ := groupNames(t, s, tenantID, 2, nil); !slices.Equal(got, want) {
		t.Errorf("%s: groups of %s %q, want %q", when, tenantID, got, want)
	}
}

// testGroupNames: the group list by display name follows every group write (create, delete,
// a failed delete of an assigned group, the tenant's deletion), sorts case-insensitively
// then by ID (two groups may share a name), pages with the sort key as after, applies keep,
// stops at its budget, and never shows another tenant's groups (t1 and t10: one tenant's
// key prefix is not another's).
func testGroupNames(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	for _, tn := range []string{"t1", "t10"} {
		must(t, "CreateTenant", s.CreateTenant(ctx, tenant(tn, tn+".example")))
	}
	for _, g := range []struct{ id, name string }{
		{"g3", "Site Paris"}, {"g1", "helpdesk"}, {"g2", "All devices"}, {"g5", "site lyon"}, {"g4", "Helpdesk"}, {"g0", "Site"},
	} {
		must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: "t1", ID: g.id, DisplayName: g.name}))
	}
	must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: "t10", ID: "g1", DisplayName: "Other tenant"}))
	wantGroups(t, s, "created", "t1", "All devices", "helpdesk", "Helpdesk", "Site", "site lyon", "Site Paris")
	wantGroups(t, s, "created", "t10", "Other tenant")
	if _, nexts := groupNames(t, s, "t1", 2, nil); !slices.Equal(nexts, []string{"helpdesk\x00g1", "site\x00g0"}) {
		t.Errorf("pages of 2 end at %q", nexts)
	}
	if k := store.GroupSortKey(store.Group{ID: "g4", DisplayName: "Helpdesk"}); k != "helpdesk\x00g4" {
		t.Errorf("GroupSortKey = %q", k)
	}
	sites := func(g store.Group) bool { return strings.HasPrefix(strings.ToLower(g.DisplayName), "site") }
	if got, _ := groupNames(t, s, "t1", 10, sites); !slices.Equal(got, []string{"Site", "site lyon", "Site Paris"}) {
		t.Errorf("groups keep accepts: %q", got)
	}
	// From a name on: the first group read is the first of that name (the API's name check).
	page, next, err := s.ListGroupsPage(ctx, "t1", "helpdesk", 1, 1, nil)
	must(t, "ListGroupsPage from a name", err)
	if len(page) != 1 || page[0].ID != "g1" || next != "helpdesk\x00g1" {
		t.Errorf("a page from helpdesk within 1 group: %v, next %q; want g1, helpdesk\\x00g1", page, next)
	}
	// The budget stops the read even when keep refused every group read.
	page, next, err = s.ListGroupsPage(ctx, "t1", "", 5, 3, func(store.Group) bool { return false })
	must(t, "ListGroupsPage within 3", err)
	if len(page) != 0 || next != "helpdesk\x00g4" {
		t.Errorf("a page read within 3 groups, none kept: %d groups, next %q; want 0, helpdesk\\x00g4", len(page), next)
	}
	if _, _, err := s.ListGroupsPage(ctx, "t1", "", 0, 10, nil); err == nil {
		t.Error("ListGroupsPage with limit 0 did not fail")
	}
	if page, next, err := s.ListGroupsPage(ctx, "nobody", "", 5, 5, nil); err != nil || len(page) != 0 || next != "" {
		t.Errorf("groups of an unknown tenant: %v, %q, %v", page, next, err)
	}

	must(t, "DeleteGroup", s.DeleteGroup(ctx, "t1", "g1"))
	must(t, "CreateProfile", s.CreateProfile(ctx, store.Profile{TenantID: "t1", ID: "p1", Name: "p"}))
	must(t, "SetAssignments", s.SetAssignments(ctx, "t1", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "g0"}}))
	if err := s.DeleteGroup(ctx, "t1", "g0"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("DeleteGroup of an assigned group: %v, want ErrConflict", err)
	}
	wantGroups(t, s, "one deleted, one refused", "t1", "All devices", "Helpdesk", "Site", "site lyon", "Site Paris")
	// A new group of the deleted group's name and ID.
	must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: "t1", ID: "g1", DisplayName: "HELPDESK"}))
	wantGroups(t, s, "name given again", "t1", "All devices", "HELPDESK", "Helpdesk", "Site", "site lyon", "Site Paris")

	must(t, "SetAssignments", s.SetAssignments(ctx, "t1", "p1", nil))
	_, err = s.DeleteTenant(ctx, "t1")
	must(t, "DeleteTenant", err)
	wantGroups(t, s, "tenant deleted", "t1")
	wantGroups(t, s, "other tenant's", "t10", "Other tenant")
	must(t, "CreateTenant again", s.CreateTenant(ctx, tenant("t1", "t1.example")))
	wantGroups(t, s, "tenant created again", "t1")
}
