package core

import (
	"strings"
	"testing"

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
