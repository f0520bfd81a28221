package bolt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// revocation is the value of a revoked serial.
type revocation struct {
	DeviceID  string    `json:"deviceId"`
	RevokedAt time.Time `json:"revokedAt"`
}

func normSerial(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

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
	)
	// Batched: enrollments arriving together share one commit. The function is idempotent
	// (it may run again when another member of the batch fails).
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		previous, sealed = nil, nil
		var old store.Device
		switch err := getJSON(bucket(tx, bDevices), []byte(dev.ID), &old); {
		case errors.Is(err, store.ErrNotFound):
			if err := writeDevice(tx, nil, dev, now); err != nil {
				return err
			}
		case err != nil:
			return err
		case old.TenantID != dev.TenantID:
			return fmt.Errorf("device %s belongs to another tenant: %w", dev.ID, store.ErrConflict)
		default:
			if err := writeDevice(tx, &old, dev, now); err != nil {
				return err
			}
			previous = &old
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, store.DeviceRegistration{Device: dev, Previous: previous})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registering device %s: %w", dev.ID, err)
	}
	d.publish(sealed)
	return previous, nil
}

func checkDevice(dev store.Device) error {
	if err := checkID("device id", dev.ID); err != nil {
		return err
	}
	return checkID("tenant id", dev.TenantID)
}

// writeDevice stores dev over old (nil when new): the ID and tenant must not change, and a
// changed certificate serial revokes the old one, and a device leaving the enrolled state
// (unenrolled, retired) has its current serial revoked.
func writeDevice(tx *bbolt.Tx, old *store.Device, dev store.Device, now time.Time) error {
	if err := checkDevice(dev); err != nil {
		return err
	}
	dev.CertSerial = normSerial(dev.CertSerial)
	if old != nil {
		if old.ID != dev.ID || old.TenantID != dev.TenantID {
			return fmt.Errorf("changing device id or tenant: %w", store.ErrConflict)
		}
		if s := normSerial(old.CertSerial); s != "" && s != dev.CertSerial {
			rev := revocation{DeviceID: old.ID, RevokedAt: now}
			if err := putJSON(bucket(tx, bRevoked), []byte(s), &rev); err != nil {
				return fmt.Errorf("revoking serial %s: %w", s, err)
			}
		}
		// Leaving management (unenrollment, retirement) revokes the current certificate too.
		if old.State == store.DeviceEnrolled && dev.State != store.DeviceEnrolled && dev.CertSerial != "" {
			rev := revocation{DeviceID: dev.ID, RevokedAt: now}
			if err := putJSON(bucket(tx, bRevoked), []byte(dev.CertSerial), &rev); err != nil {
				return fmt.Errorf("revoking serial %s: %w", dev.CertSerial, err)
			}
		}
	} else if err := bucket(tx, bDeviceTenant).Put(subKey(dev.TenantID, dev.ID), nil); err != nil {
		return err
	}
	return putJSON(bucket(tx, bDevices), []byte(dev.ID), &dev)
}

// Device returns a device by ID.
func (d *DB) Device(ctx context.Context, id string) (store.Device, error) {
	var dev store.Device
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(bucket(tx, bDevices), []byte(id), &dev)
	})
	if err != nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", id, err)
	}
	return dev, nil
}

// UpdateDevice applies fn to the stored device and writes it back with UpdatedAt set. A
// changed certificate serial revokes the old one in the same transaction; fn must not change
// the ID or tenant (ErrConflict).
func (d *DB) UpdateDevice(ctx context.Context, id string, fn func(*store.Device) error) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		var old store.Device
		if err := getJSON(bucket(tx, bDevices), []byte(id), &old); err != nil {
			return err
		}
		dev := old
		dev.Nodes = maps.Clone(old.Nodes)
		dev.ScopeTags = append([]string(nil), old.ScopeTags...)
		if err := fn(&dev); err != nil {
			return err
		}
		now := d.now()
		dev.UpdatedAt = now
		if err := writeDevice(tx, &old, dev, now); err != nil {
			return err
		}
		var err error
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
	var out []store.Device
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		devices := bucket(tx, bDevices)
		p := prefix(tenantID, 0)
		c := bucket(tx, bDeviceTenant).Cursor()
		for k, _ := c.Seek(p); k != nil && hasPrefix(k, p); k, _ = c.Next() {
			var dev store.Device
			if err := getJSON(devices, k[len(p):], &dev); err != nil {
				return fmt.Errorf("device %s: %w", k[len(p):], err)
			}
			out = append(out, dev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing devices of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// CertRevoked reports whether a certificate serial (hex, any case) has been revoked.
func (d *DB) CertRevoked(ctx context.Context, serial string) (bool, error) {
	var revoked bool
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		revoked = bucket(tx, bRevoked).Get([]byte(normSerial(serial))) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("checking revocation of %s: %w", serial, err)
	}
	return revoked, nil
}
