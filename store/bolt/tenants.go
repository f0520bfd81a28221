package bolt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// CreateTenant stores a new tenant. Its verified domains are indexed lower-case; ErrExists
// when the ID or a domain is taken. CreatedAt and UpdatedAt default to now. The events of
// ctx's store.AuditFunc are appended in the transaction.
func (d *DB) CreateTenant(ctx context.Context, t store.Tenant) error {
	if err := checkID("tenant id", t.ID); err != nil {
		return fmt.Errorf("creating tenant: %w", err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = d.now()
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		tenants := bucket(tx, bTenants)
		if tenants.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, store.ErrExists)
		}
		if err := indexDomains(bucket(tx, bTenantDomains), t.ID, nil, t.VerifiedDomains); err != nil {
			return err
		}
		if err := putJSON(tenants, []byte(t.ID), &t); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating tenant: %w", err)
	}
	d.publish(sealed)
	return nil
}

// indexDomains moves tenantID's domain index entries from old to new.
func indexDomains(b *bbolt.Bucket, tenantID string, old, new []string) error {
	for _, dom := range old {
		k := []byte(strings.ToLower(dom))
		if string(b.Get(k)) == tenantID {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, dom := range new {
		dom = strings.ToLower(strings.TrimSpace(dom))
		if err := checkID("domain", dom); err != nil {
			return err
		}
		owner := b.Get([]byte(dom))
		if owner != nil && string(owner) != tenantID {
			return fmt.Errorf("domain %s: %w", dom, store.ErrExists)
		}
		if err := b.Put([]byte(dom), []byte(tenantID)); err != nil {
			return err
		}
	}
	return nil
}

// Tenant returns a tenant by ID.
func (d *DB) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	var t store.Tenant
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(bucket(tx, bTenants), []byte(id), &t)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("getting tenant %s: %w", id, err)
	}
	return t, nil
}

// TenantByDomain finds the tenant that verified domain (case-insensitive).
func (d *DB) TenantByDomain(ctx context.Context, domain string) (store.Tenant, error) {
	var t store.Tenant
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		id := bucket(tx, bTenantDomains).Get([]byte(strings.ToLower(strings.TrimSpace(domain))))
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(bucket(tx, bTenants), id, &t)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("getting tenant by domain %s: %w", domain, err)
	}
	return t, nil
}

// UpdateTenant applies fn to the stored tenant and writes it back, re-indexing its domains
// (ErrExists when one belongs to another tenant) and setting UpdatedAt. fn must not change
// the ID (ErrConflict). The events of ctx's store.AuditFunc are appended in the transaction.
func (d *DB) UpdateTenant(ctx context.Context, id string, fn func(*store.Tenant) error) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		tenants := bucket(tx, bTenants)
		var t store.Tenant
		if err := getJSON(tenants, []byte(id), &t); err != nil {
			return err
		}
		old := append([]string(nil), t.VerifiedDomains...)
		if err := fn(&t); err != nil {
			return err
		}
		if t.ID != id {
			return fmt.Errorf("changing tenant id to %s: %w", t.ID, store.ErrConflict)
		}
		if err := indexDomains(bucket(tx, bTenantDomains), id, old, t.VerifiedDomains); err != nil {
			return err
		}
		t.UpdatedAt = d.now()
		if err := putJSON(tenants, []byte(id), &t); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("updating tenant %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// ListTenants returns every tenant in ID order.
func (d *DB) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	var out []store.Tenant
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return bucket(tx, bTenants).ForEach(func(_, v []byte) error {
			var t store.Tenant
			if err := unmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	return out, nil
}

// CreateUser stores a new user; ErrExists when the ID or the UPN (case-insensitive) is taken
// in that tenant. CreatedAt defaults to now. The tenant is not required to exist. The events
// of ctx's store.AuditFunc are appended in the transaction.
func (d *DB) CreateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("creating user: %w", err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = d.now()
	}
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		users := bucket(tx, bUsers)
		k := subKey(u.TenantID, u.ID)
		if users.Get(k) != nil {
			return fmt.Errorf("user %s: %w", u.ID, store.ErrExists)
		}
		if err := indexUPN(bucket(tx, bUserUPN), u.TenantID, u.ID, "", u.UPN); err != nil {
			return err
		}
		if err := putJSON(users, k, &u); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, u)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating user: %w", err)
	}
	d.publish(sealed)
	return nil
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

// indexUPN moves a user's UPN index entry from old to new (both may differ only in case).
func indexUPN(b *bbolt.Bucket, tenantID, userID, old, new string) error {
	if old != "" {
		k := subKey(tenantID, strings.ToLower(old))
		if string(b.Get(k)) == userID {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	k := subKey(tenantID, strings.ToLower(new))
	if owner := b.Get(k); owner != nil && string(owner) != userID {
		return fmt.Errorf("user principal name %s: %w", new, store.ErrExists)
	}
	return b.Put(k, []byte(userID))
}

// User returns a user by tenant and ID.
func (d *DB) User(ctx context.Context, tenantID, id string) (store.User, error) {
	var u store.User
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(bucket(tx, bUsers), subKey(tenantID, id), &u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("getting user %s: %w", id, err)
	}
	return u, nil
}

// UserByUPN finds a user by UPN (case-insensitive) within a tenant.
func (d *DB) UserByUPN(ctx context.Context, tenantID, upn string) (store.User, error) {
	var u store.User
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		id := bucket(tx, bUserUPN).Get(subKey(tenantID, strings.ToLower(upn)))
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(bucket(tx, bUsers), subKey(tenantID, string(id)), &u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("getting user by upn %s: %w", upn, err)
	}
	return u, nil
}

// UpdateUser applies fn to the stored user and writes it back, re-indexing a changed UPN
// (ErrExists when taken). fn must not change the tenant or ID (ErrConflict). The events of
// ctx's store.AuditFunc are appended in the transaction.
func (d *DB) UpdateUser(ctx context.Context, tenantID, id string, fn func(*store.User) error) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		users := bucket(tx, bUsers)
		k := subKey(tenantID, id)
		var u store.User
		if err := getJSON(users, k, &u); err != nil {
			return err
		}
		old := u.UPN
		if err := fn(&u); err != nil {
			return err
		}
		if u.TenantID != tenantID || u.ID != id {
			return fmt.Errorf("changing user tenant or id: %w", store.ErrConflict)
		}
		if err := checkUser(u); err != nil {
			return err
		}
		if err := indexUPN(bucket(tx, bUserUPN), tenantID, id, old, u.UPN); err != nil {
			return err
		}
		if err := putJSON(users, k, &u); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, u)
		return err
	})
	if err != nil {
		return fmt.Errorf("updating user %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// DeleteUser removes the user, its UPN index entry, its group memberships (bumping the
// tenant's policy version) and the failed sign-in window of its lower-cased UPN, in one
// transaction with the events of ctx's store.AuditFunc (given the user removed).
func (d *DB) DeleteUser(ctx context.Context, tenantID, id string) (store.User, error) {
	var (
		u      store.User
		sealed []sealedEvent
	)
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		users := bucket(tx, bUsers)
		k := subKey(tenantID, id)
		if err := getJSON(users, k, &u); err != nil {
			return err
		}
		upnIdx := bucket(tx, bUserUPN)
		if ik := subKey(tenantID, strings.ToLower(u.UPN)); string(upnIdx.Get(ik)) == id {
			if err := upnIdx.Delete(ik); err != nil {
				return err
			}
		}
		self := store.Member{Kind: store.MemberUser, ID: id}
		for _, g := range parentsTx(tx, tenantID, self) {
			if err := unlink(tx, tenantID, g, self); err != nil {
				return err
			}
		}
		if err := resetSignInWindow(tx, strings.ToLower(strings.TrimSpace(u.UPN))); err != nil {
			return err
		}
		if err := users.Delete(k); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, u, &sealed)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("deleting user %s: %w", id, err)
	}
	d.publish(sealed)
	return u, nil
}

// ListUsers returns a tenant's users in ID order.
func (d *DB) ListUsers(ctx context.Context, tenantID string) ([]store.User, error) {
	var out []store.User
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		p := prefix(tenantID, 0)
		c := bucket(tx, bUsers).Cursor()
		for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
			var u store.User
			if err := unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing users of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// DeleteTenant removes a tenant and what belongs to it (see store.Tenants), refusing with
// ErrConflict while one of its devices is enrolled. The audit chain and the (retired) device
// records are kept. The events of ctx's store.AuditFunc (given the tenant removed) are
// appended to the tenant's chain in the transaction.
func (d *DB) DeleteTenant(ctx context.Context, id string) (store.Tenant, error) {
	var (
		t      store.Tenant
		sealed []sealedEvent
	)
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if err := getJSON(bucket(tx, bTenants), []byte(id), &t); err != nil {
			return err
		}
		enrolled := 0
		err := scan(tx, bDeviceTenant, prefix(id, 0), func(k, _ []byte) (bool, error) {
			var dev store.Device
			if err := getJSON(bucket(tx, bDevices), k[len(prefix(id, 0)):], &dev); err != nil {
				return false, err
			}
			if dev.State == store.DeviceEnrolled {
				enrolled++
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if enrolled > 0 {
			return fmt.Errorf("tenant has %d enrolled devices: %w", enrolled, store.ErrConflict)
		}
		if err := indexDomains(bucket(tx, bTenantDomains), id, t.VerifiedDomains, nil); err != nil {
			return err
		}
		for _, name := range []string{bUsers, bUserUPN, bGroups, bMembers, bParents, bProfiles, bAssignments, bSettings} {
			if err := deletePrefix(tx, name, prefix(id, 0)); err != nil {
				return err
			}
		}
		if b := rb(tx, bPolicyVersion); b != nil {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		if err := deletePrefix(tx, bConfig, []byte(store.ConfigTenantPrefix(id))); err != nil {
			return err
		}
		var hashes [][]byte
		var ids []string
		err = bucket(tx, bTokens).ForEach(func(k, v []byte) error {
			var tok store.AdminToken
			if err := unmarshal(v, &tok); err != nil {
				return err
			}
			if tok.TenantID == id {
				hashes, ids = append(hashes, slices.Clone(k)), append(ids, tok.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range hashes {
			if err := bucket(tx, bTokens).Delete(hashes[i]); err != nil {
				return err
			}
			if err := bucket(tx, bTokenIDs).Delete([]byte(ids[i])); err != nil {
				return err
			}
		}
		if err := bucket(tx, bTenants).Delete([]byte(id)); err != nil {
			return err
		}
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("deleting tenant %s: %w", id, err)
	}
	d.publish(sealed)
	return t, nil
}

// deletePrefix deletes every key with prefix p of a possibly absent bucket.
func deletePrefix(tx *bbolt.Tx, name string, p []byte) error {
	var keys [][]byte
	err := scan(tx, name, p, func(k, _ []byte) (bool, error) {
		keys = append(keys, slices.Clone(k))
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := rb(tx, name).Delete(k); err != nil {
			return err
		}
	}
	return nil
}
