package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// CreateUser stores a new user: a Write of that one change (store.Writes).
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.CreateUser(u)
		return err
	})
}

// CreateUser stores a new user in w and returns it as stored; ErrExists when the ID or the
// UPN (case-insensitive) is taken in that tenant. CreatedAt defaults to now. The tenant is
// not required to exist.
func (w *wtx) CreateUser(u store.User) (stored store.User, err error) {
	defer failed(&stored, &err, "creating user")
	if err := checkUser(u); err != nil {
		return u, err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = w.now
	}
	if err := insertJSON(w, bUsers, subKey(u.TenantID, u.ID), &u); err != nil {
		return u, existsAs(err, "user "+u.ID)
	}
	if err := indexUPN(w, u.TenantID, u.ID, "", u.UPN); err != nil {
		return u, err
	}
	return u, indexRole(w, u.TenantID, u.ID, nil, &u)
}

func checkUser(u store.User) error {
	if err := checkID("tenant id", u.TenantID); err != nil {
		return err
	}
	if err := checkID("user id", u.ID); err != nil {
		return err
	}
	return checkID("user principal name", u.UPN)
}

// upnKey is the UPN index key of upn in a tenant: the UPN lower-cased.
func upnKey(tenantID, upn string) []byte { return subKey(tenantID, strings.ToLower(upn)) }

// indexUPN moves a user's UPN index entry from old ("" for none) to new (both may differ
// only in case); ErrExists when new belongs to another user of the tenant. An absent entry
// is created with Insert, so two users claiming the same UPN concurrently cannot both
// succeed. A new UPN whose lower-cased form is longer than store.MaxIDLen is refused: the
// key holds that form, which can be longer than the UPN (1.5 times for valid UTF-8, with
// U+023A or U+023E; 3 times for invalid bytes, each U+FFFD).
func indexUPN(w *wtx, tenantID, userID, old, new string) error {
	k := upnKey(tenantID, new)
	if n := len(k) - 2 - len(tenantID); n > store.MaxIDLen && !strings.EqualFold(old, new) {
		return fmt.Errorf("user principal name of %d bytes once lower-cased, longer than %d", n, store.MaxIDLen)
	}
	if old != "" && !strings.EqualFold(old, new) {
		if err := releaseUPN(w, tenantID, userID, old); err != nil {
			return err
		}
	}
	owner, err := w.GetForUpdate(bUserUPN, k)
	if err != nil {
		return err
	}
	if owner != nil {
		if string(owner) != userID {
			return fmt.Errorf("user principal name %s: %w", new, store.ErrExists)
		}
		return nil
	}
	if err := w.Insert(bUserUPN, k, []byte(userID)); err != nil {
		return existsAs(err, "user principal name "+new)
	}
	return nil
}

// releaseUPN removes the UPN index entry of upn when it belongs to userID.
func releaseUPN(w *wtx, tenantID, userID, upn string) error {
	k := upnKey(tenantID, upn)
	owner, err := w.GetForUpdate(bUserUPN, k)
	if err != nil || string(owner) != userID {
		return err
	}
	return w.Delete(bUserUPN, k)
}

// User returns a user by tenant and ID.
func (s *Store) User(ctx context.Context, tenantID, id string) (store.User, error) {
	var u store.User
	err := s.view(ctx, func(tx kv.Tx) error {
		if !findable(tenantID, id) {
			return store.ErrNotFound
		}
		return getJSON(tx, bUsers, subKey(tenantID, id), &u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("getting user %s: %w", id, err)
	}
	return u, nil
}

// UserByUPN finds a user by UPN (case-insensitive) within a tenant.
func (s *Store) UserByUPN(ctx context.Context, tenantID, upn string) (store.User, error) {
	var u store.User
	err := s.view(ctx, func(tx kv.Tx) error {
		if !findable(tenantID, upn) {
			return store.ErrNotFound
		}
		id, err := tx.Get(bUserUPN, upnKey(tenantID, upn))
		if err != nil {
			return err
		}
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(tx, bUsers, subKey(tenantID, string(id)), &u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("getting user by upn %s: %w", upn, err)
	}
	return u, nil
}

// UpdateUser applies fn to the stored user and writes it back: a Write of that one change
// (store.Writes).
func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, fn func(*store.User) error) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.UpdateUser(tenantID, id, fn)
		return err
	})
}

// UpdateUser applies fn to the stored user (locked) and writes it back in w, re-indexing a
// changed UPN (ErrExists when taken) and a granted, changed or revoked admin role (the role
// holder index); it returns the user as stored. fn must not change the
// tenant or ID (ErrConflict).
func (w *wtx) UpdateUser(tenantID, id string, fn func(*store.User) error) (u store.User, err error) {
	defer failed(&u, &err, "updating user "+id)
	if !findable(tenantID, id) {
		return u, store.ErrNotFound
	}
	k := subKey(tenantID, id)
	if err := getJSONForUpdate(w, bUsers, k, &u); err != nil {
		return u, err
	}
	old := u // its UPN and role: the index entries to move
	if err := fn(&u); err != nil {
		return u, err
	}
	if u.TenantID != tenantID || u.ID != id {
		return u, fmt.Errorf("changing user tenant or id: %w", store.ErrConflict)
	}
	if err := checkUser(u); err != nil {
		return u, err
	}
	if err := indexUPN(w, tenantID, id, old.UPN, u.UPN); err != nil {
		return u, err
	}
	if err := indexRole(w, tenantID, id, &old, &u); err != nil {
		return u, err
	}
	return u, putJSON(w, bUsers, k, &u)
}

// DeleteUser removes the user and returns it: a Write of that one change (store.Writes).
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string) (store.User, error) {
	return alone(ctx, s, false, func(w *wtx) (store.User, error) { return w.DeleteUser(tenantID, id) })
}

// DeleteUser removes the user, its UPN and role holder index entries, its group memberships (bumping the
// tenant's policy version) and the failed sign-in window of its lower-cased UPN in w, and
// returns the user removed.
func (w *wtx) DeleteUser(tenantID, id string) (u store.User, err error) {
	defer failed(&u, &err, "deleting user "+id)
	if !findable(tenantID, id) {
		return u, store.ErrNotFound
	}
	k := subKey(tenantID, id)
	if err := getJSONForUpdate(w, bUsers, k, &u); err != nil {
		return u, err
	}
	if err := releaseUPN(w, tenantID, id, u.UPN); err != nil {
		return u, err
	}
	if err := indexRole(w, tenantID, id, &u, nil); err != nil {
		return u, err
	}
	// forgetMember bumps the tenant's policy version.
	if err := forgetMember(w, tenantID, store.Member{Kind: store.MemberUser, ID: id}); err != nil {
		return u, err
	}
	if upn := strings.ToLower(strings.TrimSpace(u.UPN)); upn != "" {
		if err := resetSignIns(w, upn); err != nil {
			return u, err
		}
	}
	return u, w.Delete(bUsers, k)
}

// ListUsers returns a tenant's users in ID order.
func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]store.User, error) {
	var out []store.User
	err := s.view(ctx, func(tx kv.Tx) error {
		return tx.Scan(bUsers, kv.Span{Prefix: prefix(tenantID, 0)}, func(_, v []byte) (bool, error) {
			var u store.User
			if err := unmarshal(v, &u); err != nil {
				return false, err
			}
			out = append(out, u)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing users of tenant %s: %w", tenantID, err)
	}
	return out, nil
}
