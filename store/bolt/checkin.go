package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// MaxSessions is how many OMA-DM sessions are kept per device; writing a new one deletes
// the least recently updated beyond this many.
const MaxSessions = store.MaxSessions

// Checkin runs fn in one durable transaction scoped to deviceID. Concurrent check-ins are
// grouped into one commit (bbolt Batch), so fn may run more than once: each run gets a fresh
// DeviceTx whose effects live only in that run's transaction. Audit events passed to
// DeviceTx.Audit receive their Seq, PrevHash and Hash once the transaction has committed.
// An error from fn aborts the transaction and is returned as is.
func (d *DB) Checkin(ctx context.Context, deviceID string, fn func(tx store.DeviceTx) error) error {
	if err := checkID("device id", deviceID); err != nil {
		return fmt.Errorf("checking in: %w", err)
	}
	var (
		last  *deviceTx
		fnErr error
	)
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		last = &deviceTx{ctx: ctx, tx: tx, id: deviceID, now: d.now()}
		fnErr = fn(last)
		return fnErr
	})
	switch {
	case err != nil && err == fnErr:
		return err
	case err != nil:
		return fmt.Errorf("checking in device %s: %w", deviceID, err)
	}
	d.publish(last.sealed)
	return nil
}

// deviceTx is a store.DeviceTx on one run of a Checkin transaction.
type deviceTx struct {
	ctx    context.Context
	tx     *bbolt.Tx
	id     string
	now    time.Time
	sealed []sealedEvent
}

var _ store.DeviceTx = (*deviceTx)(nil)

func (t *deviceTx) device() (store.Device, error) {
	var dev store.Device
	if err := getJSON(bucket(t.tx, bDevices), []byte(t.id), &dev); err != nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", t.id, err)
	}
	return dev, nil
}

// Device returns the device of the transaction.
func (t *deviceTx) Device() (store.Device, error) { return t.device() }

// PutDevice writes the device back with UpdatedAt set; a changed certificate serial revokes
// the old one. ErrNotFound when the device does not exist, ErrConflict when dev is another
// device or moves tenant.
func (t *deviceTx) PutDevice(dev store.Device) error {
	if dev.ID != t.id {
		return fmt.Errorf("putting device %s in a check-in of %s: %w", dev.ID, t.id, store.ErrConflict)
	}
	old, err := t.device()
	if err != nil {
		return err
	}
	dev.UpdatedAt = t.now
	if err := writeDevice(t.tx, &old, dev, t.now); err != nil {
		return fmt.Errorf("putting device %s: %w", t.id, err)
	}
	return nil
}

// Session returns one stored OMA-DM session of the device.
func (t *deviceTx) Session(sessionID string) (store.Session, error) {
	var s store.Session
	raw := bucket(t.tx, bSessions).Get(subKey(t.id, sessionID))
	if len(raw) < 8 {
		return s, fmt.Errorf("getting session %s of device %s: %w", sessionID, t.id, store.ErrNotFound)
	}
	if err := unmarshal(raw[8:], &s); err != nil {
		return store.Session{}, fmt.Errorf("getting session %s of device %s: %w", sessionID, t.id, err)
	}
	return s, nil
}

// PutSession stores a session of the device (an empty DeviceID means this device). Writing
// a new session keeps only the MaxSessions most recently updated ones.
func (t *deviceTx) PutSession(s store.Session) error {
	if s.DeviceID == "" {
		s.DeviceID = t.id
	}
	if s.DeviceID != t.id {
		return fmt.Errorf("putting session of device %s in a check-in of %s: %w", s.DeviceID, t.id, store.ErrConflict)
	}
	if err := checkID("session id", s.SessionID); err != nil {
		return fmt.Errorf("putting session: %w", err)
	}
	stamp := s.UpdatedAt
	if stamp.IsZero() {
		stamp = t.now
	}
	raw, err := jsonAppend(binary.BigEndian.AppendUint64(nil, uint64(stamp.UnixNano())), &s)
	if err != nil {
		return fmt.Errorf("putting session %s: %w", s.SessionID, err)
	}
	b := bucket(t.tx, bSessions)
	k := subKey(t.id, s.SessionID)
	isNew := b.Get(k) == nil
	if err := b.Put(k, raw); err != nil {
		return fmt.Errorf("putting session %s: %w", s.SessionID, err)
	}
	if isNew {
		if err := evictSessions(b, t.id, k); err != nil {
			return fmt.Errorf("evicting old sessions of device %s: %w", t.id, err)
		}
	}
	return nil
}

// evictSessions deletes a device's least recently updated sessions beyond MaxSessions,
// never the one at keep.
func evictSessions(b *bbolt.Bucket, deviceID string, keep []byte) error {
	type entry struct {
		key   []byte
		stamp uint64
	}
	var all []entry
	p := prefix(deviceID, 0)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
		if string(k) == string(keep) || len(v) < 8 {
			continue
		}
		all = append(all, entry{cloneBytes(k), binary.BigEndian.Uint64(v)})
	}
	extra := len(all) + 1 - MaxSessions
	if extra <= 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b entry) int {
		if a.stamp != b.stamp {
			// stamps are UnixNano stored as two's complement; compare as signed.
			if int64(a.stamp) < int64(b.stamp) {
				return -1
			}
			return 1
		}
		return slices.Compare(a.key, b.key)
	})
	for _, e := range all[:extra] {
		if err := b.Delete(e.key); err != nil {
			return err
		}
	}
	return nil
}

// HasPending reports with one Seek whether the device has open commands.
func (t *deviceTx) HasPending() (bool, error) { return hasPendingTx(t.tx, t.id), nil }

// Open returns the device's open commands in Seq order.
func (t *deviceTx) Open() ([]store.Command, error) {
	cmds, err := openTx(t.tx, t.id)
	if err != nil {
		return nil, fmt.Errorf("listing open commands of device %s: %w", t.id, err)
	}
	return cmds, nil
}

// Command returns one command of the device.
func (t *deviceTx) Command(id string) (store.Command, error) {
	c, err := commandTx(t.tx, t.id, id)
	if err != nil {
		return store.Command{}, fmt.Errorf("getting command of device %s: %w", t.id, err)
	}
	return c, nil
}

// PutCommand writes back a command of the device (an empty DeviceID means this device); a
// final State takes it out of the open set. ErrNotFound when it was never enqueued.
func (t *deviceTx) PutCommand(c store.Command) error {
	if c.DeviceID == "" {
		c.DeviceID = t.id
	}
	if c.DeviceID != t.id {
		return fmt.Errorf("putting command of device %s in a check-in of %s: %w", c.DeviceID, t.id, store.ErrConflict)
	}
	if err := putCommandTx(t.tx, c); err != nil {
		return fmt.Errorf("putting command of device %s: %w", t.id, err)
	}
	return nil
}

// Enqueue appends commands to this device's queue, after its current highest Seq. Defaults
// are those of DB.Enqueue; ErrNotFound when the device does not exist.
func (t *deviceTx) Enqueue(cmds ...store.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	dev, err := t.device()
	if err != nil {
		return fmt.Errorf("enqueueing: %w", err)
	}
	for _, c := range cmds {
		if c.DeviceID == "" {
			c.DeviceID = t.id
		}
		if c.DeviceID != t.id {
			return fmt.Errorf("enqueueing a command of device %s in a check-in of %s: %w", c.DeviceID, t.id, store.ErrConflict)
		}
		if err := enqueueTx(t.tx, dev.TenantID, c, t.now); err != nil {
			return fmt.Errorf("enqueueing for device %s: %w", t.id, err)
		}
	}
	return nil
}

// Audit appends events to their tenants' chains in this transaction. The events receive Seq,
// PrevHash and Hash when the check-in commits.
func (t *deviceTx) Audit(events ...*audit.Event) error {
	// An admin write in a Checkin (a queued command) marks its Idempotency-Key committed here.
	if err := markIdemTx(t.ctx, t.tx); err != nil {
		return fmt.Errorf("marking the idempotency key: %w", err)
	}
	sealed, err := appendAuditTx(t.tx, events)
	if err != nil {
		return err
	}
	t.sealed = append(t.sealed, sealed...)
	return nil
}
