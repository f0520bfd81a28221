package core

import (
	"context"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// The group name index lists a tenant's groups in display name order, so the console's
// group list, its group search and the member picker read a page of groups and not every
// group of the tenant (store.Groups.ListGroupsPage):
//
//   - bGroupNames: prefix(tenant)+lower-case display name+0+group ID → group ID, one entry
//     per group.
//
// The sort key after the tenant (store.GroupSortKey) is the order the group list always had
// (display name case-insensitively, then ID) and the after of a page. Display names are
// not unique, so the ID ends the key; 0 sorts a name before every longer name it starts.
// CreateGroup writes the entry and DeleteGroup removes it in their transaction (a group is
// never renamed); the tenant's deletion removes its entries with its groups. Format version
// 9 builds the index of a database of an earlier version (buildGroupNames).

// groupNameKey is the group name index key of g.
func groupNameKey(g store.Group) []byte { return subKey(g.TenantID, store.GroupSortKey(g)) }

// ListGroupsPage returns a page of the tenant's groups in display name order (store.Groups)
// from the group name index: it reads the groups after after, at most budget of them.
func (s *Store) ListGroupsPage(ctx context.Context, tenantID, after string, limit, budget int, keep func(store.Group) bool) ([]store.Group, string, error) {
	var start []byte
	if after != "" {
		start = append(subKey(tenantID, after), 0) // the first key after it
	}
	groups, next, err := listByIndex(ctx, s, indexedList[store.Group]{index: bGroupNames, records: bGroups, what: "group", tenantID: tenantID,
		start: start, limit: limit, budget: budget, keep: keep, after: store.GroupSortKey})
	if err != nil {
		return nil, "", fmt.Errorf("listing groups of tenant %s: %w", tenantID, err)
	}
	return groups, next, nil
}

// buildGroupNames writes the group name index entry of every stored group (the migration
// to format 9).
func buildGroupNames(w *wtx) error {
	var keys, ids [][]byte
	err := w.Scan(bGroups, kv.Span{}, func(k, v []byte) (bool, error) {
		tenantID, id, ok := splitOwner(k)
		if !ok {
			return false, fmt.Errorf("malformed group key %x", k)
		}
		var g store.Group
		if err := unmarshal(v, &g); err != nil {
			return false, fmt.Errorf("group %s of tenant %s: %w", id, tenantID, err)
		}
		g.TenantID, g.ID = tenantID, id // the key's, whatever the record says
		keys, ids = append(keys, groupNameKey(g)), append(ids, []byte(id))
		return true, nil
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		if err := w.Put(bGroupNames, k, ids[i]); err != nil {
			return err
		}
	}
	return nil
}
