package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// revocation is the value of a revoked serial.
type revocation struct {
	DeviceID  string    `json:"deviceId"`
	RevokedAt time.Time `json:"revokedAt"`
}

func normSerial(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func checkDevice(dev store.Device) error {
	if err := checkID("device id", dev.ID); err != nil {
		return err
	}
	if err := checkID("tenant id", dev.TenantID); err != nil {
		return err
	}
	return store.CheckDeviceText(dev)
}

// checkDeviceOver is checkDevice for a write over the stored device summarized in was (nil
// when new): a text longer than store.MaxDeviceTextLen, or scope tags longer than
// store.MaxDeviceScopeTagsLen, are refused only when new. A device stored before those
// limits existed keeps its long name, UPN, OS version, reported CanReset or scope tags
// through its check-ins (its index keys were written with them and fit kv.MaxKeyLen, as
// every key is checked), instead of failing every check-in until an admin changes them.
func checkDeviceOver(was *devSummary, dev store.Device) error {
	if was == nil {
		return checkDevice(dev)
	}
	if err := checkID("device id", dev.ID); err != nil {
		return err
	}
	if err := checkID("tenant id", dev.TenantID); err != nil {
		return err
	}
	kept := dev
	if dev.DeviceName == was.Name {
		kept.DeviceName = ""
	}
	if dev.UPN == was.UPN {
		kept.UPN = ""
	}
	if dev.OSVersion == was.OSVersion {
		kept.OSVersion = ""
	}
	if dev.ReportedCanReset() == was.CanReset {
		kept.Nodes = nil
	}
	if slices.Equal(dev.ScopeTags, was.Tags) {
		kept.ScopeTags = nil
	}
	return store.CheckDeviceText(kept)
}

// RegisterDevice creates or re-enrolls the device and returns the record it replaced: a
// Write of that one change (store.Writes), batched, so enrollments arriving together share
// one commit.
func (s *Store) RegisterDevice(ctx context.Context, dev store.Device) (*store.Device, error) {
	reg, err := alone(ctx, s, true, func(w *wtx) (store.DeviceRegistration, error) { return w.RegisterDevice(dev) })
	return reg.Previous, err
}

// RegisterDevice creates the device in w, or re-enrolls it in the same tenant: the previous
// certificate serial is revoked in the same transaction. It returns the device as stored and
// the record it replaced. A DeviceID stored under another tenant gives ErrConflict. EnrolledAt
// defaults to now; UpdatedAt is set to now. A creation lost to a concurrent one is an
// errCreateRace, on which the Write runs again.
func (w *wtx) RegisterDevice(dev store.Device) (reg store.DeviceRegistration, err error) {
	if err := checkDevice(dev); err != nil {
		return reg, fmt.Errorf("registering device: %w", err)
	}
	defer failed(&reg, &err, "registering device "+dev.ID)
	dev.CertSerial = normSerial(dev.CertSerial)
	if dev.EnrolledAt.IsZero() {
		dev.EnrolledAt = w.now
	}
	dev.UpdatedAt = w.now
	previous, err := registerDevice(w, dev)
	if err != nil {
		return reg, err
	}
	return store.DeviceRegistration{Device: dev, Previous: previous}, nil
}

// registerDevice stores dev in w, locking the existing record; it returns the record
// replaced (nil for a first enrollment).
func registerDevice(w *wtx, dev store.Device) (*store.Device, error) {
	if err := lockTenant(w, dev.TenantID); err != nil {
		return nil, err
	}
	var old store.Device
	switch err := getJSONForUpdate(w, bDevices, []byte(dev.ID), &old); {
	case errors.Is(err, store.ErrNotFound):
		return nil, lostRace(writeDevice(w, nil, dev), "device "+dev.ID)
	case err != nil:
		return nil, err
	case old.TenantID != dev.TenantID:
		return nil, fmt.Errorf("device %s belongs to another tenant: %w", dev.ID, store.ErrConflict)
	default:
		if err := writeDevice(w, &old, dev); err != nil {
			return nil, err
		}
		return &old, nil
	}
}

// writeDevice stores dev over old (nil when new: the record must not exist, else an error
// wrapping store.ErrExists): the ID and tenant must not change, a changed certificate serial
// revokes the old one, and a device leaving the enrolled state (unenrolled, retired) has its
// current serial revoked. Revocations are dated w.now. Callers that update read old with
// GetForUpdate.
func writeDevice(w *wtx, old *store.Device, dev store.Device) error {
	var was *devSummary
	if old != nil {
		sum := summarize(*old)
		was = &sum
	}
	return writeDeviceOver(w, old, was, dev)
}

// writeDeviceOver is writeDevice with the summary of the device it replaces (nil when new):
// a check-in keeps only a few fields of the stored device (deviceTx.stored) and its summary.
func writeDeviceOver(w *wtx, old *store.Device, was *devSummary, dev store.Device) error {
	if err := checkDeviceOver(was, dev); err != nil {
		return err
	}
	dev.CertSerial = normSerial(dev.CertSerial)
	if old == nil {
		if err := insertJSON(w, bDevices, []byte(dev.ID), &dev); err != nil {
			return err
		}
		if err := indexDevice(w, nil, dev); err != nil {
			return err
		}
		return w.Put(bDeviceTenant, subKey(dev.TenantID, dev.ID), nil)
	}
	if old.ID != dev.ID || old.TenantID != dev.TenantID {
		return fmt.Errorf("changing device id or tenant: %w", store.ErrConflict)
	}
	if s := normSerial(old.CertSerial); s != "" && s != dev.CertSerial {
		if err := revoke(w, s, old.ID); err != nil {
			return err
		}
	}
	// Leaving management (unenrollment, retirement) revokes the current certificate too.
	if old.State == store.DeviceEnrolled && dev.State != store.DeviceEnrolled && dev.CertSerial != "" {
		if err := revoke(w, dev.CertSerial, dev.ID); err != nil {
			return err
		}
	}
	if err := indexDevice(w, was, dev); err != nil {
		return err
	}
	return putJSON(w, bDevices, []byte(dev.ID), &dev)
}

// revoke records serial (normalized) as revoked at w.now.
func revoke(w *wtx, serial, deviceID string) error {
	rev := revocation{DeviceID: deviceID, RevokedAt: w.now}
	if err := putJSON(w, bRevoked, []byte(serial), &rev); err != nil {
		return fmt.Errorf("revoking serial %s: %w", serial, err)
	}
	return nil
}

// Device returns a device by ID.
func (s *Store) Device(ctx context.Context, id string) (store.Device, error) {
	var dev store.Device
	err := s.view(ctx, func(tx kv.Tx) error {
		return getJSON(tx, bDevices, []byte(id), &dev)
	})
	if err != nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", id, err)
	}
	return dev, nil
}

// UpdateDevice applies fn to the stored device and writes it back: a Write of that one
// change (store.Writes).
func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(*store.Device) error) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.UpdateDevice(id, fn)
		return err
	})
}

// UpdateDevice applies fn to the stored device (locked) and writes it back in w with
// UpdatedAt set; it returns the device as stored. A changed certificate serial revokes the
// old one in the same transaction; fn must not change the ID or tenant (ErrConflict).
func (w *wtx) UpdateDevice(id string, fn func(*store.Device) error) (dev store.Device, err error) {
	defer failed(&dev, &err, "updating device "+id)
	var old store.Device
	if err := getJSONForUpdate(w, bDevices, []byte(id), &old); err != nil {
		return dev, err
	}
	dev = old
	dev.Nodes = maps.Clone(old.Nodes)
	dev.ScopeTags = slices.Clone(old.ScopeTags)
	if old.WNS != nil {
		w := *old.WNS
		dev.WNS = &w
	}
	if err := fn(&dev); err != nil {
		return dev, err
	}
	dev.UpdatedAt = w.now
	if err := writeDevice(w, &old, dev); err != nil {
		return dev, err
	}
	dev.CertSerial = normSerial(dev.CertSerial)
	return dev, nil
}

// listChunk is how many records ListDevices fetches per GetMany: one round trip each on
// backends behind a network.
const listChunk = 256

// ListDevices returns a tenant's devices in ID order: the tenant's keys of the device index,
// then the records, fetched listChunk at a time.
func (s *Store) ListDevices(ctx context.Context, tenantID string) ([]store.Device, error) {
	var out []store.Device
	err := s.view(ctx, func(tx kv.Tx) error {
		out = nil
		p := prefix(tenantID, 0)
		ids := make([][]byte, 0, listChunk)
		flush := func() error {
			vals, err := tx.GetMany(bDevices, ids)
			if err != nil {
				return err
			}
			for i, raw := range vals {
				if raw == nil {
					return fmt.Errorf("device %s: %w", ids[i], store.ErrNotFound)
				}
				var dev store.Device
				if err := unmarshal(raw, &dev); err != nil {
					return fmt.Errorf("device %s: %w", ids[i], err)
				}
				out = append(out, dev)
			}
			ids = ids[:0]
			return nil
		}
		err := tx.Scan(bDeviceTenant, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
			ids = append(ids, cloneBytes(k[len(p):]))
			if len(ids) < listChunk {
				return true, nil
			}
			return true, flush()
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		return flush()
	})
	if err != nil {
		return nil, fmt.Errorf("listing devices of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// ListWNSDevices returns the tenant's enrolled devices holding a WNS channel URI, in ID
// order: the tenant's 'w' entries of the device index, then their records.
func (s *Store) ListWNSDevices(ctx context.Context, tenantID string) ([]store.Device, error) {
	var out []store.Device
	err := s.view(ctx, func(tx kv.Tx) error {
		out = nil
		p := append(prefix(tenantID, 1), kindWNS)
		var keys [][]byte
		err := tx.Scan(bDevIndex, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
			keys = append(keys, cloneBytes(k[len(p):]))
			return true, nil
		})
		if err != nil {
			return err
		}
		for start := 0; start < len(keys); start += listChunk {
			vals, err := tx.GetMany(bDevices, keys[start:min(start+listChunk, len(keys))])
			if err != nil {
				return err
			}
			for i, raw := range vals {
				var dev store.Device
				if raw == nil {
					return fmt.Errorf("device %s: %w", keys[start+i], store.ErrNotFound)
				}
				if err := unmarshal(raw, &dev); err != nil {
					return fmt.Errorf("device %s: %w", keys[start+i], err)
				}
				out = append(out, dev)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the WNS devices of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// CertRevoked reports whether a certificate serial (hex, any case) has been revoked.
func (s *Store) CertRevoked(ctx context.Context, serial string) (bool, error) {
	var revoked bool
	err := s.view(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bRevoked, []byte(normSerial(serial)))
		revoked = v != nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("checking revocation of %s: %w", serial, err)
	}
	return revoked, nil
}
