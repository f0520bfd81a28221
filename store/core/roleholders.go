package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// The role holder index lists the users of a tenant who hold an admin role
// (store.User.AdminRole), so the console's Admin roles page reads them and not every user of
// the tenant (store.Users.ListRoleHoldersPage):
//
//   - bRoleHolders: prefix(tenant)+lower-case UPN → user ID, one entry per holder.
//
// It has the layout of the UPN index (bUserUPN) and is its subset, so holders come in the
// UPN order of the user list and page with the same after (the lower-cased UPN of the last
// user shown), and an entry's key is unique for the same reason a UPN is: the UPN index
// refuses a second user with it in the same transaction. Every write of a user record
// moves the entry from the record as stored to the record written (indexRole): CreateUser,
// UpdateUser (a granted, changed or revoked role, a renamed UPN), DeleteUser; the tenant's
// deletion removes its entries with its users. Format version 7 builds the index of a
// database of an earlier version (buildRoleHolders).

// roleKey is the role holder index key of upn in a tenant, that of the UPN index.
func roleKey(tenantID, upn string) []byte { return upnKey(tenantID, upn) }

// holds reports whether u (nil: no user) holds an admin role.
func holds(u *store.User) bool { return u != nil && u.AdminRole != "" }

// indexRole moves a user's role holder entry from the record old (nil: none stored) to now
// (nil: deleted). A user who keeps a role under a UPN that changed only in case keeps its
// entry, whose key is lower-cased.
func indexRole(w *wtx, tenantID, userID string, old, now *store.User) error {
	same := holds(old) && holds(now) && strings.EqualFold(old.UPN, now.UPN)
	if holds(old) && !same {
		if err := w.Delete(bRoleHolders, roleKey(tenantID, old.UPN)); err != nil {
			return err
		}
	}
	if holds(now) && !same {
		return w.Put(bRoleHolders, roleKey(tenantID, now.UPN), []byte(userID))
	}
	return nil
}

// ListRoleHoldersPage returns a page of the tenant's users who hold an admin role, in UPN
// order (store.Users): ListUsersPage reading the role holder index instead of the UPN
// index, so it reads the holders only, whatever the number of other users.
func (s *Store) ListRoleHoldersPage(ctx context.Context, tenantID, after string, limit, budget int, keep func(store.User) bool) ([]store.User, string, error) {
	users, next, err := s.listUsersBy(ctx, bRoleHolders, tenantID, after, limit, budget, keep)
	if err != nil {
		return nil, "", fmt.Errorf("listing the admin role holders of tenant %s: %w", tenantID, err)
	}
	return users, next, nil
}

// buildRoleHolders writes the role holder index entry of every stored user holding an
// admin role (the migration to format 7).
func buildRoleHolders(w *wtx) error {
	type entry struct{ key, id []byte }
	var all []entry
	err := w.Scan(bUsers, kv.Span{}, func(k, v []byte) (bool, error) {
		tenantID, id, ok := splitOwner(k)
		if !ok {
			return false, fmt.Errorf("malformed user key %x", k)
		}
		var u store.User
		if err := unmarshal(v, &u); err != nil {
			return false, fmt.Errorf("user %s of tenant %s: %w", id, tenantID, err)
		}
		if holds(&u) {
			all = append(all, entry{roleKey(tenantID, u.UPN), []byte(id)})
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := w.Put(bRoleHolders, e.key, e.id); err != nil {
			return err
		}
	}
	return nil
}
