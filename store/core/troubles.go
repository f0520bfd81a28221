package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Setting troubles: for the overview's "profiles with settings in error or conflict",
// bTroubles counts, per tenant, profile and state (error, conflict), the setting states
// in that state naming the profile among their sources. PutSettingState and
// DeleteSettingState move the counts in the check-in's transaction, from the stored state
// to the new one; like the device counts, each count is spread over countShards rows chosen
// by device, so concurrent check-ins rarely wait on one row.

// troubled reports the (profile, state) pairs a setting state counts under.
func troubled(s *store.SettingState) [][2]string {
	if s == nil || (s.State != store.SettingError && s.State != store.SettingConflict) {
		return nil
	}
	out := make([][2]string, 0, len(s.Sources))
	for _, src := range s.Sources {
		out = append(out, [2]string{src, s.State})
	}
	return out
}

func troubleKey(tenantID, profileID, state, deviceID string) []byte {
	h := fnv.New32a()
	h.Write([]byte(deviceID))
	k := prefix(tenantID, len(profileID)+len(state)+3)
	k = append(append(k, profileID...), 0)
	k = append(append(k, state...), 0)
	return append(k, byte(h.Sum32()%countShards))
}

// moveTroubles updates the counts from old (nil: none stored) to now (nil: deleted).
func moveTroubles(w *wtx, tenantID, deviceID string, old, now *store.SettingState) error {
	from, to := troubled(old), troubled(now)
	var keys [][]byte
	deltas := map[string]int64{}
	for _, p := range from {
		deltas[string(troubleKey(tenantID, p[0], p[1], deviceID))]--
	}
	for _, p := range to {
		deltas[string(troubleKey(tenantID, p[0], p[1], deviceID))]++
	}
	for k, d := range deltas {
		if d != 0 {
			keys = append(keys, []byte(k))
		}
	}
	// Locked in key order, so two check-ins cannot wait for each other.
	sortKeys(keys)
	for _, k := range keys {
		if err := addCount(w, bTroubles, k, deltas[string(k)]); err != nil {
			return err
		}
	}
	return nil
}

// addCount adds delta to the count at k (deleting a count that reaches 0).
func addCount(w *wtx, b kv.Bucket, k []byte, delta int64) error {
	raw, err := w.GetForUpdate(b, k)
	if err != nil {
		return err
	}
	var n int64
	if len(raw) == 8 {
		n = int64(binary.BigEndian.Uint64(raw))
	}
	n += delta
	switch {
	case n <= 0:
		return w.Delete(b, k)
	case raw == nil:
		return lostRace(w.Insert(b, k, binary.BigEndian.AppendUint64(nil, uint64(n))), "count")
	}
	return w.Put(b, k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func sortKeys(keys [][]byte) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && bytes.Compare(keys[j-1], keys[j]) > 0; j-- {
			keys[j-1], keys[j] = keys[j], keys[j-1]
		}
	}
}

// SettingTroubles adds up the tenant's trouble counts per profile.
func (s *Store) SettingTroubles(ctx context.Context, tenantID string) (map[string]store.SettingTrouble, error) {
	if err := checkID("tenant id", tenantID); err != nil {
		return nil, fmt.Errorf("counting setting troubles: %w", err)
	}
	var out map[string]store.SettingTrouble
	err := s.view(ctx, func(tx kv.Tx) error {
		out = map[string]store.SettingTrouble{}
		p := prefix(tenantID, 0)
		return tx.Scan(bTroubles, kv.Span{Prefix: p}, func(k, v []byte) (bool, error) {
			// profile 0 state 0 shard
			body := k[len(p):]
			if len(body) < 4 || body[len(body)-2] != 0 || len(v) != 8 {
				return false, fmt.Errorf("malformed setting trouble count %x", k)
			}
			parts := bytes.Split(body[:len(body)-2], []byte{0})
			if len(parts) != 2 {
				return false, fmt.Errorf("malformed setting trouble count %x", k)
			}
			t := out[string(parts[0])]
			n := int(binary.BigEndian.Uint64(v))
			if string(parts[1]) == store.SettingError {
				t.Error += n
			} else {
				t.Conflict += n
			}
			out[string(parts[0])] = t
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("counting setting troubles of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// recountTroubles counts every stored setting state (the migration to format 3).
func recountTroubles(w *wtx) error {
	var states []store.SettingState
	err := w.Scan(bSettings, kv.Span{}, func(_, v []byte) (bool, error) {
		var st store.SettingState
		if err := unmarshal(v, &st); err != nil {
			return false, err
		}
		if troubled(&st) != nil {
			states = append(states, st)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for i := range states {
		if err := moveTroubles(w, states[i].TenantID, states[i].DeviceID, nil, &states[i]); err != nil {
			return err
		}
	}
	return nil
}
