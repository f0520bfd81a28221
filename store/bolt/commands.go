package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// Enqueue appends commands to their devices' queues in one transaction, assigning each the
// next Seq of its device. An empty ID gets a random UUID, an empty State is CommandQueued,
// a zero CreatedAt is now, an empty TenantID is the device's. ErrNotFound when a device does
// not exist, ErrConflict when TenantID names another tenant, ErrExists when a command ID is
// already in the device's queue.
func (d *DB) Enqueue(ctx context.Context, cmds ...store.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	// IDs are drawn before the transaction so that a re-run of the batch uses the same ones.
	prepared := make([]store.Command, len(cmds))
	for i, c := range cmds {
		if c.ID == "" {
			c.ID = uuid.NewString()
		}
		if err := checkCommand(c); err != nil {
			return fmt.Errorf("enqueueing commands: %w", err)
		}
		prepared[i] = c
	}
	now := d.now()
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		tenants := make(map[string]string)
		for _, c := range prepared {
			tenantID, ok := tenants[c.DeviceID]
			if !ok {
				var dev store.Device
				if err := getJSON(bucket(tx, bDevices), []byte(c.DeviceID), &dev); err != nil {
					return fmt.Errorf("device %s: %w", c.DeviceID, err)
				}
				tenantID = dev.TenantID
				tenants[c.DeviceID] = tenantID
			}
			if err := enqueueTx(tx, tenantID, c, now); err != nil {
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

func checkCommand(c store.Command) error {
	if err := checkID("device id", c.DeviceID); err != nil {
		return err
	}
	return checkID("command id", c.ID)
}

// enqueueTx appends c to its device's queue; tenantID is the device's tenant ("" when the
// device is unknown, which leaves c.TenantID as given).
func enqueueTx(tx *bbolt.Tx, tenantID string, c store.Command, now time.Time) error {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if err := checkCommand(c); err != nil {
		return err
	}
	switch {
	case c.TenantID == "":
		c.TenantID = tenantID
	case tenantID != "" && c.TenantID != tenantID:
		return fmt.Errorf("command %s for tenant %s on a device of tenant %s: %w", c.ID, c.TenantID, tenantID, store.ErrConflict)
	}
	idx := bucket(tx, bCmdIndex)
	ik := subKey(c.DeviceID, c.ID)
	if idx.Get(ik) != nil {
		return fmt.Errorf("command %s: %w", c.ID, store.ErrExists)
	}
	seqs := bucket(tx, bCmdSeq)
	var seq uint64
	if v := seqs.Get([]byte(c.DeviceID)); len(v) == 8 {
		seq = binary.BigEndian.Uint64(v)
	}
	seq++
	c.Seq = seq
	if c.State == "" {
		c.State = store.CommandQueued
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	var sb [8]byte
	binary.BigEndian.PutUint64(sb[:], seq)
	if err := seqs.Put([]byte(c.DeviceID), sb[:]); err != nil {
		return err
	}
	if err := idx.Put(ik, sb[:]); err != nil {
		return err
	}
	return writeCommand(tx, c)
}

// writeCommand stores c at its Seq and keeps the open set in step with c.State.
func writeCommand(tx *bbolt.Tx, c store.Command) error {
	k := seqKey(c.DeviceID, c.Seq)
	if err := putJSON(bucket(tx, bCommands), k, &c); err != nil {
		return err
	}
	open := bucket(tx, bOpen)
	if c.State.Open() {
		// The value is the command's CreatedAt (Unix nanoseconds, 8 bytes), so QueueStats finds
		// the oldest open command without decoding commands. Entries written before carry nil.
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(c.CreatedAt.UnixNano()))
		return open.Put(k, v[:])
	}
	return open.Delete(k)
}

// QueueStats walks the index of open commands once in a read transaction: one cursor step
// and an 8-byte stamp per open command (a command indexed before the stamp existed is read
// instead).
func (d *DB) QueueStats(ctx context.Context) (store.QueueStats, error) {
	var qs store.QueueStats
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		cmds := bucket(tx, bCommands)
		var oldest int64
		c := bucket(tx, bOpen).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			qs.Open++
			var at int64
			if len(v) == 8 {
				at = int64(binary.BigEndian.Uint64(v))
			} else {
				var cmd store.Command
				if err := getJSON(cmds, k, &cmd); err != nil {
					return err
				}
				at = cmd.CreatedAt.UnixNano()
			}
			if qs.Open == 1 || at < oldest {
				oldest = at
			}
		}
		if qs.Open > 0 {
			qs.OldestOpen = time.Unix(0, oldest).UTC()
		}
		return nil
	})
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	return qs, nil
}

// commandSeq returns the Seq of a command of a device; ErrNotFound when absent.
func commandSeq(tx *bbolt.Tx, deviceID, id string) (uint64, error) {
	v := bucket(tx, bCmdIndex).Get(subKey(deviceID, id))
	if len(v) != 8 {
		return 0, fmt.Errorf("command %s: %w", id, store.ErrNotFound)
	}
	return binary.BigEndian.Uint64(v), nil
}

// commandTx returns a command of a device.
func commandTx(tx *bbolt.Tx, deviceID, id string) (store.Command, error) {
	seq, err := commandSeq(tx, deviceID, id)
	if err != nil {
		return store.Command{}, err
	}
	var c store.Command
	if err := getJSON(bucket(tx, bCommands), seqKey(deviceID, seq), &c); err != nil {
		return store.Command{}, fmt.Errorf("command %s: %w", id, err)
	}
	return c, nil
}

// putCommandTx writes back an existing command; its Seq is the stored one.
func putCommandTx(tx *bbolt.Tx, c store.Command) error {
	seq, err := commandSeq(tx, c.DeviceID, c.ID)
	if err != nil {
		return err
	}
	if c.Seq != 0 && c.Seq != seq {
		return fmt.Errorf("command %s seq %d, stored %d: %w", c.ID, c.Seq, seq, store.ErrConflict)
	}
	c.Seq = seq
	return writeCommand(tx, c)
}

// openTx returns a device's open commands in Seq order.
func openTx(tx *bbolt.Tx, deviceID string) ([]store.Command, error) {
	cmds := bucket(tx, bCommands)
	p := prefix(deviceID, 0)
	c := bucket(tx, bOpen).Cursor()
	var out []store.Command
	for k, _ := c.Seek(p); k != nil && hasPrefix(k, p); k, _ = c.Next() {
		var cmd store.Command
		if err := getJSON(cmds, k, &cmd); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("open set names a missing command (seq %x): %w", k[len(p):], store.ErrConflict)
			}
			return nil, err
		}
		out = append(out, cmd)
	}
	return out, nil
}

// hasPendingTx reports whether the device has an open command: one Seek.
func hasPendingTx(tx *bbolt.Tx, deviceID string) bool {
	p := prefix(deviceID, 0)
	k, _ := bucket(tx, bOpen).Cursor().Seek(p)
	return k != nil && hasPrefix(k, p)
}

// Command returns a command of a device.
func (d *DB) Command(ctx context.Context, deviceID, id string) (store.Command, error) {
	var c store.Command
	err := d.view(ctx, func(tx *bbolt.Tx) error {
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
func (d *DB) ListCommands(ctx context.Context, deviceID string) ([]store.Command, error) {
	var out []store.Command
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		p := prefix(deviceID, 0)
		c := bucket(tx, bCommands).Cursor()
		for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
			var cmd store.Command
			if err := unmarshal(v, &cmd); err != nil {
				return err
			}
			out = append(out, cmd)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing commands of device %s: %w", deviceID, err)
	}
	return out, nil
}
