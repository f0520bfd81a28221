package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// MaxSessions is how many OMA-DM sessions are kept per device; writing a new one deletes
// the least recently updated beyond this many.
const MaxSessions = store.MaxSessions

// Checkin runs fn in one READ COMMITTED transaction that first locks the device's row
// (SELECT … FOR UPDATE), so two sessions of one device on any replicas run one after the
// other. A serialization failure or deadlock runs fn again on a fresh DeviceTx (up to
// Options.MaxRetries), so fn may run more than once. Audit events passed to DeviceTx.Audit
// receive their Seq, PrevHash and Hash once the transaction has committed. An error from fn
// rolls back and is returned; a lost connection gives store.ErrUnavailable.
func (d *DB) Checkin(ctx context.Context, deviceID string, fn func(tx store.DeviceTx) error) error {
	if err := checkID("device id", deviceID); err != nil {
		return fmt.Errorf("checking in: %w", err)
	}
	var (
		last  *deviceTx
		fnErr error
	)
	err := d.tx(ctx, txOptions{retry: true}, func(tx pgx.Tx) error {
		last, fnErr = nil, nil
		t := &deviceTx{ctx: ctx, tx: tx, id: deviceID, now: d.now()}
		err := tx.QueryRow(ctx, `SELECT tenant_id, data FROM devices WHERE id = $1 FOR UPDATE`, deviceID).Scan(&t.tenantID, &t.raw)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("locking device %s: %w", deviceID, err)
		}
		last = t
		fnErr = fn(t)
		return fnErr
	})
	switch {
	case err != nil && fnErr != nil:
		return err
	case err != nil:
		return fmt.Errorf("checking in device %s: %w", deviceID, err)
	}
	d.publish(last.sealed)
	return nil
}

// deviceTx is a store.DeviceTx on one run of a Checkin transaction. raw is the device row
// read under the lock (nil when the device does not exist).
type deviceTx struct {
	ctx      context.Context
	tx       pgx.Tx
	id       string
	tenantID string
	raw      []byte
	now      time.Time
	sealed   []sealedEvent
}

var _ store.DeviceTx = (*deviceTx)(nil)

func (t *deviceTx) device() (store.Device, error) {
	if t.raw == nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", t.id, store.ErrNotFound)
	}
	var dev store.Device
	if err := decode(t.raw, &dev); err != nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", t.id, err)
	}
	return dev, nil
}

// Device returns the device of the transaction, as read under its row lock.
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
	raw, err := writeDevice(t.ctx, t.tx, &old, dev, t.now)
	if err != nil {
		return fmt.Errorf("putting device %s: %w", t.id, mapErr(err))
	}
	t.raw = raw
	return nil
}

// Session returns one stored OMA-DM session of the device.
func (t *deviceTx) Session(sessionID string) (store.Session, error) {
	var s store.Session
	err := getRecord(t.ctx, t.tx, &s, `SELECT data FROM sessions WHERE device_id = $1 AND session_id = $2`, t.id, sessionID)
	if err != nil {
		return store.Session{}, fmt.Errorf("getting session %s of device %s: %w", sessionID, t.id, mapErr(err))
	}
	return s, nil
}

// PutSession stores a session of the device (an empty DeviceID means this device). Writing
// a new session deletes the least recently updated beyond MaxSessions, in the same
// statement.
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
	raw, err := encode(&s)
	if err != nil {
		return fmt.Errorf("putting session %s: %w", s.SessionID, err)
	}
	_, err = t.tx.Exec(t.ctx, `WITH up AS (
			INSERT INTO sessions (device_id, session_id, stamp, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (device_id, session_id) DO UPDATE SET stamp = excluded.stamp, data = excluded.data
			RETURNING (xmax = 0) AS inserted)
		DELETE FROM sessions WHERE device_id = $1 AND (SELECT inserted FROM up)
			AND session_id IN (SELECT session_id FROM sessions WHERE device_id = $1 AND session_id <> $2
				ORDER BY stamp DESC, session_id DESC OFFSET $5)`,
		t.id, s.SessionID, stamp, raw, MaxSessions-1)
	if err != nil {
		return fmt.Errorf("putting session %s: %w", s.SessionID, mapErr(err))
	}
	return nil
}

// HasPending reports, with one probe of the partial index of open commands, whether the
// device has open commands.
func (t *deviceTx) HasPending() (bool, error) {
	var p bool
	err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM commands WHERE device_id = $1 AND is_open)`, t.id).Scan(&p)
	if err != nil {
		return false, fmt.Errorf("checking pending commands of device %s: %w", t.id, mapErr(err))
	}
	return p, nil
}

// Open returns the device's open commands in Seq order.
func (t *deviceTx) Open() ([]store.Command, error) {
	cmds, err := listCommands(t.ctx, t.tx, `SELECT seq, data FROM commands WHERE device_id = $1 AND is_open ORDER BY seq`, t.id)
	if err != nil {
		return nil, fmt.Errorf("listing open commands of device %s: %w", t.id, mapErr(err))
	}
	return cmds, nil
}

// Command returns one command of the device.
func (t *deviceTx) Command(id string) (store.Command, error) {
	c, err := commandTx(t.ctx, t.tx, t.id, id)
	if err != nil {
		return store.Command{}, fmt.Errorf("getting command of device %s: %w", t.id, mapErr(err))
	}
	return c, nil
}

// PutCommand writes back a command of the device (an empty DeviceID means this device); a
// final State takes it out of the open set. ErrNotFound when it was never enqueued,
// ErrConflict when its Seq differs from the stored one.
func (t *deviceTx) PutCommand(c store.Command) error {
	if c.DeviceID == "" {
		c.DeviceID = t.id
	}
	if c.DeviceID != t.id {
		return fmt.Errorf("putting command of device %s in a check-in of %s: %w", c.DeviceID, t.id, store.ErrConflict)
	}
	if err := putCommandTx(t.ctx, t.tx, c); err != nil {
		return fmt.Errorf("putting command of device %s: %w", t.id, mapErr(err))
	}
	return nil
}

// Enqueue appends commands to this device's queue, after its current highest Seq. Defaults
// are those of DB.Enqueue; ErrNotFound when the device does not exist.
func (t *deviceTx) Enqueue(cmds ...store.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	if t.raw == nil {
		return fmt.Errorf("enqueueing: device %s: %w", t.id, store.ErrNotFound)
	}
	prepared := make([]store.Command, len(cmds))
	for i, c := range cmds {
		if c.DeviceID == "" {
			c.DeviceID = t.id
		}
		if c.DeviceID != t.id {
			return fmt.Errorf("enqueueing a command of device %s in a check-in of %s: %w", c.DeviceID, t.id, store.ErrConflict)
		}
		if c.ID == "" {
			c.ID = newID()
		}
		if err := checkCommand(c); err != nil {
			return fmt.Errorf("enqueueing: %w", err)
		}
		prepared[i] = c
	}
	if err := enqueueDevice(t.ctx, t.tx, t.id, prepared, t.now); err != nil {
		return fmt.Errorf("enqueueing for device %s: %w", t.id, mapErr(err))
	}
	return nil
}

// Audit appends events to their tenants' chains in this transaction. The events receive Seq,
// PrevHash and Hash when the check-in commits.
func (t *deviceTx) Audit(events ...*audit.Event) error {
	// An admin write in a Checkin (a queued command) marks its Idempotency-Key committed here.
	if err := markIdemTx(t.ctx, t.tx); err != nil {
		return mapErr(fmt.Errorf("marking the idempotency key: %w", err))
	}
	sealed, err := appendAuditTx(t.ctx, t.tx, events)
	if err != nil {
		return mapErr(err)
	}
	t.sealed = append(t.sealed, sealed...)
	return nil
}
