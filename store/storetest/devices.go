package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// revoked reports whether the store lists serial as revoked.
func revoked(t *testing.T, s store.Store, serial string) bool {
	t.Helper()
	r, err := s.CertRevoked(t.Context(), serial)
	must(t, "CertRevoked", err)
	return r
}

func testDevices(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Register", deviceRegister},
		{"ReEnrollRevokesOldSerial", deviceReEnrollRevokesOldSerial},
		{"LeavingManagementRevokesSerial", deviceLeavingManagementRevokesSerial},
		{"OtherTenantConflicts", deviceOtherTenantConflicts},
		{"UpdateRevokesOnSerialChange", deviceUpdateRevokesOnSerialChange},
		{"UpdateFnErrorAndMissing", deviceUpdateFnErrorAndMissing},
		{"ListByTenant", deviceListByTenant},
		{"UnknownSerialNotRevoked", deviceUnknownSerialNotRevoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func deviceRegister(t *testing.T, s store.Store) {
	prev, err := s.RegisterDevice(t.Context(), device("t1", "d1", "0A01"))
	must(t, "RegisterDevice", err)
	if prev != nil {
		t.Fatalf("previous = %+v, want nil", prev)
	}
	got, err := s.Device(t.Context(), "d1")
	must(t, "Device", err)
	if got.TenantID != "t1" || got.CertSerial != "0A01" || got.Nodes["./DevInfo/Lang"] != "en-US" {
		t.Fatalf("Device = %+v", got)
	}
	if revoked(t, s, "0A01") {
		t.Fatal("new serial revoked")
	}
	_, err = s.Device(t.Context(), "d2")
	mustErr(t, "Device missing", err, store.ErrNotFound)
}

func deviceReEnrollRevokesOldSerial(t *testing.T, s store.Store) {
	_, err := s.RegisterDevice(t.Context(), device("t1", "d1", "0A01"))
	must(t, "RegisterDevice", err)
	prev, err := s.RegisterDevice(t.Context(), device("t1", "d1", "0B02"))
	must(t, "RegisterDevice again", err)
	if prev == nil || prev.CertSerial != "0A01" {
		t.Fatalf("previous = %+v, want the 0A01 record", prev)
	}
	if !revoked(t, s, "0A01") || !revoked(t, s, "0a01") {
		t.Fatal("old serial not revoked")
	}
	if revoked(t, s, "0B02") {
		t.Fatal("new serial revoked")
	}
	if got, _ := s.Device(t.Context(), "d1"); got.CertSerial != "0B02" {
		t.Fatalf("serial = %s", got.CertSerial)
	}
}

func deviceLeavingManagementRevokesSerial(t *testing.T, s store.Store) {
	for _, state := range []string{store.DeviceUnenrolled, store.DeviceRetired} {
		_, err := s.RegisterDevice(t.Context(), device("t1", "d-"+state, "0D0"+state[:1]))
		must(t, "RegisterDevice", err)
		must(t, "UpdateDevice", s.UpdateDevice(t.Context(), "d-"+state, func(d *store.Device) error {
			d.State = state
			return nil
		}))
		if !revoked(t, s, "0D0"+state[:1]) {
			t.Fatalf("a %s device's certificate is not revoked", state)
		}
	}
	_, err := s.RegisterDevice(t.Context(), device("t1", "d-tx", "0E01"))
	must(t, "RegisterDevice", err)
	must(t, "Checkin", s.Checkin(t.Context(), "d-tx", func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		d.State = store.DeviceUnenrolled
		return tx.PutDevice(d)
	}))
	if !revoked(t, s, "0E01") {
		t.Fatal("unenrolling inside a check-in did not revoke the certificate")
	}
}

func deviceOtherTenantConflicts(t *testing.T, s store.Store) {
	_, err := s.RegisterDevice(t.Context(), device("t1", "d1", "0A01"))
	must(t, "RegisterDevice", err)
	prev, err := s.RegisterDevice(t.Context(), device("t2", "d1", "0C03"))
	mustErr(t, "RegisterDevice in another tenant", err, store.ErrConflict)
	if prev != nil {
		t.Fatalf("previous = %+v on conflict", prev)
	}
	got, err := s.Device(t.Context(), "d1")
	must(t, "Device", err)
	if got.TenantID != "t1" || got.CertSerial != "0A01" {
		t.Fatalf("device changed by refused registration: %+v", got)
	}
	if revoked(t, s, "0A01") || revoked(t, s, "0C03") {
		t.Fatal("refused registration revoked a serial")
	}
	list, err := s.ListDevices(t.Context(), "t2")
	must(t, "ListDevices", err)
	if len(list) != 0 {
		t.Fatalf("t2 lists %d devices", len(list))
	}
}

func deviceUpdateRevokesOnSerialChange(t *testing.T, s store.Store) {
	_, err := s.RegisterDevice(t.Context(), device("t1", "d1", "0A01"))
	must(t, "RegisterDevice", err)
	must(t, "UpdateDevice", s.UpdateDevice(t.Context(), "d1", func(d *store.Device) error {
		d.OSVersion = "10.0.26100"
		return nil
	}))
	if revoked(t, s, "0A01") {
		t.Fatal("serial revoked without change")
	}
	must(t, "UpdateDevice", s.UpdateDevice(t.Context(), "d1", func(d *store.Device) error {
		d.CertSerial = "0D04"
		return nil
	}))
	if !revoked(t, s, "0A01") {
		t.Fatal("old serial not revoked on change")
	}
	got, err := s.Device(t.Context(), "d1")
	must(t, "Device", err)
	if got.CertSerial != "0D04" || got.OSVersion != "10.0.26100" {
		t.Fatalf("Device = %+v", got)
	}
}

func deviceUpdateFnErrorAndMissing(t *testing.T, s store.Store) {
	_, err := s.RegisterDevice(t.Context(), device("t1", "d1", "0A01"))
	must(t, "RegisterDevice", err)
	err = s.UpdateDevice(t.Context(), "d1", func(d *store.Device) error {
		d.CertSerial = "0E05"
		d.Nodes["x"] = "y"
		return errBoom
	})
	mustErr(t, "UpdateDevice", err, errBoom)
	if revoked(t, s, "0A01") {
		t.Fatal("aborted update revoked the serial")
	}
	if got, _ := s.Device(t.Context(), "d1"); got.CertSerial != "0A01" || got.Nodes["x"] != "" {
		t.Fatalf("aborted update stored: %+v", got)
	}
	err = s.UpdateDevice(t.Context(), "nope", func(*store.Device) error { return nil })
	mustErr(t, "UpdateDevice missing", err, store.ErrNotFound)
}

func deviceListByTenant(t *testing.T, s store.Store) {
	for _, d := range []store.Device{device("t1", "d1", "01"), device("t1", "d2", "02"), device("t2", "d3", "03")} {
		_, err := s.RegisterDevice(t.Context(), d)
		must(t, "RegisterDevice", err)
	}
	list, err := s.ListDevices(t.Context(), "t1")
	must(t, "ListDevices", err)
	var ids []string
	for _, d := range list {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"d1", "d2"}) {
		t.Fatalf("ListDevices(t1) = %v", ids)
	}
}

func deviceUnknownSerialNotRevoked(t *testing.T, s store.Store) {
	if revoked(t, s, "FFFF") {
		t.Fatal("unknown serial reported revoked")
	}
}

// isNotFound reports whether err is store.ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
