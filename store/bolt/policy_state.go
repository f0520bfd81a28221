package bolt

import (
	"context"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// PolicyVersion returns the tenant's policy version (0 before the first change).
func (d *DB) PolicyVersion(ctx context.Context, tenantID string) (uint64, error) {
	var v uint64
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		v = versionOf(tx, tenantID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("getting policy version: %w", err)
	}
	return v, nil
}

// PolicyCheck reads the device, its resolution record and its tenant's policy version in one
// read transaction: three indexed reads.
func (d *DB) PolicyCheck(ctx context.Context, deviceID string) (store.PolicyCheck, error) {
	var pc store.PolicyCheck
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if err := getJSON(bucket(tx, bDevices), []byte(deviceID), &pc.Device); err != nil {
			return err
		}
		if raw := get(tx, bDevicePolicy, []byte(deviceID)); raw != nil {
			if err := unmarshal(raw, &pc.Resolved); err != nil {
				return err
			}
			pc.HasResolved = true
		}
		pc.TenantVersion = versionOf(tx, pc.Device.TenantID)
		return nil
	})
	if err != nil {
		return store.PolicyCheck{}, fmt.Errorf("checking policy of device %s: %w", deviceID, err)
	}
	return pc, nil
}

// PolicySnapshot reads the tenant's groups, members, profiles, assignments, user IDs and
// policy version in one read transaction.
func (d *DB) PolicySnapshot(ctx context.Context, tenantID string) (store.PolicySnapshot, error) {
	ps := store.PolicySnapshot{TenantID: tenantID, Members: map[string][]store.Member{}, Assignments: map[string][]store.Assignment{}}
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if err := tenantExists(tx, tenantID); err != nil {
			return err
		}
		ps.Version = versionOf(tx, tenantID)
		tp := prefix(tenantID, 0)
		var err error
		if ps.Groups, err = scanRecords[store.Group](tx, bGroups, tp); err != nil {
			return err
		}
		err = scan(tx, bMembers, tp, func(k, _ []byte) (bool, error) {
			group, ref, ok := splitOwner(k[len(tp):])
			if !ok {
				return false, fmt.Errorf("malformed member key")
			}
			ps.Members[group] = append(ps.Members[group], parseMemberRef(ref))
			return true, nil
		})
		if err != nil {
			return err
		}
		if ps.Profiles, err = scanRecords[store.Profile](tx, bProfiles, tp); err != nil {
			return err
		}
		err = scan(tx, bAssignments, tp, func(k, v []byte) (bool, error) {
			var as []store.Assignment
			if err := unmarshal(v, &as); err != nil {
				return false, err
			}
			ps.Assignments[string(k[len(tp):])] = as
			return true, nil
		})
		if err != nil {
			return err
		}
		return scan(tx, bUsers, tp, func(k, _ []byte) (bool, error) {
			ps.UserIDs = append(ps.UserIDs, string(k[len(tp):]))
			return true, nil
		})
	})
	if err != nil {
		return store.PolicySnapshot{}, fmt.Errorf("reading policy of tenant %s: %w", tenantID, err)
	}
	return ps, nil
}

// splitOwner splits a length-prefixed owner from the rest of a key.
func splitOwner(k []byte) (owner, rest string, ok bool) {
	if len(k) < 2 {
		return "", "", false
	}
	n := int(k[0])<<8 | int(k[1])
	if len(k) < 2+n {
		return "", "", false
	}
	return string(k[2 : 2+n]), string(k[2+n:]), true
}

// SettingStates lists a device's setting states by LocURI.
func (d *DB) SettingStates(ctx context.Context, deviceID string) ([]store.SettingState, error) {
	var out []store.SettingState
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var dev store.Device
		if err := getJSON(bucket(tx, bDevices), []byte(deviceID), &dev); err != nil {
			return err
		}
		var err error
		out, err = settingsTx(tx, dev.TenantID, deviceID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing setting states of device %s: %w", deviceID, err)
	}
	return out, nil
}

func settingsTx(tx *bbolt.Tx, tenantID, deviceID string) ([]store.SettingState, error) {
	return scanRecords[store.SettingState](tx, bSettings, prefix2(tenantID, deviceID, 0))
}

// ListSettingStates streams the tenant's setting states by device then LocURI. The read
// transaction stays open while fn runs.
func (d *DB) ListSettingStates(ctx context.Context, tenantID string, fn func(store.SettingState) (bool, error)) error {
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx, bSettings, prefix(tenantID, 0), func(_, v []byte) (bool, error) {
			var s store.SettingState
			if err := unmarshal(v, &s); err != nil {
				return false, err
			}
			return fn(s)
		})
	})
	if err != nil {
		return fmt.Errorf("listing setting states of tenant %s: %w", tenantID, err)
	}
	return nil
}

// settingKey is the key of one setting state of this transaction's device.
func (t *deviceTx) settingKey(locURI string) ([]byte, store.Device, error) {
	dev, err := t.device()
	if err != nil {
		return nil, dev, err
	}
	return append(prefix2(dev.TenantID, t.id, len(locURI)), locURI...), dev, nil
}

// SettingStates lists this device's setting states by LocURI.
func (t *deviceTx) SettingStates() ([]store.SettingState, error) {
	dev, err := t.device()
	if err != nil {
		return nil, err
	}
	out, err := settingsTx(t.tx, dev.TenantID, t.id)
	if err != nil {
		return nil, fmt.Errorf("listing setting states of device %s: %w", t.id, err)
	}
	return out, nil
}

// PutSettingState writes one setting state of this device.
func (t *deviceTx) PutSettingState(s store.SettingState) error {
	if s.LocURI == "" || len(s.LocURI) > maxIDLen || strings.ContainsRune(s.LocURI, 0) {
		return fmt.Errorf("putting setting state: invalid LocURI %q", s.LocURI)
	}
	k, dev, err := t.settingKey(s.LocURI)
	if err != nil {
		return fmt.Errorf("putting setting state: %w", err)
	}
	if s.DeviceID != "" && s.DeviceID != t.id || s.TenantID != "" && s.TenantID != dev.TenantID {
		return fmt.Errorf("putting a setting state of device %s in a check-in of %s: %w", s.DeviceID, t.id, store.ErrConflict)
	}
	s.DeviceID, s.TenantID = t.id, dev.TenantID
	b, err := wb(t.tx, bSettings)
	if err != nil {
		return err
	}
	if err := putJSON(b, k, &s); err != nil {
		return fmt.Errorf("putting setting state %s: %w", s.LocURI, err)
	}
	return nil
}

// DeleteSettingState removes one setting state of this device (absent is not an error).
func (t *deviceTx) DeleteSettingState(locURI string) error {
	k, _, err := t.settingKey(locURI)
	if err != nil {
		return fmt.Errorf("deleting setting state: %w", err)
	}
	b, err := wb(t.tx, bSettings)
	if err != nil {
		return err
	}
	return b.Delete(k)
}

// DevicePolicy returns what this device was last resolved from.
func (t *deviceTx) DevicePolicy() (store.DevicePolicy, bool, error) {
	var p store.DevicePolicy
	raw := get(t.tx, bDevicePolicy, []byte(t.id))
	if raw == nil {
		return p, false, nil
	}
	if err := unmarshal(raw, &p); err != nil {
		return p, false, fmt.Errorf("getting policy record of device %s: %w", t.id, err)
	}
	return p, true, nil
}

// PutDevicePolicy records what this device was resolved from.
func (t *deviceTx) PutDevicePolicy(p store.DevicePolicy) error {
	b, err := wb(t.tx, bDevicePolicy)
	if err != nil {
		return err
	}
	if err := putJSON(b, []byte(t.id), &p); err != nil {
		return fmt.Errorf("putting policy record of device %s: %w", t.id, err)
	}
	return nil
}
