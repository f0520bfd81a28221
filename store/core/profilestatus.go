package core

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// The profile status index answers a profile's status report (its device × setting rows and
// their counts by state) without reading the tenant's other setting states
// (store.PolicyReads.QueryProfileStatus, ProfileStatusCounts). PutSettingState and
// DeleteSettingState write it in the check-in's transaction, from the stored state to the
// new one, for each profile the state names among its Sources (each once):
//
//   - bProfStatus, under prefix(tenant)+prefix(profile):
//     'a' prefix(device) LocURI            every setting state naming the profile;
//     's' state 0 prefix(device) LocURI    the same, by state;
//     the part after the kind (and state) is the setting state's key in bSettings after
//     prefix(tenant), so a page is one scan of keys and one GetMany of the records, in the
//     order the report always had (device ID, then LocURI). The 'a' entry is written only
//     when the state starts or stops naming the profile, the 's' entries when its state
//     changes: a check-in that rewrites a state without changing either writes nothing here.
//   - bProfCounts: prefix(tenant)+prefix(profile)+state+0+shard → count (8 bytes), spread
//     over countShards rows chosen by device like the device and trouble counts, locked in
//     key order.
//
// Nothing else writes setting states (a retired device keeps its states, a deleted profile's
// states keep naming it until the devices remove its settings, as the report shows them),
// so only the tenant's deletion removes index entries besides those two. Format version 6
// builds the index of a database of an earlier version (buildProfileStatus).

// Profile status entry kinds.
const (
	profAll   = 'a'
	profState = 's'
)

// profPrefix is prefix(tenant)+prefix(profile).
func profPrefix(tenantID, profileID string, extra int) []byte {
	return prefix2(tenantID, profileID, extra)
}

// profEntry is the 'a' entry (state "") or the 's' entry of a state, of the setting whose
// bSettings key after prefix(tenant) is rest.
func profEntry(tenantID, profileID, state string, rest []byte) []byte {
	k := profPrefix(tenantID, profileID, 2+len(state)+len(rest))
	if state == "" {
		k = append(k, profAll)
	} else {
		k = append(append(append(k, profState), state...), 0)
	}
	return append(k, rest...)
}

func profCountKey(tenantID, profileID, state, deviceID string) []byte {
	h := fnv.New32a()
	h.Write([]byte(deviceID))
	k := profPrefix(tenantID, profileID, len(state)+2)
	k = append(append(k, state...), 0)
	return append(k, byte(h.Sum32()%countShards))
}

// sourcesOf is the profiles a setting state names, each once (none for nil).
func sourcesOf(s *store.SettingState) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, p := range s.Sources {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// profileCounts accumulates count changes, written in key order by flush.
type profileCounts map[string]int64

func (c profileCounts) flush(w *wtx) error {
	keys := make([][]byte, 0, len(c))
	for k, d := range c {
		if d != 0 {
			keys = append(keys, []byte(k))
		}
	}
	sortKeys(keys)
	for _, k := range keys {
		if err := addCount(w, bProfCounts, k, c[string(k)]); err != nil {
			return err
		}
	}
	return nil
}

// indexProfileStatus moves the setting at k (its bSettings key) from old (nil: none stored)
// to now (nil: deleted) in the index, adding the count changes to counts.
func indexProfileStatus(w *wtx, tenantID, deviceID string, k []byte, old, now *store.SettingState, counts profileCounts) error {
	rest := k[2+len(tenantID):]
	was, is := sourcesOf(old), sourcesOf(now)
	for _, p := range was {
		gone := !slices.Contains(is, p)
		if !gone && old.State == now.State {
			continue
		}
		if gone {
			if err := w.Delete(bProfStatus, profEntry(tenantID, p, "", rest)); err != nil {
				return err
			}
		}
		if err := w.Delete(bProfStatus, profEntry(tenantID, p, old.State, rest)); err != nil {
			return err
		}
		counts[string(profCountKey(tenantID, p, old.State, deviceID))]--
		if !gone {
			if err := w.Put(bProfStatus, profEntry(tenantID, p, now.State, rest), nil); err != nil {
				return err
			}
			counts[string(profCountKey(tenantID, p, now.State, deviceID))]++
		}
	}
	for _, p := range is {
		if slices.Contains(was, p) {
			continue
		}
		if err := w.Put(bProfStatus, profEntry(tenantID, p, "", rest), nil); err != nil {
			return err
		}
		if err := w.Put(bProfStatus, profEntry(tenantID, p, now.State, rest), nil); err != nil {
			return err
		}
		counts[string(profCountKey(tenantID, p, now.State, deviceID))]++
	}
	return nil
}

// moveProfileStatus is indexProfileStatus for one setting state write, with its counts.
func moveProfileStatus(w *wtx, tenantID, deviceID string, k []byte, old, now *store.SettingState) error {
	counts := profileCounts{}
	if err := indexProfileStatus(w, tenantID, deviceID, k, old, now, counts); err != nil {
		return err
	}
	return counts.flush(w)
}

// ProfileStatusCounts adds up the profile's count rows.
func (s *Store) ProfileStatusCounts(ctx context.Context, tenantID, profileID string) (map[string]int, error) {
	if err := checkID("tenant id", tenantID); err != nil {
		return nil, fmt.Errorf("counting profile status: %w", err)
	}
	var out map[string]int
	err := s.view(ctx, func(tx kv.Tx) error {
		out = map[string]int{}
		for _, st := range []string{store.SettingSucceeded, store.SettingPending, store.SettingError, store.SettingConflict, store.SettingNotApplicable, store.SettingRemoved} {
			out[st] = 0
		}
		p := profPrefix(tenantID, profileID, 0)
		return tx.Scan(bProfCounts, kv.Span{Prefix: p}, func(k, v []byte) (bool, error) {
			body := k[len(p):] // state 0 shard
			if len(body) < 2 || body[len(body)-2] != 0 || len(v) != 8 {
				return false, fmt.Errorf("malformed profile status count %x", k)
			}
			out[string(body[:len(body)-2])] += int(binary.BigEndian.Uint64(v))
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("counting the status of profile %s: %w", profileID, err)
	}
	return out, nil
}

// QueryProfileStatus reads up to Limit+1 index keys from the skip token on, then the rows'
// setting states, device summaries and (when asked) device records, one GetMany each.
func (s *Store) QueryProfileStatus(ctx context.Context, q store.ProfileStatusQuery) (store.ProfileStatusPage, error) {
	if err := checkID("tenant id", q.TenantID); err != nil {
		return store.ProfileStatusPage{}, fmt.Errorf("listing profile status: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultProfileStatusPage
	}
	limit = min(limit, store.MaxProfileStatusPage)
	span := kv.Span{Prefix: profEntry(q.TenantID, q.ProfileID, q.State, nil), KeysOnly: true}
	if q.After != "" {
		k, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || !bytes.HasPrefix(k, span.Prefix) || len(k) == len(span.Prefix) {
			return store.ProfileStatusPage{}, fmt.Errorf("listing profile status: %w", store.ErrInvalidCursor)
		}
		span.Start = append(k, 0)
	}
	var page store.ProfileStatusPage
	err := s.view(ctx, func(tx kv.Tx) error {
		page = store.ProfileStatusPage{}
		var keys [][]byte // bSettings keys
		var last []byte
		err := tx.Scan(bProfStatus, span, func(k, _ []byte) (bool, error) {
			if len(keys) == limit {
				page.Next = base64.RawURLEncoding.EncodeToString(last)
				return false, nil
			}
			last = cloneBytes(k)
			keys = append(keys, append(prefix(q.TenantID, len(k)), k[len(span.Prefix):]...))
			return true, nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		return readStatusRows(tx, q, keys, &page)
	})
	if err != nil {
		return store.ProfileStatusPage{}, fmt.Errorf("listing the status of profile %s: %w", q.ProfileID, err)
	}
	return page, nil
}

// readStatusRows fills page with the setting states at keys and their devices' names.
func readStatusRows(tx kv.Tx, q store.ProfileStatusQuery, keys [][]byte, page *store.ProfileStatusPage) error {
	vals, err := tx.GetMany(bSettings, keys)
	if err != nil {
		return err
	}
	var ids [][]byte
	page.Rows = make([]store.ProfileStatusRow, 0, len(keys))
	for i, raw := range vals {
		if raw == nil {
			return fmt.Errorf("profile status entry %x without its setting state", keys[i])
		}
		var row store.ProfileStatusRow
		if err := unmarshal(raw, &row.SettingState); err != nil {
			return err
		}
		if n := len(page.Rows); n == 0 || page.Rows[n-1].DeviceID != row.DeviceID {
			ids = append(ids, []byte(row.DeviceID))
		}
		page.Rows = append(page.Rows, row)
	}
	sums, err := tx.GetMany(bDevSummary, ids)
	if err != nil {
		return err
	}
	names := make(map[string]devSummary, len(ids))
	for i, raw := range sums {
		var sum devSummary
		if raw != nil {
			if err := unmarshal(raw, &sum); err != nil {
				return err
			}
		}
		names[string(ids[i])] = sum
	}
	for i := range page.Rows {
		sum := names[page.Rows[i].DeviceID]
		page.Rows[i].DeviceName, page.Rows[i].UPN = sum.Name, sum.UPN
	}
	if !q.Devices {
		return nil
	}
	devs, err := tx.GetMany(bDevices, ids)
	if err != nil {
		return err
	}
	page.Devices = make(map[string]store.Device, len(ids))
	for i, raw := range devs {
		if raw == nil {
			continue
		}
		var d store.Device
		if err := unmarshal(raw, &d); err != nil {
			return err
		}
		page.Devices[string(ids[i])] = d
	}
	return nil
}

// buildProfileStatus writes the profile status index of every stored setting state (the
// migration to format 6), its counts added up first and written once per row.
func buildProfileStatus(w *wtx) error {
	type entry struct {
		key []byte
		st  store.SettingState
	}
	var all []entry
	err := w.Scan(bSettings, kv.Span{}, func(k, v []byte) (bool, error) {
		var st store.SettingState
		if err := unmarshal(v, &st); err != nil {
			return false, err
		}
		if len(st.Sources) > 0 {
			all = append(all, entry{cloneBytes(k), st})
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	counts := profileCounts{}
	for i := range all {
		tenantID, _, ok := splitOwner(all[i].key)
		if !ok {
			return fmt.Errorf("malformed setting state key %x", all[i].key)
		}
		if err := indexProfileStatus(w, tenantID, all[i].st.DeviceID, all[i].key, nil, &all[i].st, counts); err != nil {
			return err
		}
	}
	return counts.flush(w)
}
