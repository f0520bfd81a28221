package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

func normSerial(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func checkDevice(dev store.Device) error {
	if err := checkID("device id", dev.ID); err != nil {
		return err
	}
	return checkID("tenant id", dev.TenantID)
}

// lockDevice reads a device and locks its row for the transaction.
func lockDevice(ctx context.Context, q querier, id string) (store.Device, error) {
	var dev store.Device
	if err := getRecord(ctx, q, &dev, `SELECT data FROM devices WHERE id = $1 FOR UPDATE`, id); err != nil {
		return store.Device{}, fmt.Errorf("device %s: %w", id, err)
	}
	return dev, nil
}

// writeDevice stores dev over old (nil when new, in which case the row must not exist):
// the ID and tenant must not change, a changed certificate serial revokes the old one, and a
// device leaving the enrolled state (unenrolled, retired) has its current serial revoked.
// It returns the stored record.
func writeDevice(ctx context.Context, q querier, old *store.Device, dev store.Device, now time.Time) ([]byte, error) {
	if err := checkDevice(dev); err != nil {
		return nil, err
	}
	dev.CertSerial = normSerial(dev.CertSerial)
	raw, err := encode(&dev)
	if err != nil {
		return nil, err
	}
	if old == nil {
		tag, err := q.Exec(ctx, `INSERT INTO devices (id, tenant_id, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			dev.ID, dev.TenantID, raw)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("device %s: %w", dev.ID, errRace)
		}
		return raw, err
	}
	if old.ID != dev.ID || old.TenantID != dev.TenantID {
		return nil, fmt.Errorf("changing device id or tenant: %w", store.ErrConflict)
	}
	if s := normSerial(old.CertSerial); s != "" && s != dev.CertSerial {
		if err := revoke(ctx, q, s, old.ID, now); err != nil {
			return nil, err
		}
	}
	// Leaving management (unenrollment, retirement) revokes the current certificate too.
	if old.State == store.DeviceEnrolled && dev.State != store.DeviceEnrolled && dev.CertSerial != "" {
		if err := revoke(ctx, q, dev.CertSerial, dev.ID, now); err != nil {
			return nil, err
		}
	}
	_, err = q.Exec(ctx, `UPDATE devices SET data = $2 WHERE id = $1`, dev.ID, raw)
	return raw, err
}

// revoke records serial as revoked.
func revoke(ctx context.Context, q querier, serial, deviceID string, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO revoked (serial, device_id, revoked_at) VALUES ($1, $2, $3)
		ON CONFLICT (serial) DO UPDATE SET device_id = excluded.device_id, revoked_at = excluded.revoked_at`,
		serial, deviceID, now)
	if err != nil {
		return fmt.Errorf("revoking serial %s: %w", serial, err)
	}
	return nil
}

// errRace means a row appeared between a read and an insert; the transaction runs again.
var errRace = errors.New("concurrent insert")

// RegisterDevice creates the device, or re-enrolls it in the same tenant: the previous
// certificate serial is revoked in the same transaction and the previous record returned.
// A DeviceID stored under another tenant gives ErrConflict and stores nothing. EnrolledAt
// defaults to now; UpdatedAt is set to now. Events of ctx's store.AuditFunc are appended in
// the same transaction.
func (d *DB) RegisterDevice(ctx context.Context, dev store.Device) (*store.Device, error) {
	if err := checkDevice(dev); err != nil {
		return nil, fmt.Errorf("registering device: %w", err)
	}
	now := d.now()
	if dev.EnrolledAt.IsZero() {
		dev.EnrolledAt = now
	}
	dev.UpdatedAt = now
	dev.CertSerial = normSerial(dev.CertSerial)
	var (
		previous *store.Device
		sealed   []sealedEvent
		err      error
	)
	for attempt := 0; attempt < 3; attempt++ {
		err = d.tx(ctx, txOptions{retry: true}, func(tx pgx.Tx) error {
			previous, sealed = nil, nil
			old, err := lockDevice(ctx, tx, dev.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				if _, err := writeDevice(ctx, tx, nil, dev, now); err != nil {
					return err
				}
			case err != nil:
				return err
			case old.TenantID != dev.TenantID:
				return fmt.Errorf("device %s belongs to another tenant: %w", dev.ID, store.ErrConflict)
			default:
				if _, err := writeDevice(ctx, tx, &old, dev, now); err != nil {
					return err
				}
				previous = &old
			}
			sealed, err = writeAuditTx(ctx, tx, store.DeviceRegistration{Device: dev, Previous: previous})
			return err
		})
		if !errors.Is(err, errRace) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("registering device %s: %w", dev.ID, err)
	}
	d.publish(sealed)
	return previous, nil
}

// Device returns a device by ID.
func (d *DB) Device(ctx context.Context, id string) (store.Device, error) {
	var dev store.Device
	if err := d.getRecord(ctx, &dev, `SELECT data FROM devices WHERE id = $1`, id); err != nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", id, err)
	}
	return dev, nil
}

// UpdateDevice applies fn to the stored device (locked) and writes it back with UpdatedAt
// set. A changed certificate serial revokes the old one in the same transaction; fn runs
// once and must not change the ID or tenant (ErrConflict).
func (d *DB) UpdateDevice(ctx context.Context, id string, fn func(*store.Device) error) error {
	var sealed []sealedEvent
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		old, err := lockDevice(ctx, tx, id)
		if err != nil {
			return err
		}
		dev := old
		dev.Nodes = maps.Clone(old.Nodes)
		dev.ScopeTags = slices.Clone(old.ScopeTags)
		if err := fn(&dev); err != nil {
			return err
		}
		now := d.now()
		dev.UpdatedAt = now
		if _, err := writeDevice(ctx, tx, &old, dev, now); err != nil {
			return err
		}
		sealed, err = writeAuditTx(ctx, tx, dev)
		return err
	})
	if err != nil {
		return fmt.Errorf("updating device %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// ListDevices returns a tenant's devices in ID order.
func (d *DB) ListDevices(ctx context.Context, tenantID string) ([]store.Device, error) {
	out, err := listRecords[store.Device](ctx, d, `SELECT data FROM devices WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing devices of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// CertRevoked reports whether a certificate serial (hex, any case) has been revoked.
func (d *DB) CertRevoked(ctx context.Context, serial string) (bool, error) {
	var revoked bool
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked WHERE serial = $1)`, normSerial(serial)).Scan(&revoked)
	})
	if err != nil {
		return false, fmt.Errorf("checking revocation of %s: %w", serial, err)
	}
	return revoked, nil
}
