package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// CreateTenant stores a new tenant: a Write of that one change (store.Writes).
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.CreateTenant(t)
		return err
	})
}

// CreateTenant stores a new tenant in w and returns it as stored. Its verified domains are
// indexed lower-case; ErrExists when the ID or a domain is taken. CreatedAt defaults to now
// and UpdatedAt to CreatedAt.
func (w *wtx) CreateTenant(t store.Tenant) (stored store.Tenant, err error) {
	defer failed(&stored, &err, "creating tenant")
	if err := checkID("tenant id", t.ID); err != nil {
		return t, err
	}
	domains, err := normDomains(t.VerifiedDomains)
	if err != nil {
		return t, err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = w.now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	if err := insertJSON(w, bTenants, []byte(t.ID), &t); err != nil {
		return t, existsAs(err, "tenant "+t.ID)
	}
	return t, claimDomains(w, t.ID, domains)
}

// existsAs names what is taken when err is store.ErrExists (from Insert), and returns any
// other error as is.
func existsAs(err error, what string) error {
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%s: %w", what, store.ErrExists)
	}
	return err
}

// findable reports whether every id can be part of a key: a lookup of one that cannot
// finds nothing (as no record can have it) instead of failing in the backend.
func findable(ids ...string) bool {
	for _, id := range ids {
		if checkID("", id) != nil {
			return false
		}
	}
	return true
}

// normDomain is the index form of a domain: trimmed and lower-case.
func normDomain(dom string) string { return strings.ToLower(strings.TrimSpace(dom)) }

// normDomains returns the index forms of domains, each checked, without duplicates.
func normDomains(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, dom := range in {
		dom = normDomain(dom)
		if err := checkID("domain", dom); err != nil {
			return nil, err
		}
		if !slices.Contains(out, dom) {
			out = append(out, dom)
		}
	}
	return out, nil
}

// claimDomains indexes domains (index forms) for tenantID; ErrExists when one belongs to
// another tenant. An absent entry is created with Insert, so two tenants claiming the same
// domain concurrently cannot both succeed.
func claimDomains(w *wtx, tenantID string, domains []string) error {
	for _, dom := range domains {
		owner, err := w.GetForUpdate(bTenantDomains, []byte(dom))
		if err != nil {
			return err
		}
		if owner != nil {
			if string(owner) != tenantID {
				return fmt.Errorf("domain %s: %w", dom, store.ErrExists)
			}
			continue
		}
		if err := w.Insert(bTenantDomains, []byte(dom), []byte(tenantID)); err != nil {
			return existsAs(err, "domain "+dom)
		}
	}
	return nil
}

// releaseDomains removes the index entries of domains that belong to tenantID.
func releaseDomains(w *wtx, tenantID string, domains []string) error {
	for _, dom := range domains {
		k := []byte(normDomain(dom))
		if len(k) == 0 {
			continue
		}
		owner, err := w.GetForUpdate(bTenantDomains, k)
		if err != nil {
			return err
		}
		if string(owner) == tenantID {
			if err := w.Delete(bTenantDomains, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tenant returns a tenant by ID.
func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	var t store.Tenant
	err := s.view(ctx, func(tx kv.Tx) error {
		if !findable(id) {
			return store.ErrNotFound
		}
		return getJSON(tx, bTenants, []byte(id), &t)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("getting tenant %s: %w", id, err)
	}
	return t, nil
}

// TenantByDomain finds the tenant that verified domain (case-insensitive).
func (s *Store) TenantByDomain(ctx context.Context, domain string) (store.Tenant, error) {
	var t store.Tenant
	err := s.view(ctx, func(tx kv.Tx) error {
		k := normDomain(domain)
		if !findable(k) {
			return store.ErrNotFound
		}
		id, err := tx.Get(bTenantDomains, []byte(k))
		if err != nil {
			return err
		}
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(tx, bTenants, id, &t)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("getting tenant by domain %s: %w", domain, err)
	}
	return t, nil
}

// UpdateTenant applies fn to the stored tenant and writes it back: a Write of that one
// change (store.Writes).
func (s *Store) UpdateTenant(ctx context.Context, id string, fn func(*store.Tenant) error) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.UpdateTenant(id, fn)
		return err
	})
}

// UpdateTenant applies fn to the stored tenant (locked) and writes it back in w,
// re-indexing its domains (ErrExists when one belongs to another tenant) and setting
// UpdatedAt; it returns the tenant as stored. fn must not change the ID (ErrConflict).
func (w *wtx) UpdateTenant(id string, fn func(*store.Tenant) error) (t store.Tenant, err error) {
	defer failed(&t, &err, "updating tenant "+id)
	if err := getJSONForUpdate(w, bTenants, []byte(id), &t); err != nil {
		return t, err
	}
	old := slices.Clone(t.VerifiedDomains)
	if err := fn(&t); err != nil {
		return t, err
	}
	if t.ID != id {
		return t, fmt.Errorf("changing tenant id to %s: %w", t.ID, store.ErrConflict)
	}
	domains, err := normDomains(t.VerifiedDomains)
	if err != nil {
		return t, err
	}
	if err := releaseDomains(w, id, old); err != nil {
		return t, err
	}
	if err := claimDomains(w, id, domains); err != nil {
		return t, err
	}
	t.UpdatedAt = w.now
	return t, putJSON(w, bTenants, []byte(id), &t)
}

// ListTenants returns every tenant in ID order.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	var out []store.Tenant
	err := s.view(ctx, func(tx kv.Tx) error {
		return tx.Scan(bTenants, kv.Span{}, func(_, v []byte) (bool, error) {
			var t store.Tenant
			if err := unmarshal(v, &t); err != nil {
				return false, err
			}
			out = append(out, t)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	return out, nil
}
