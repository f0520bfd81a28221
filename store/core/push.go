package core

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// What the push hubs report (store.PushStates): a device's built-in channel in
// bPushChannels (locked while it changes), its last wake-up in bPushWakes (written without
// a lock), and each replica's lease in bPushReplicas.

// pushChannel is the record of a device's built-in channel.
type pushChannel struct {
	Tenant       string    `json:"t"`
	Replica      string    `json:"r,omitempty"`
	Since        time.Time `json:"s,omitzero"`
	Disconnected time.Time `json:"d,omitzero"`
}

// pushWake is the record of a device's last wake-up.
type pushWake struct {
	Tenant  string    `json:"t"`
	Replica string    `json:"r,omitempty"`
	At      time.Time `json:"a"`
	Reason  string    `json:"n,omitempty"`
	Channel string    `json:"c,omitempty"`
	Result  string    `json:"x,omitempty"`
	Detail  string    `json:"e,omitempty"`
}

// leaseRetention is how long a lease that ran out is kept (so the channels of a replica
// that vanished read as ended at its lease's end).
const leaseRetention = 7 * 24 * time.Hour

// RecordPush applies the changes and wake-ups in one batched write transaction.
func (s *Store) RecordPush(ctx context.Context, channels []store.PushChannelChange, wakes []store.PushWake) error {
	for _, c := range channels {
		if err := checkDeviceIDs(c.DeviceID, c.TenantID); err != nil {
			return fmt.Errorf("recording push channels: %w", err)
		}
	}
	for _, wk := range wakes {
		if err := checkDeviceIDs(wk.DeviceID, wk.TenantID); err != nil {
			return fmt.Errorf("recording push wake-ups: %w", err)
		}
	}
	// Lock the channel records in one order, so two replicas' batches cannot deadlock.
	channels = slices.Clone(channels)
	slices.SortStableFunc(channels, func(a, b store.PushChannelChange) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	err := s.batch(ctx, func(w *wtx) error {
		for _, c := range channels {
			if err := recordChannel(w, c); err != nil {
				return err
			}
		}
		return recordWakes(w, wakes)
	})
	if err != nil {
		return fmt.Errorf("recording push states: %w", err)
	}
	return nil
}

func checkDeviceIDs(deviceID, tenantID string) error {
	if err := checkID("device id", deviceID); err != nil {
		return err
	}
	return checkID("tenant id", tenantID)
}

// recordChannel applies one channel change (store.PushStates.RecordPush's rules).
func recordChannel(w *wtx, c store.PushChannelChange) error {
	key := []byte(c.DeviceID)
	next := pushChannel{Tenant: c.TenantID, Replica: c.Replica, Since: c.Since.UTC()}
	if !c.Connected {
		raw, err := w.GetForUpdate(bPushChannels, key)
		if err != nil || raw == nil {
			return err
		}
		var cur pushChannel
		if err := unmarshal(raw, &cur); err != nil {
			return fmt.Errorf("push channel of %s: %w", c.DeviceID, err)
		}
		if cur.Replica != c.Replica || !cur.Since.Equal(c.Since) || !cur.Disconnected.IsZero() {
			return nil // another connection of the device, or already ended
		}
		cur.Disconnected = c.At.UTC()
		return putJSON(w, bPushChannels, key, &cur)
	}
	initial, err := jsonAppend(nil, &next)
	if err != nil {
		return err
	}
	raw, err := lockOrCreate(w, bPushChannels, key, initial)
	if err != nil || &raw[0] == &initial[0] {
		return err
	}
	var cur pushChannel
	if err := unmarshal(raw, &cur); err != nil {
		return fmt.Errorf("push channel of %s: %w", c.DeviceID, err)
	}
	if cur.Disconnected.IsZero() && cur.Since.After(c.Since) {
		return nil // a later connection of the device holds the channel
	}
	return w.Put(bPushChannels, key, initial)
}

// recordWakes writes the wake-ups not older than the stored ones.
func recordWakes(w *wtx, wakes []store.PushWake) error {
	if len(wakes) == 0 {
		return nil
	}
	keys := make([][]byte, len(wakes))
	for i, wk := range wakes {
		keys[i] = []byte(wk.DeviceID)
	}
	for start := 0; start < len(keys); start += listChunk {
		end := min(start+listChunk, len(keys))
		vals, err := w.GetMany(bPushWakes, keys[start:end])
		if err != nil {
			return err
		}
		for i, raw := range vals {
			wk := wakes[start+i]
			if raw != nil {
				var cur pushWake
				if err := unmarshal(raw, &cur); err != nil {
					return fmt.Errorf("push wake-up of %s: %w", wk.DeviceID, err)
				}
				if cur.At.After(wk.At) {
					continue
				}
			}
			detail := wk.Detail
			if len(detail) > store.MaxPushDetail {
				detail = detail[:store.MaxPushDetail]
			}
			rec := pushWake{Tenant: wk.TenantID, Replica: wk.Replica, At: wk.At.UTC(), Reason: wk.Reason, Channel: wk.Channel,
				Result: wk.Result, Detail: detail}
			if err := putJSON(w, bPushWakes, keys[start+i], &rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// PushStates reads the devices' states in one read transaction.
func (s *Store) PushStates(ctx context.Context, ids []string) ([]store.PushState, error) {
	out := make([]store.PushState, len(ids))
	err := s.view(ctx, func(tx kv.Tx) error {
		now := s.now()
		leases := map[string]time.Time{}
		for start := 0; start < len(ids); start += listChunk {
			end := min(start+listChunk, len(ids))
			if err := readPushStates(tx, ids[start:end], out[start:end], leases, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading push states: %w", err)
	}
	return out, nil
}

// readPushStates fills out with the states of ids; leases caches the replicas' leases
// (zero: none).
func readPushStates(tx kv.Tx, ids []string, out []store.PushState, leases map[string]time.Time, now time.Time) error {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = []byte(id)
	}
	chans, err := tx.GetMany(bPushChannels, keys)
	if err != nil {
		return err
	}
	wakes, err := tx.GetMany(bPushWakes, keys)
	if err != nil {
		return err
	}
	for i, id := range ids {
		st := store.PushState{DeviceID: id}
		if raw := wakes[i]; raw != nil {
			var wk pushWake
			if err := unmarshal(raw, &wk); err != nil {
				return fmt.Errorf("push wake-up of %s: %w", id, err)
			}
			st.TenantID = wk.Tenant
			st.LastWake = store.PushWake{DeviceID: id, TenantID: wk.Tenant, Replica: wk.Replica, At: wk.At, Reason: wk.Reason,
				Channel: wk.Channel, Result: wk.Result, Detail: wk.Detail}
		}
		if raw := chans[i]; raw != nil {
			var c pushChannel
			if err := unmarshal(raw, &c); err != nil {
				return fmt.Errorf("push channel of %s: %w", id, err)
			}
			lease, err := leaseOf(tx, c.Replica, leases)
			if err != nil {
				return err
			}
			st.TenantID, st.Replica, st.ConnectedSince, st.DisconnectedAt = c.Tenant, c.Replica, c.Since, c.Disconnected
			switch {
			case !c.Disconnected.IsZero():
			case now.Before(lease):
				st.Connected = true
			default:
				st.DisconnectedAt = lease // the replica vanished: its lease ran out then (zero: unknown)
			}
		}
		out[i] = st
	}
	return nil
}

// leaseOf returns the replica's lease end (zero when it has none), through the cache.
func leaseOf(tx kv.Tx, replica string, cache map[string]time.Time) (time.Time, error) {
	if l, ok := cache[replica]; ok || replica == "" {
		return l, nil
	}
	raw, err := tx.Get(bPushReplicas, []byte(replica))
	if err != nil {
		return time.Time{}, err
	}
	var l time.Time
	if len(raw) == 8 {
		l = time.Unix(0, int64(binary.BigEndian.Uint64(raw))).UTC()
	}
	cache[replica] = l
	return l, nil
}

// RenewReplica writes the replica's lease and deletes those that ran out long ago.
func (s *Store) RenewReplica(ctx context.Context, replica string, until time.Time) error {
	if err := checkID("replica", replica); err != nil {
		return fmt.Errorf("renewing the replica's lease: %w", err)
	}
	err := s.batch(ctx, func(w *wtx) error {
		var old [][]byte
		err := w.Scan(bPushReplicas, kv.Span{}, func(k, v []byte) (bool, error) {
			if len(v) == 8 && time.Unix(0, int64(binary.BigEndian.Uint64(v))).Before(until.Add(-leaseRetention)) {
				old = append(old, cloneBytes(k))
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := w.Delete(bPushReplicas, k); err != nil {
				return err
			}
		}
		return w.Put(bPushReplicas, []byte(replica), binary.BigEndian.AppendUint64(nil, uint64(until.UnixNano())))
	})
	if err != nil {
		return fmt.Errorf("renewing the lease of replica %s: %w", replica, err)
	}
	return nil
}

// DropReplica ends the replica's lease now.
func (s *Store) DropReplica(ctx context.Context, replica string) error {
	if err := checkID("replica", replica); err != nil {
		return fmt.Errorf("ending the replica's lease: %w", err)
	}
	err := s.batch(ctx, func(w *wtx) error {
		return w.Put(bPushReplicas, []byte(replica), binary.BigEndian.AppendUint64(nil, uint64(w.now.UnixNano())))
	})
	if err != nil {
		return fmt.Errorf("ending the lease of replica %s: %w", replica, err)
	}
	return nil
}
