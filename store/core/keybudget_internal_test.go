package core

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// TestKeyBudget: the keys the store builds from what devices report fit kv.MaxKeyLen (the
// longest key PostgreSQL's index takes) with every part at its limit, so that a device
// within store.MaxIDLen and store.MaxDeviceTextLen never meets kv.CheckKey's refusal. The
// keys of three IDs (a setting state: tenant, device and LocURI; a group member: tenant,
// group and member) fit with the tenant and group IDs the admin API makes (GUIDs), device
// and member IDs at store.MaxIDLen and the LocURI at the policy parser's limit.
func TestKeyBudget(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tenant, maxID, text := long(store.MaxIDLen), long(store.MaxIDLen), long(store.MaxDeviceTextLen)
	sum := devSummary{Name: text, UPN: text, CanReset: text, State: store.DeviceUnenrolled, OSVersion: text, Seen: 1}
	keys := map[string][]byte{"count": countKey(tenant, sum, maxID)}
	for k := range sum.entries(tenant, maxID) {
		keys["index "+k[2+len(tenant):2+len(tenant)+1]] = []byte(k)
	}
	guid := uuid.NewString()
	keys["setting state"] = append(prefix2(guid, maxID, 0), long(store.MaxIDLen)...)
	m := store.Member{Kind: store.MemberDevice, ID: maxID}
	keys["member"], keys["parent"] = memberKey(guid, guid, m), parentKey(guid, guid, m)
	if len(keys) < 9 {
		t.Fatalf("only %d keys: %v", len(keys), keys)
	}
	for name, k := range keys {
		if err := kv.CheckKey(k); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	// One byte more than MaxDeviceTextLen is refused before it reaches a key.
	for _, d := range []store.Device{{DeviceName: text + "x"}, {UPN: text + "x"}, {OSVersion: text + "x"},
		{Nodes: map[string]string{store.CanResetNode: text + "x"}}} {
		if err := store.CheckDeviceText(d); err == nil {
			t.Errorf("CheckDeviceText(%+v) = nil", d)
		}
	}
	if err := store.CheckDeviceText(store.Device{DeviceName: text, UPN: text, OSVersion: text, Nodes: map[string]string{store.CanResetNode: text}}); err != nil {
		t.Error(err)
	}
}

// TestDeviceTextKeptOverLimit: a device stored before store.MaxDeviceTextLen existed, with a
// longer name, keeps working (a check-in's write that leaves the name as it is succeeds and
// the index still finds it); a write that brings a new over-long text is refused and changes
// nothing; shortening it is accepted.
func TestDeviceTextKeptOverLimit(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	oldName := strings.Repeat("n", store.MaxDeviceTextLen+200)
	// The record as a store before the limit wrote it: the same writes as a first
	// registration, without the check that now refuses the name.
	err := s.Write(ctx, func(sw store.Writer) error {
		w := sw.(*wtx)
		dev := store.Device{ID: "d1", TenantID: "t1", State: store.DeviceEnrolled, DeviceName: oldName, EnrolledAt: w.now, UpdatedAt: w.now}
		if err := insertJSON(w, bDevices, []byte(dev.ID), &dev); err != nil {
			return err
		}
		if err := indexDevice(w, nil, dev); err != nil {
			return err
		}
		return w.Put(bDeviceTenant, subKey(dev.TenantID, dev.ID), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.LastSeenAt = seen; d.OSVersion = "10.0.26100.1"; return nil }); err != nil {
		t.Fatalf("write keeping the stored long name: %v", err)
	}
	page, err := s.QueryDevices(ctx, store.DeviceQuery{TenantID: "t1", Search: "nnnn", Limit: 10})
	if err != nil || len(page.Devices) != 1 || page.Devices[0].OSVersion != "10.0.26100.1" {
		t.Fatalf("search after the write: %+v, %v", page, err)
	}
	other := strings.Repeat("m", store.MaxDeviceTextLen+1)
	if err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.DeviceName = other; return nil }); err == nil {
		t.Fatal("a new over-long name was accepted")
	}
	if d, err := s.Device(ctx, "d1"); err != nil || d.DeviceName != oldName {
		t.Fatalf("refused write changed the device: %q, %v", d.DeviceName, err)
	}
	if err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.DeviceName = "DESKTOP-1"; return nil }); err != nil {
		t.Fatalf("shortening the name: %v", err)
	}
}
