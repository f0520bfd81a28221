package core

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// CreateProfile stores a new profile: a Write of that one change (store.Writes).
func (s *Store) CreateProfile(ctx context.Context, p store.Profile) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.CreateProfile(p)
		return err
	})
}

// CreateProfile stores a new profile at Version 1 in w, bumps the policy version and returns
// the profile as stored.
func (w *wtx) CreateProfile(p store.Profile) (store.Profile, error) {
	return createPolicyRecord(w, "profile", bProfiles, p.TenantID, p.ID, &p, func(now time.Time) {
		p.Version = 1
		if p.CreatedAt.IsZero() {
			p.CreatedAt = now
		}
		p.UpdatedAt = now
	})
}

// Profile returns one profile of a tenant.
func (s *Store) Profile(ctx context.Context, tenantID, id string) (store.Profile, error) {
	return getPolicyRecord[store.Profile](ctx, s, "profile", bProfiles, tenantID, id)
}

// ListProfiles returns a tenant's profiles by ID.
func (s *Store) ListProfiles(ctx context.Context, tenantID string) ([]store.Profile, error) {
	return listPolicyRecords[store.Profile](ctx, s, "profiles", bProfiles, tenantID)
}

// UpdateProfile applies fn to the stored profile and writes it back: a Write of that one
// change (store.Writes).
func (s *Store) UpdateProfile(ctx context.Context, tenantID, id string, fn func(*store.Profile) error) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.UpdateProfile(tenantID, id, fn)
		return err
	})
}

// UpdateProfile applies fn in w, increments Version, bumps the policy version and returns
// the profile as stored.
func (w *wtx) UpdateProfile(tenantID, id string, fn func(*store.Profile) error) (p store.Profile, err error) {
	defer failed(&p, &err, "updating profile "+id)
	err = w.policyChange(tenantID, func() error {
		k := subKey(tenantID, id)
		var old store.Profile
		if err := getJSONForUpdate(w, bProfiles, k, &old); err != nil {
			return err
		}
		p = old
		p.ScopeTags = slices.Clone(old.ScopeTags)
		p.Settings = slices.Clone(old.Settings)
		p.Raw = cloneBytes(old.Raw)
		if err := fn(&p); err != nil {
			return err
		}
		if p.ID != old.ID || p.TenantID != old.TenantID {
			return fmt.Errorf("changing profile id or tenant: %w", store.ErrConflict)
		}
		p.Version = old.Version + 1
		p.CreatedAt = old.CreatedAt
		p.UpdatedAt = w.now.UTC()
		return putJSON(w, bProfiles, k, &p)
	})
	return p, err
}

// DeleteProfile removes a profile: a Write of that one change (store.Writes).
func (s *Store) DeleteProfile(ctx context.Context, tenantID, id string) error {
	return s.adminWrite(ctx, false, func(w *wtx) error { return w.DeleteProfile(tenantID, id) })
}

// DeleteProfile removes a profile and its assignments in w and bumps the policy version.
func (w *wtx) DeleteProfile(tenantID, id string) error {
	err := w.policyChange(tenantID, func() error {
		k := subKey(tenantID, id)
		if err := recordExists(w, bProfiles, k, "profile "+id); err != nil {
			return err
		}
		if err := w.Delete(bProfiles, k); err != nil {
			return err
		}
		return w.Delete(bAssignments, k)
	})
	if err != nil {
		return fmt.Errorf("deleting profile %s: %w", id, err)
	}
	return nil
}

// checkAssignments refuses assignment targets that are none of the store.Target* values.
func checkAssignments(as []store.Assignment) error {
	for _, a := range as {
		switch a.Target {
		case store.TargetGroup, store.TargetExclusionGroup, store.TargetAllDevices, store.TargetAllLicensedUsers:
		default:
			return fmt.Errorf("assignment target %q: %w", a.Target, store.ErrConflict)
		}
	}
	return nil
}

// SetAssignments replaces a profile's assignments: a Write of that one change
// (store.Writes).
func (s *Store) SetAssignments(ctx context.Context, tenantID, profileID string, as []store.Assignment) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.SetAssignments(tenantID, profileID, as)
		return err
	})
}

// SetAssignments replaces a profile's assignments in w and returns them as stored (never
// nil): one record written and the policy version bumped, whatever the size of the groups.
// The groups it names exist when it commits: the tenant's policy-version lock (policyChange)
// holds off a DeleteGroup until then, and a DeleteGroup that committed first is seen.
func (w *wtx) SetAssignments(tenantID, profileID string, as []store.Assignment) (stored []store.Assignment, err error) {
	defer failed(&stored, &err, "assigning profile "+profileID)
	if err := checkAssignments(as); err != nil {
		return nil, err
	}
	if as == nil {
		as = []store.Assignment{}
	}
	err = w.policyChange(tenantID, func() error {
		k := subKey(tenantID, profileID)
		if err := recordExists(w, bProfiles, k, "profile "+profileID); err != nil {
			return err
		}
		for _, a := range as {
			if a.Target != store.TargetGroup && a.Target != store.TargetExclusionGroup {
				continue
			}
			if err := recordExists(w, bGroups, subKey(tenantID, a.GroupID), "group "+a.GroupID); err != nil {
				return err
			}
		}
		return putJSON(w, bAssignments, k, as)
	})
	return as, err
}

// Assignments returns a profile's assignments (empty when never assigned).
func (s *Store) Assignments(ctx context.Context, tenantID, profileID string) ([]store.Assignment, error) {
	var out []store.Assignment
	err := s.view(ctx, func(tx kv.Tx) error {
		k := subKey(tenantID, profileID)
		if err := recordExists(tx, bProfiles, k, "profile "+profileID); err != nil {
			return err
		}
		raw, err := tx.Get(bAssignments, k)
		if err != nil || raw == nil {
			return err
		}
		return unmarshal(raw, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("getting assignments of profile %s: %w", profileID, err)
	}
	return out, nil
}
