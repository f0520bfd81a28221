package core

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Enqueue appends commands to their devices' queues in one transaction, assigning each the
// next Seq of its device. An empty ID gets a random UUID, an empty State is CommandQueued,
// a zero CreatedAt is now, an empty TenantID is the device's. ErrNotFound when a device does
// not exist, ErrConflict when TenantID names another tenant, ErrExists when a command ID is
// already in the device's queue. Each device's record is locked (GetForUpdate) before its
// queue is touched, so an Enqueue waits for a running check-in of the device; devices are
// locked in ID order, so concurrent enqueues and check-ins do not deadlock.
func (s *Store) Enqueue(ctx context.Context, cmds ...store.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	// IDs are drawn before the transaction so that a re-run of the batch uses the same ones.
	byDevice := make(map[string][]store.Command)
	var devices []string
	for _, c := range cmds {
		c, err := prepareCommand(c)
		if err != nil {
			return fmt.Errorf("enqueueing commands: %w", err)
		}
		if _, ok := byDevice[c.DeviceID]; !ok {
			devices = append(devices, c.DeviceID)
		}
		byDevice[c.DeviceID] = append(byDevice[c.DeviceID], c)
	}
	slices.Sort(devices)
	err := s.batch(ctx, func(w *wtx) error {
		for _, id := range devices {
			var dev store.Device
			if err := getJSONForUpdate(w, bDevices, []byte(id), &dev); err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			if err := enqueueDevice(w, id, dev.TenantID, byDevice[id]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueueing commands: %w", err)
	}
	return nil
}

// prepareCommand gives c a random ID when it has none and checks its IDs.
func prepareCommand(c store.Command) (store.Command, error) {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if err := checkID("device id", c.DeviceID); err != nil {
		return c, err
	}
	return c, checkID("command id", c.ID)
}

// enqueueDevice appends cmds (all of deviceID, IDs set) to the device's queue, after the
// device's seq counter (bCmdSeq, read with GetForUpdate and written once). tenantID is the
// device's tenant. The caller holds the lock of the device's record.
func enqueueDevice(w *wtx, deviceID, tenantID string, cmds []store.Command) error {
	ck := []byte(deviceID)
	v, err := w.GetForUpdate(bCmdSeq, ck)
	if err != nil {
		return fmt.Errorf("reading the command counter of device %s: %w", deviceID, err)
	}
	var seq uint64
	switch len(v) {
	case 0:
	case 8:
		seq = binary.BigEndian.Uint64(v)
	default:
		return fmt.Errorf("command counter of device %s: %d bytes, want 8", deviceID, len(v))
	}
	for _, c := range cmds {
		switch {
		case c.TenantID == "":
			c.TenantID = tenantID
		case c.TenantID != tenantID:
			return fmt.Errorf("command %s for tenant %s on a device of tenant %s: %w", c.ID, c.TenantID, tenantID, store.ErrConflict)
		}
		seq++
		c.Seq = seq
		if c.State == "" {
			c.State = store.CommandQueued
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = w.now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		var sb [8]byte
		binary.BigEndian.PutUint64(sb[:], seq)
		if err := w.Insert(bCmdIndex, subKey(deviceID, c.ID), sb[:]); err != nil {
			return fmt.Errorf("command %s: %w", c.ID, err)
		}
		if err := writeCommand(w, c); err != nil {
			return fmt.Errorf("command %s: %w", c.ID, err)
		}
	}
	return w.Put(bCmdSeq, ck, binary.BigEndian.AppendUint64(nil, seq))
}

// writeCommand stores c at its Seq and keeps the open set in step with c.State.
func writeCommand(w *wtx, c store.Command) error {
	k := seqKey(c.DeviceID, c.Seq)
	if err := putJSON(w, bCommands, k, &c); err != nil {
		return err
	}
	if c.State.Open() {
		return w.Put(bOpen, k, openEntry(&c))
	}
	return w.Delete(bOpen, k)
}

// openEntry is the value of an open command's key in the open set: its CreatedAt (Unix
// nanoseconds, 8 bytes), so QueueStats finds the oldest open command without decoding
// commands, then, for a command that waits (sent under a claim: ClaimUntil; to retry:
// NextAttemptAt), the time it waits until (Unix seconds, 8 bytes, and nanoseconds, 4 bytes),
// so OpenDue passes over it without decoding it. Entries written before carry nil or the
// CreatedAt alone; a release that knows only the CreatedAt reads the command of a longer
// entry from its record instead.
func openEntry(c *store.Command) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 20), uint64(c.CreatedAt.UnixNano()))
	var until time.Time
	switch c.State {
	case store.CommandSent:
		until = c.ClaimUntil
	case store.CommandRetry:
		until = c.NextAttemptAt
	}
	if !until.IsZero() {
		v = binary.BigEndian.AppendUint64(v, uint64(until.Unix()))
		v = binary.BigEndian.AppendUint32(v, uint32(until.Nanosecond()))
	}
	return v
}

// openWaits reports whether an open set entry says its command waits past now.
func openWaits(v []byte, now time.Time) bool {
	if len(v) != 20 {
		return false
	}
	until := time.Unix(int64(binary.BigEndian.Uint64(v[8:])), int64(binary.BigEndian.Uint32(v[16:])))
	return now.Before(until)
}

// QueueStats walks the index of open commands once in a read transaction: one key and an
// 8-byte stamp per open command, never a command record (except one indexed before the
// stamp existed, which is read instead).
func (s *Store) QueueStats(ctx context.Context) (store.QueueStats, error) {
	var (
		qs     store.QueueStats
		oldest int64
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		return tx.Scan(bOpen, kv.Span{}, func(k, v []byte) (bool, error) {
			qs.Open++
			var at int64
			if len(v) >= 8 {
				at = int64(binary.BigEndian.Uint64(v))
			} else {
				var cmd store.Command
				if err := getJSON(tx, bCommands, k, &cmd); err != nil {
					return false, err
				}
				at = cmd.CreatedAt.UnixNano()
			}
			if qs.Open == 1 || at < oldest {
				oldest = at
			}
			return true, nil
		})
	})
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	if qs.Open > 0 {
		qs.OldestOpen = time.Unix(0, oldest).UTC()
	}
	return qs, nil
}

// keySeq sets c.Seq from the key of its record (seqKey: the device's prefix p, then the
// Seq). The key is authoritative: records the previous release's PostgreSQL schema wrote
// back may carry Seq 0, its seq column holding the Seq.
func keySeq(c *store.Command, k, p []byte) {
	if len(k) == len(p)+8 {
		c.Seq = binary.BigEndian.Uint64(k[len(p):])
	}
}

// commandSeq returns the Seq of a command of a device; ErrNotFound when absent.
func commandSeq(tx kv.Tx, deviceID, id string) (uint64, error) {
	if checkID("command id", id) != nil {
		// No command with an ID that cannot be stored exists.
		return 0, fmt.Errorf("command %q: %w", id, store.ErrNotFound)
	}
	v, err := tx.Get(bCmdIndex, subKey(deviceID, id))
	if err != nil {
		return 0, fmt.Errorf("command %s: %w", id, err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("command %s: %w", id, store.ErrNotFound)
	}
	return binary.BigEndian.Uint64(v), nil
}

// commandTx returns a command of a device.
func commandTx(tx kv.Tx, deviceID, id string) (store.Command, error) {
	seq, err := commandSeq(tx, deviceID, id)
	if err != nil {
		return store.Command{}, err
	}
	var c store.Command
	if err := getJSON(tx, bCommands, seqKey(deviceID, seq), &c); err != nil {
		return store.Command{}, fmt.Errorf("command %s: %w", id, err)
	}
	c.Seq = seq
	return c, nil
}

// putCommandTx writes back an existing command; its Seq is the stored one.
func putCommandTx(w *wtx, c store.Command) error {
	seq, err := commandSeq(w, c.DeviceID, c.ID)
	if err != nil {
		return err
	}
	if c.Seq != 0 && c.Seq != seq {
		return fmt.Errorf("command %s seq %d, stored %d: %w", c.ID, c.Seq, seq, store.ErrConflict)
	}
	c.Seq = seq
	return writeCommand(w, c)
}

// openCommands returns a device's open commands in Seq order: the device's keys in the open
// set, then their records in one GetMany. When skip is set, the entries it reports true for
// (the key's Seq and the entry's value) are left out unread.
func openCommands(tx kv.Tx, deviceID string, skip func(seq uint64, v []byte) bool) ([]store.Command, error) {
	p := prefix(deviceID, 0)
	keys := make([][]byte, 0, 8) // room for a usual queue without growing
	err := tx.Scan(bOpen, kv.Span{Prefix: p, KeysOnly: skip == nil}, func(k, v []byte) (bool, error) {
		if skip != nil && len(k) == len(p)+8 && skip(binary.BigEndian.Uint64(k[len(p):]), v) {
			return true, nil
		}
		keys = append(keys, k)
		return true, nil
	})
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	raws, err := tx.GetMany(bCommands, keys)
	if err != nil {
		return nil, err
	}
	out := make([]store.Command, len(raws))
	for i, raw := range raws {
		if raw == nil {
			return nil, fmt.Errorf("open set names a missing command (seq %x): %w", keys[i][len(p):], store.ErrConflict)
		}
		if err := unmarshal(raw, &out[i]); err != nil {
			return nil, err
		}
		keySeq(&out[i], keys[i], p)
	}
	return out, nil
}

// Command returns a command of a device.
func (s *Store) Command(ctx context.Context, deviceID, id string) (store.Command, error) {
	if checkID("device id", deviceID) != nil {
		// No device with an ID that cannot be stored has commands.
		return store.Command{}, fmt.Errorf("getting command of device %q: %w", deviceID, store.ErrNotFound)
	}
	var c store.Command
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		c, err = commandTx(tx, deviceID, id)
		return err
	})
	if err != nil {
		return store.Command{}, fmt.Errorf("getting command of device %s: %w", deviceID, err)
	}
	return c, nil
}

// ListCommands returns a device's commands, oldest (lowest Seq) first.
func (s *Store) ListCommands(ctx context.Context, deviceID string) ([]store.Command, error) {
	if checkID("device id", deviceID) != nil {
		return nil, nil // no device with an ID that cannot be stored has commands
	}
	var out []store.Command
	p := prefix(deviceID, 0)
	err := s.view(ctx, func(tx kv.Tx) error {
		return tx.Scan(bCommands, kv.Span{Prefix: p}, func(k, v []byte) (bool, error) {
			var cmd store.Command
			if err := unmarshal(v, &cmd); err != nil {
				return false, err
			}
			keySeq(&cmd, k, p)
			out = append(out, cmd)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing commands of device %s: %w", deviceID, err)
	}
	return out, nil
}
