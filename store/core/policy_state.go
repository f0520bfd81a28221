package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// settingsPage is how many setting states ListSettingStates reads per read transaction.
const settingsPage = 256

// PolicyVersion returns the tenant's policy version (0 before the first change).
func (s *Store) PolicyVersion(ctx context.Context, tenantID string) (uint64, error) {
	if err := checkID("tenant id", tenantID); err != nil {
		return 0, fmt.Errorf("getting policy version: %w", err)
	}
	var v uint64
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		v, err = versionOf(tx, tenantID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("getting policy version: %w", err)
	}
	return v, nil
}

// PolicyCheck reads the device, its resolution record and its tenant's policy version in one
// read transaction: three indexed reads, no lock (check-ins never wait on policy writes).
func (s *Store) PolicyCheck(ctx context.Context, deviceID string) (store.PolicyCheck, error) {
	if err := checkID("device id", deviceID); err != nil {
		return store.PolicyCheck{}, fmt.Errorf("checking policy: %w", err)
	}
	var pc store.PolicyCheck
	err := s.view(ctx, func(tx kv.Tx) error {
		pc = store.PolicyCheck{}
		if err := getJSON(tx, bDevices, []byte(deviceID), &pc.Device); err != nil {
			return err
		}
		raw, err := tx.Get(bDevicePolicy, []byte(deviceID))
		if err != nil {
			return err
		}
		if raw != nil {
			if err := unmarshal(raw, &pc.Resolved); err != nil {
				return err
			}
			pc.HasResolved = true
		}
		if pc.Device.TenantID != "" {
			pc.TenantVersion, err = versionOf(tx, pc.Device.TenantID)
		}
		return err
	})
	if err != nil {
		return store.PolicyCheck{}, fmt.Errorf("checking policy of device %s: %w", deviceID, err)
	}
	return pc, nil
}

// PolicySnapshot reads the tenant's groups, members, profiles, assignments, user IDs and
// policy version in one read transaction.
func (s *Store) PolicySnapshot(ctx context.Context, tenantID string) (store.PolicySnapshot, error) {
	var ps store.PolicySnapshot
	err := s.view(ctx, func(tx kv.Tx) error {
		ps = store.PolicySnapshot{TenantID: tenantID, Members: map[string][]store.Member{}, Assignments: map[string][]store.Assignment{}}
		if err := tenantExists(tx, tenantID); err != nil {
			return err
		}
		var err error
		if ps.Version, err = versionOf(tx, tenantID); err != nil {
			return err
		}
		tp := prefix(tenantID, 0)
		if ps.Groups, err = scanRecords[store.Group](tx, bGroups, tp); err != nil {
			return err
		}
		err = tx.Scan(bMembers, kv.Span{Prefix: tp, KeysOnly: true}, func(k, _ []byte) (bool, error) {
			group, ref, ok := splitOwner(k[len(tp):])
			if !ok {
				return false, errors.New("malformed member key")
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
		err = tx.Scan(bAssignments, kv.Span{Prefix: tp}, func(k, v []byte) (bool, error) {
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
		return tx.Scan(bUsers, kv.Span{Prefix: tp, KeysOnly: true}, func(k, _ []byte) (bool, error) {
			ps.UserIDs = append(ps.UserIDs, string(k[len(tp):]))
			return true, nil
		})
	})
	if err != nil {
		return store.PolicySnapshot{}, fmt.Errorf("reading policy of tenant %s: %w", tenantID, err)
	}
	return ps, nil
}

// SettingStates lists a device's setting states by LocURI.
func (s *Store) SettingStates(ctx context.Context, deviceID string) ([]store.SettingState, error) {
	if err := checkID("device id", deviceID); err != nil {
		return nil, fmt.Errorf("listing setting states: %w", err)
	}
	var out []store.SettingState
	err := s.view(ctx, func(tx kv.Tx) error {
		var dev store.Device
		if err := getJSON(tx, bDevices, []byte(deviceID), &dev); err != nil {
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

func settingsTx(tx kv.Tx, tenantID, deviceID string) ([]store.SettingState, error) {
	return scanRecords[store.SettingState](tx, bSettings, prefix2(tenantID, deviceID, 0))
}

// ListSettingStates streams the tenant's setting states by device then LocURI, a page of
// settingsPage states per read transaction, calling fn outside any transaction (fn may use
// the store; a long walk holds no snapshot or connection).
func (s *Store) ListSettingStates(ctx context.Context, tenantID string, fn func(store.SettingState) (bool, error)) error {
	tp := prefix(tenantID, 0)
	var start []byte
	for {
		page := make([]store.SettingState, 0, settingsPage)
		err := s.view(ctx, func(tx kv.Tx) error {
			page = page[:0]
			return tx.Scan(bSettings, kv.Span{Prefix: tp, Start: start}, func(k, v []byte) (bool, error) {
				var st store.SettingState
				if err := unmarshal(v, &st); err != nil {
					return false, err
				}
				page = append(page, st)
				if len(page) == settingsPage {
					// The next page starts right after this key.
					start = append(cloneBytes(k), 0)
					return false, nil
				}
				return true, nil
			})
		})
		if err != nil {
			return fmt.Errorf("listing setting states of tenant %s: %w", tenantID, err)
		}
		for _, st := range page {
			more, err := fn(st)
			if err != nil || !more {
				return err
			}
		}
		if len(page) < settingsPage {
			return nil
		}
	}
}

// settingKey is the key of one setting state of this transaction's device, and the device.
func (t *deviceTx) settingKey(locURI string) ([]byte, store.Device, error) {
	dev, err := t.Device()
	if err != nil {
		return nil, dev, err
	}
	return append(prefix2(dev.TenantID, t.id, len(locURI)), locURI...), dev, nil
}

// SettingStates lists this device's setting states by LocURI.
func (t *deviceTx) SettingStates() ([]store.SettingState, error) {
	dev, err := t.Device()
	if err != nil {
		return nil, fmt.Errorf("listing setting states: %w", err)
	}
	out, err := settingsTx(t.w, dev.TenantID, t.id)
	if err != nil {
		return nil, fmt.Errorf("listing setting states of device %s: %w", t.id, err)
	}
	return out, nil
}

// PutSettingState writes one setting state of this device.
func (t *deviceTx) PutSettingState(s store.SettingState) error {
	if s.LocURI == "" || len(s.LocURI) > store.MaxIDLen || strings.ContainsRune(s.LocURI, 0) {
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
	old, err := t.storedSetting(k)
	if err != nil {
		return fmt.Errorf("putting setting state %s: %w", s.LocURI, err)
	}
	if err := moveTroubles(t.w, dev.TenantID, t.id, old, &s); err != nil {
		return fmt.Errorf("putting setting state %s: counting troubles: %w", s.LocURI, err)
	}
	if err := moveProfileStatus(t.w, dev.TenantID, t.id, k, old, &s); err != nil {
		return fmt.Errorf("putting setting state %s: indexing profile status: %w", s.LocURI, err)
	}
	if err := putJSON(t.w, bSettings, k, &s); err != nil {
		return fmt.Errorf("putting setting state %s: %w", s.LocURI, err)
	}
	return nil
}

// storedSetting reads the setting state at k (nil when there is none).
func (t *deviceTx) storedSetting(k []byte) (*store.SettingState, error) {
	raw, err := t.w.Get(bSettings, k)
	if err != nil || raw == nil {
		return nil, err
	}
	var s store.SettingState
	if err := unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteSettingState removes one setting state of this device (absent is not an error).
func (t *deviceTx) DeleteSettingState(locURI string) error {
	k, dev, err := t.settingKey(locURI)
	if err != nil {
		return fmt.Errorf("deleting setting state: %w", err)
	}
	old, err := t.storedSetting(k)
	if err == nil {
		err = moveTroubles(t.w, dev.TenantID, t.id, old, nil)
	}
	if err == nil {
		err = moveProfileStatus(t.w, dev.TenantID, t.id, k, old, nil)
	}
	if err != nil {
		return fmt.Errorf("deleting setting state %s: %w", locURI, err)
	}
	if err := t.w.Delete(bSettings, k); err != nil {
		return fmt.Errorf("deleting setting state %s: %w", locURI, err)
	}
	return nil
}

// DevicePolicy returns what this device was last resolved from.
func (t *deviceTx) DevicePolicy() (store.DevicePolicy, bool, error) {
	var p store.DevicePolicy
	raw, err := t.w.Get(bDevicePolicy, []byte(t.id))
	if err != nil {
		return p, false, fmt.Errorf("getting policy record of device %s: %w", t.id, err)
	}
	if raw == nil {
		return p, false, nil
	}
	if err := unmarshal(raw, &p); err != nil {
		return store.DevicePolicy{}, false, fmt.Errorf("getting policy record of device %s: %w", t.id, err)
	}
	return p, true, nil
}

// PolicyVersion reads the tenant's policy version in the check-in's transaction.
func (t *deviceTx) PolicyVersion(tenantID string) (uint64, error) {
	if checkID("tenant id", tenantID) != nil {
		return 0, nil // no tenant with an ID that cannot be stored has a policy
	}
	v, err := versionOf(t.w, tenantID)
	if err != nil {
		return 0, fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	return v, nil
}

// PutDevicePolicy records what this device was resolved from.
func (t *deviceTx) PutDevicePolicy(p store.DevicePolicy) error {
	if err := putJSON(t.w, bDevicePolicy, []byte(t.id), &p); err != nil {
		return fmt.Errorf("putting policy record of device %s: %w", t.id, err)
	}
	return nil
}
