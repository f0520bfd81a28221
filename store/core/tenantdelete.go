package core

import (
	"context"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// DeleteTenant removes a tenant and returns it: a Write of that one change (store.Writes).
func (s *Store) DeleteTenant(ctx context.Context, id string) (store.Tenant, error) {
	return alone(ctx, s, false, func(w *wtx) (store.Tenant, error) { return w.DeleteTenant(id) })
}

// DeleteTenant removes a tenant and what belongs to it (see store.Tenants) in w, refusing
// with ErrConflict while one of its devices is enrolled, and returns the tenant removed. The
// audit chain and the device records are kept, every one retired (a device left unenrolled
// is retired here): events appended after it in the same Write go to the tenant's chain.
//
// The tenant record is locked (GetForUpdate) first, as registrations lock it (lockTenant).
func (w *wtx) DeleteTenant(id string) (t store.Tenant, err error) {
	defer failed(&t, &err, "deleting tenant "+id)
	if !findable(id) {
		return t, store.ErrNotFound
	}
	if err := getJSONForUpdate(w, bTenants, []byte(id), &t); err != nil {
		return t, err
	}
	if err := retireTenantDevices(w, id); err != nil {
		return t, err
	}
	if err := releaseDomains(w, id, t.VerifiedDomains); err != nil {
		return t, err
	}
	p := prefix(id, 0)
	for _, b := range []kv.Bucket{bUsers, bUserUPN, bRoleHolders} {
		if err := deletePrefix(w, b, p); err != nil {
			return t, err
		}
	}
	if err := deleteTenantPolicy(w, id); err != nil {
		return t, err
	}
	if err := deletePrefix(w, bConfig, []byte(store.ConfigTenantPrefix(id))); err != nil {
		return t, err
	}
	if err := deleteTenantTokens(w, id); err != nil {
		return t, err
	}
	return t, w.Delete(bTenants, []byte(id))
}

// lockTenant locks the tenant's record (when it exists) until the transaction ends. A
// registration takes it before anything else, so it is serialised with DeleteTenant (which
// locks the record first too): either the deletion sees the device the registration
// committed, or the registration runs after the deletion and finds the tenant gone (the
// server then retires the device). Without it, a registration committing while the deletion
// runs would leave a device enrolled in a deleted tenant on a backend with concurrent
// writers (PostgreSQL).
func lockTenant(w *wtx, tenantID string) error {
	if _, err := w.GetForUpdate(bTenants, []byte(tenantID)); err != nil {
		return fmt.Errorf("locking tenant %s: %w", tenantID, err)
	}
	return nil
}

// retireTenantDevices refuses (ErrConflict, naming how many) while a device of the tenant is
// enrolled, and retires the ones that are neither enrolled nor retired, each locked and
// read again before it is written.
func retireTenantDevices(w *wtx, tenantID string) error {
	p := prefix(tenantID, 0)
	var ids [][]byte
	err := w.Scan(bDeviceTenant, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
		ids = append(ids, cloneBytes(k[len(p):]))
		return true, nil
	})
	if err != nil || len(ids) == 0 {
		return err
	}
	vals, err := w.GetMany(bDevices, ids)
	if err != nil {
		return err
	}
	enrolled := 0
	var retire [][]byte
	for i, raw := range vals {
		if raw == nil {
			continue
		}
		var dev store.Device
		if err := unmarshal(raw, &dev); err != nil {
			return fmt.Errorf("device %s: %w", ids[i], err)
		}
		switch dev.State {
		case store.DeviceEnrolled:
			enrolled++
		case store.DeviceRetired:
		default:
			retire = append(retire, ids[i])
		}
	}
	if enrolled > 0 {
		return fmt.Errorf("tenant has %d enrolled devices: %w", enrolled, store.ErrConflict)
	}
	for _, id := range retire {
		var old store.Device
		if err := getJSONForUpdate(w, bDevices, id, &old); err != nil {
			return fmt.Errorf("device %s: %w", id, err)
		}
		if old.State == store.DeviceEnrolled {
			return fmt.Errorf("device %s enrolled meanwhile: %w", id, store.ErrConflict)
		}
		dev := old
		dev.State, dev.UpdatedAt = store.DeviceRetired, w.now
		if err := writeDevice(w, &old, dev); err != nil {
			return err
		}
	}
	return nil
}

// deleteTenantTokens removes the admin tokens bound to the tenant (both their entries).
func deleteTenantTokens(w *wtx, tenantID string) error {
	var hashes [][]byte
	var ids []string
	err := w.Scan(bTokens, kv.Span{}, func(k, v []byte) (bool, error) {
		var tok store.AdminToken
		if err := unmarshal(v, &tok); err != nil {
			return false, err
		}
		if tok.TenantID == tenantID {
			hashes, ids = append(hashes, cloneBytes(k)), append(ids, tok.ID)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for i := range hashes {
		if err := w.Delete(bTokens, hashes[i]); err != nil {
			return err
		}
		if err := w.Delete(bTokenIDs, []byte(ids[i])); err != nil {
			return err
		}
	}
	return nil
}
