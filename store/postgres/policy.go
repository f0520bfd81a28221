package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// policyWrite runs fn in a transaction that first bumps the tenant's policy version, then
// appends the events of ctx's store.AuditFunc for the record fn returns as stored (nil when
// the write stores none). The bump locks the tenant's version row, so policy writes of one
// tenant run one at a time (which keeps the group-cycle check sound across replicas); an
// error rolls the bump back.
func (d *DB) policyWrite(ctx context.Context, tenantID string, fn func(tx pgx.Tx) (stored any, err error)) error {
	var sealed []sealedEvent
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO policy_versions (tenant_id, version) VALUES ($1, 1)
			ON CONFLICT (tenant_id) DO UPDATE SET version = policy_versions.version + 1`, tenantID)
		if err != nil {
			return fmt.Errorf("bumping policy version: %w", err)
		}
		stored, err := fn(tx)
		if err != nil {
			return err
		}
		sealed, err = writeAuditTx(ctx, tx, stored)
		return err
	})
	if err != nil {
		return err
	}
	d.publish(sealed)
	return nil
}

// exists runs an EXISTS query; ErrNotFound naming what when it is false.
func exists(ctx context.Context, q querier, what, query string, args ...any) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (`+query+`)`, args...).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func tenantExists(ctx context.Context, q querier, tenantID string) error {
	return exists(ctx, q, "tenant "+tenantID, `SELECT 1 FROM tenants WHERE id = $1`, tenantID)
}

func groupExists(ctx context.Context, q querier, tenantID, id string) error {
	return exists(ctx, q, "group "+id, `SELECT 1 FROM policy_groups WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

func profileExists(ctx context.Context, q querier, tenantID, id string) error {
	return exists(ctx, q, "profile "+id, `SELECT 1 FROM policy_profiles WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// CreateGroup stores a new group and bumps the tenant's policy version; ErrNotFound when the
// tenant does not exist, ErrExists when the ID is taken.
func (d *DB) CreateGroup(ctx context.Context, g store.Group) error {
	if err := checkID("tenant id", g.TenantID); err != nil {
		return fmt.Errorf("creating group: %w", err)
	}
	if err := checkID("group id", g.ID); err != nil {
		return fmt.Errorf("creating group: %w", err)
	}
	now := d.now().UTC()
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now
	}
	g.UpdatedAt = now
	raw, err := encode(&g)
	if err != nil {
		return fmt.Errorf("creating group: %w", err)
	}
	err = d.policyWrite(ctx, g.TenantID, func(tx pgx.Tx) (any, error) {
		if err := tenantExists(ctx, tx, g.TenantID); err != nil {
			return nil, err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO policy_groups (tenant_id, id, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			g.TenantID, g.ID, raw)
		if err == nil && tag.RowsAffected() == 0 {
			err = store.ErrExists
		}
		return g, err
	})
	if err != nil {
		return fmt.Errorf("creating group %s: %w", g.ID, err)
	}
	return nil
}

// Group returns one group of a tenant.
func (d *DB) Group(ctx context.Context, tenantID, id string) (store.Group, error) {
	var g store.Group
	if err := d.getRecord(ctx, &g, `SELECT data FROM policy_groups WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
		return store.Group{}, fmt.Errorf("getting group %s: %w", id, err)
	}
	return g, nil
}

// ListGroups returns a tenant's groups by ID.
func (d *DB) ListGroups(ctx context.Context, tenantID string) ([]store.Group, error) {
	out, err := listRecords[store.Group](ctx, d, `SELECT data FROM policy_groups WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	return out, nil
}

// DeleteGroup removes a group with its members and memberships; ErrConflict while a profile
// assignment targets it.
func (d *DB) DeleteGroup(ctx context.Context, tenantID, id string) error {
	err := d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		if err := groupExists(ctx, tx, tenantID, id); err != nil {
			return nil, err
		}
		var profile string
		err := tx.QueryRow(ctx, `SELECT profile_id FROM policy_assignments WHERE tenant_id = $1 AND $2 = ANY (groups)
			ORDER BY profile_id LIMIT 1`, tenantID, id).Scan(&profile)
		switch {
		case err == nil:
			return nil, fmt.Errorf("group is assigned to profile %s: %w", profile, store.ErrConflict)
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM policy_members WHERE tenant_id = $1 AND (group_id = $2 OR kind = $3 AND member_id = $2)`,
			tenantID, id, store.MemberGroup)
		b.Queue(`DELETE FROM policy_groups WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		return nil, tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("deleting group %s: %w", id, err)
	}
	return nil
}

// memberExists checks that a member lives in the tenant.
func memberExists(ctx context.Context, q querier, tenantID string, m store.Member) error {
	what := m.Kind + " " + m.ID
	switch m.Kind {
	case store.MemberUser:
		return exists(ctx, q, what, `SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, m.ID)
	case store.MemberDevice:
		return exists(ctx, q, what, `SELECT 1 FROM devices WHERE tenant_id = $1 AND id = $2`, tenantID, m.ID)
	case store.MemberGroup:
		return groupExists(ctx, q, tenantID, m.ID)
	}
	return fmt.Errorf("member kind %q is not user, device or group: %w", m.Kind, store.ErrConflict)
}

// contains reports whether group from contains group target, itself or transitively.
func contains(ctx context.Context, q querier, tenantID, from, target string) (bool, error) {
	var found bool
	err := q.QueryRow(ctx, `WITH RECURSIVE sub (g) AS (
			SELECT $2::text COLLATE "C"
			UNION
			SELECT m.member_id FROM policy_members m JOIN sub ON m.group_id = sub.g
			WHERE m.tenant_id = $1 AND m.kind = $4)
		SELECT EXISTS (SELECT 1 FROM sub WHERE g = $3)`, tenantID, from, target, store.MemberGroup).Scan(&found)
	return found, err
}

// AddMembers adds members to a group in one transaction and bumps the policy version.
func (d *DB) AddMembers(ctx context.Context, tenantID, groupID string, members ...store.Member) error {
	for _, m := range members {
		if err := checkID("member id", m.ID); err != nil {
			return fmt.Errorf("adding members to group %s: %w", groupID, err)
		}
	}
	err := d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		if err := groupExists(ctx, tx, tenantID, groupID); err != nil {
			return nil, err
		}
		for _, m := range members {
			if err := memberExists(ctx, tx, tenantID, m); err != nil {
				return nil, err
			}
			if m.Kind == store.MemberGroup {
				cycle, err := contains(ctx, tx, tenantID, m.ID, groupID)
				if err != nil {
					return nil, err
				}
				if cycle {
					return nil, fmt.Errorf("group %s already contains group %s, adding it would make a cycle: %w", m.ID, groupID, store.ErrConflict)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO policy_members (tenant_id, group_id, kind, member_id) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, tenantID, groupID, m.Kind, m.ID)
			if err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("adding members to group %s: %w", groupID, err)
	}
	return nil
}

// RemoveMember removes a direct member and bumps the policy version; ErrNotFound when it is
// not one.
func (d *DB) RemoveMember(ctx context.Context, tenantID, groupID string, m store.Member) error {
	err := d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM policy_members WHERE tenant_id = $1 AND group_id = $2 AND kind = $3 AND member_id = $4`,
			tenantID, groupID, m.Kind, m.ID)
		if err == nil && tag.RowsAffected() == 0 {
			err = store.ErrNotFound
		}
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("removing %s %s from group %s: %w", m.Kind, m.ID, groupID, err)
	}
	return nil
}

// Members lists a group's direct members by kind then ID.
func (d *DB) Members(ctx context.Context, tenantID, groupID string) ([]store.Member, error) {
	var out []store.Member
	err := d.tx(ctx, txOptions{readOnly: true}, func(tx pgx.Tx) error {
		if err := groupExists(ctx, tx, tenantID, groupID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT kind, member_id FROM policy_members WHERE tenant_id = $1 AND group_id = $2
			ORDER BY kind, member_id`, tenantID, groupID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[store.Member])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing members of group %s: %w", groupID, err)
	}
	return out, nil
}

// CreateProfile stores a new profile at Version 1 and bumps the policy version.
func (d *DB) CreateProfile(ctx context.Context, p store.Profile) error {
	if err := checkID("tenant id", p.TenantID); err != nil {
		return fmt.Errorf("creating profile: %w", err)
	}
	if err := checkID("profile id", p.ID); err != nil {
		return fmt.Errorf("creating profile: %w", err)
	}
	now := d.now().UTC()
	p.Version = 1
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	p.UpdatedAt = now
	raw, err := encode(&p)
	if err != nil {
		return fmt.Errorf("creating profile: %w", err)
	}
	err = d.policyWrite(ctx, p.TenantID, func(tx pgx.Tx) (any, error) {
		if err := tenantExists(ctx, tx, p.TenantID); err != nil {
			return nil, err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO policy_profiles (tenant_id, id, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			p.TenantID, p.ID, raw)
		if err == nil && tag.RowsAffected() == 0 {
			err = store.ErrExists
		}
		return p, err
	})
	if err != nil {
		return fmt.Errorf("creating profile %s: %w", p.ID, err)
	}
	return nil
}

// Profile returns one profile of a tenant.
func (d *DB) Profile(ctx context.Context, tenantID, id string) (store.Profile, error) {
	var p store.Profile
	if err := d.getRecord(ctx, &p, `SELECT data FROM policy_profiles WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
		return store.Profile{}, fmt.Errorf("getting profile %s: %w", id, err)
	}
	return p, nil
}

// ListProfiles returns a tenant's profiles by ID.
func (d *DB) ListProfiles(ctx context.Context, tenantID string) ([]store.Profile, error) {
	out, err := listRecords[store.Profile](ctx, d, `SELECT data FROM policy_profiles WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing profiles: %w", err)
	}
	return out, nil
}

// UpdateProfile applies fn (once), increments Version and bumps the policy version.
func (d *DB) UpdateProfile(ctx context.Context, tenantID, id string, fn func(*store.Profile) error) error {
	err := d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		var old store.Profile
		err := getRecord(ctx, tx, &old, `SELECT data FROM policy_profiles WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id)
		if err != nil {
			return nil, err
		}
		p := old
		p.ScopeTags = slices.Clone(old.ScopeTags)
		p.Settings = slices.Clone(old.Settings)
		p.Raw = slices.Clone(old.Raw)
		if err := fn(&p); err != nil {
			return nil, err
		}
		if p.ID != old.ID || p.TenantID != old.TenantID {
			return nil, fmt.Errorf("changing profile id or tenant: %w", store.ErrConflict)
		}
		p.Version = old.Version + 1
		p.CreatedAt = old.CreatedAt
		p.UpdatedAt = d.now().UTC()
		raw, err := encode(&p)
		if err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `UPDATE policy_profiles SET data = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, raw)
		return p, err
	})
	if err != nil {
		return fmt.Errorf("updating profile %s: %w", id, err)
	}
	return nil
}

// DeleteProfile removes a profile and its assignments and bumps the policy version.
func (d *DB) DeleteProfile(ctx context.Context, tenantID, id string) error {
	err := d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM policy_profiles WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM policy_assignments WHERE tenant_id = $1 AND profile_id = $2`, tenantID, id)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("deleting profile %s: %w", id, err)
	}
	return nil
}

// SetAssignments replaces a profile's assignments: one row written and the policy version
// bumped, whatever the size of the groups.
func (d *DB) SetAssignments(ctx context.Context, tenantID, profileID string, as []store.Assignment) error {
	if as == nil {
		as = []store.Assignment{}
	}
	groups := []string{}
	for _, a := range as {
		switch a.Target {
		case store.TargetGroup, store.TargetExclusionGroup:
			groups = append(groups, a.GroupID)
		case store.TargetAllDevices, store.TargetAllLicensedUsers:
		default:
			return fmt.Errorf("assigning profile %s: assignment target %q: %w", profileID, a.Target, store.ErrConflict)
		}
	}
	raw, err := encode(as)
	if err != nil {
		return fmt.Errorf("assigning profile %s: %w", profileID, err)
	}
	err = d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		if err := profileExists(ctx, tx, tenantID, profileID); err != nil {
			return nil, err
		}
		for _, g := range groups {
			if err := groupExists(ctx, tx, tenantID, g); err != nil {
				return nil, err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO policy_assignments (tenant_id, profile_id, groups, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, profile_id) DO UPDATE SET groups = excluded.groups, data = excluded.data`,
			tenantID, profileID, groups, raw)
		return as, err
	})
	if err != nil {
		return fmt.Errorf("assigning profile %s: %w", profileID, err)
	}
	return nil
}

// Assignments returns a profile's assignments (empty when never assigned).
func (d *DB) Assignments(ctx context.Context, tenantID, profileID string) ([]store.Assignment, error) {
	var out []store.Assignment
	err := d.tx(ctx, txOptions{readOnly: true}, func(tx pgx.Tx) error {
		if err := profileExists(ctx, tx, tenantID, profileID); err != nil {
			return err
		}
		err := getRecord(ctx, tx, &out, `SELECT data FROM policy_assignments WHERE tenant_id = $1 AND profile_id = $2`, tenantID, profileID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("getting assignments of profile %s: %w", profileID, err)
	}
	return out, nil
}
