package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// settingsPage is how many setting states ListSettingStates reads per query.
const settingsPage = 256

// PolicyVersion returns the tenant's policy version (0 before the first change).
func (d *DB) PolicyVersion(ctx context.Context, tenantID string) (uint64, error) {
	var v int64
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT coalesce((SELECT version FROM policy_versions WHERE tenant_id = $1), 0)`, tenantID).Scan(&v)
	})
	if err != nil {
		return 0, fmt.Errorf("getting policy version: %w", err)
	}
	return uint64(v), nil
}

// PolicyCheck reads the device, its resolution record and its tenant's policy version in
// one statement.
func (d *DB) PolicyCheck(ctx context.Context, deviceID string) (store.PolicyCheck, error) {
	var (
		pc             store.PolicyCheck
		devRaw, polRaw []byte
		version        int64
	)
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT d.data, p.data, coalesce(v.version, 0) FROM devices d
			LEFT JOIN device_policies p ON p.device_id = d.id
			LEFT JOIN policy_versions v ON v.tenant_id = d.tenant_id
			WHERE d.id = $1`, deviceID).Scan(&devRaw, &polRaw, &version)
		if err != nil {
			return notFound(err)
		}
		if err := decode(devRaw, &pc.Device); err != nil {
			return err
		}
		if polRaw != nil {
			if err := decode(polRaw, &pc.Resolved); err != nil {
				return err
			}
			pc.HasResolved = true
		}
		pc.TenantVersion = uint64(version)
		return nil
	})
	if err != nil {
		return store.PolicyCheck{}, fmt.Errorf("checking policy of device %s: %w", deviceID, err)
	}
	return pc, nil
}

// PolicySnapshot reads the tenant's groups, members, profiles, assignments, user IDs and
// policy version from one REPEATABLE READ snapshot.
func (d *DB) PolicySnapshot(ctx context.Context, tenantID string) (store.PolicySnapshot, error) {
	var ps store.PolicySnapshot
	err := d.tx(ctx, txOptions{readOnly: true}, func(tx pgx.Tx) error {
		ps = store.PolicySnapshot{TenantID: tenantID, Members: map[string][]store.Member{}, Assignments: map[string][]store.Assignment{}}
		if err := tenantExists(ctx, tx, tenantID); err != nil {
			return err
		}
		var v int64
		err := tx.QueryRow(ctx, `SELECT coalesce((SELECT version FROM policy_versions WHERE tenant_id = $1), 0)`, tenantID).Scan(&v)
		if err != nil {
			return err
		}
		ps.Version = uint64(v)
		if ps.Groups, err = collectRecords[store.Group](ctx, tx, `SELECT data FROM policy_groups WHERE tenant_id = $1 ORDER BY id`, tenantID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT group_id, kind, member_id FROM policy_members WHERE tenant_id = $1
			ORDER BY group_id, kind, member_id`, tenantID)
		if err != nil {
			return err
		}
		var group string
		var m store.Member
		if _, err := pgx.ForEachRow(rows, []any{&group, &m.Kind, &m.ID}, func() error {
			ps.Members[group] = append(ps.Members[group], m)
			return nil
		}); err != nil {
			return err
		}
		if ps.Profiles, err = collectRecords[store.Profile](ctx, tx, `SELECT data FROM policy_profiles WHERE tenant_id = $1 ORDER BY id`, tenantID); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT profile_id, data FROM policy_assignments WHERE tenant_id = $1 ORDER BY profile_id`, tenantID)
		if err != nil {
			return err
		}
		var (
			profile string
			raw     []byte
		)
		if _, err := pgx.ForEachRow(rows, []any{&profile, &raw}, func() error {
			var as []store.Assignment
			if err := decode(raw, &as); err != nil {
				return err
			}
			ps.Assignments[profile] = as
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT id FROM users WHERE tenant_id = $1 ORDER BY id`, tenantID)
		if err != nil {
			return err
		}
		ps.UserIDs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return store.PolicySnapshot{}, fmt.Errorf("reading policy of tenant %s: %w", tenantID, err)
	}
	return ps, nil
}

const selectSettings = `SELECT data FROM setting_states WHERE tenant_id = $1 AND device_id = $2 ORDER BY loc_uri`

// SettingStates lists a device's setting states by LocURI.
func (d *DB) SettingStates(ctx context.Context, deviceID string) ([]store.SettingState, error) {
	var out []store.SettingState
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		var tenantID string
		if err := c.QueryRow(ctx, `SELECT tenant_id FROM devices WHERE id = $1`, deviceID).Scan(&tenantID); err != nil {
			return notFound(err)
		}
		var err error
		out, err = collectRecords[store.SettingState](ctx, c, selectSettings, tenantID, deviceID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing setting states of device %s: %w", deviceID, err)
	}
	return out, nil
}

// ListSettingStates streams the tenant's setting states by device then LocURI, a page per
// query, calling fn while holding no connection.
func (d *DB) ListSettingStates(ctx context.Context, tenantID string, fn func(store.SettingState) (bool, error)) error {
	var afterDevice, afterURI string
	first := true
	for {
		var page []store.SettingState
		err := d.withConn(ctx, func(c *pgx.Conn) error {
			var err error
			page, err = collectRecords[store.SettingState](ctx, c, `SELECT data FROM setting_states
				WHERE tenant_id = $1 AND ($2 OR (device_id, loc_uri) > ($3, $4))
				ORDER BY device_id, loc_uri LIMIT $5`, tenantID, first, afterDevice, afterURI, settingsPage)
			return err
		})
		if err != nil {
			return fmt.Errorf("listing setting states of tenant %s: %w", tenantID, err)
		}
		for _, s := range page {
			more, err := fn(s)
			if err != nil || !more {
				return err
			}
		}
		if len(page) < settingsPage {
			return nil
		}
		first = false
		afterDevice, afterURI = page[len(page)-1].DeviceID, page[len(page)-1].LocURI
	}
}

// SettingStates lists this device's setting states by LocURI.
func (t *deviceTx) SettingStates() ([]store.SettingState, error) {
	if t.raw == nil {
		return nil, fmt.Errorf("listing setting states: device %s: %w", t.id, store.ErrNotFound)
	}
	out, err := collectRecords[store.SettingState](t.ctx, t.tx, selectSettings, t.tenantID, t.id)
	if err != nil {
		return nil, fmt.Errorf("listing setting states of device %s: %w", t.id, mapErr(err))
	}
	return out, nil
}

// PutSettingState writes one setting state of this device.
func (t *deviceTx) PutSettingState(s store.SettingState) error {
	if s.LocURI == "" || len(s.LocURI) > maxIDLen || strings.ContainsRune(s.LocURI, 0) {
		return fmt.Errorf("putting setting state: invalid LocURI %q", s.LocURI)
	}
	if t.raw == nil {
		return fmt.Errorf("putting setting state: device %s: %w", t.id, store.ErrNotFound)
	}
	if s.DeviceID != "" && s.DeviceID != t.id || s.TenantID != "" && s.TenantID != t.tenantID {
		return fmt.Errorf("putting a setting state of device %s in a check-in of %s: %w", s.DeviceID, t.id, store.ErrConflict)
	}
	s.DeviceID, s.TenantID = t.id, t.tenantID
	raw, err := encode(&s)
	if err != nil {
		return fmt.Errorf("putting setting state %s: %w", s.LocURI, err)
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO setting_states (tenant_id, device_id, loc_uri, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, device_id, loc_uri) DO UPDATE SET data = excluded.data`, t.tenantID, t.id, s.LocURI, raw)
	if err != nil {
		return fmt.Errorf("putting setting state %s: %w", s.LocURI, mapErr(err))
	}
	return nil
}

// DeleteSettingState removes one setting state of this device (absent is not an error).
func (t *deviceTx) DeleteSettingState(locURI string) error {
	if t.raw == nil {
		return fmt.Errorf("deleting setting state: device %s: %w", t.id, store.ErrNotFound)
	}
	_, err := t.tx.Exec(t.ctx, `DELETE FROM setting_states WHERE tenant_id = $1 AND device_id = $2 AND loc_uri = $3`,
		t.tenantID, t.id, col(locURI))
	if err != nil {
		return fmt.Errorf("deleting setting state %s: %w", locURI, mapErr(err))
	}
	return nil
}

// DevicePolicy returns what this device was last resolved from.
func (t *deviceTx) DevicePolicy() (store.DevicePolicy, bool, error) {
	var p store.DevicePolicy
	err := getRecord(t.ctx, t.tx, &p, `SELECT data FROM device_policies WHERE device_id = $1`, t.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.DevicePolicy{}, false, nil
	case err != nil:
		return store.DevicePolicy{}, false, fmt.Errorf("getting policy record of device %s: %w", t.id, mapErr(err))
	}
	return p, true, nil
}

// PutDevicePolicy records what this device was resolved from.
func (t *deviceTx) PutDevicePolicy(p store.DevicePolicy) error {
	raw, err := encode(&p)
	if err != nil {
		return fmt.Errorf("putting policy record of device %s: %w", t.id, err)
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO device_policies (device_id, data) VALUES ($1, $2)
		ON CONFLICT (device_id) DO UPDATE SET data = excluded.data`, t.id, raw)
	if err != nil {
		return fmt.Errorf("putting policy record of device %s: %w", t.id, mapErr(err))
	}
	return nil
}
