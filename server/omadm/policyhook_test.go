package omadm

import (
	"context"
	"errors"
	"testing"

	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
)

// Every command state has its Delivery, and the two agree on which commands are open.
const testTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

func TestDeliveryOfEveryCommandState(t *testing.T) {
	all := []store.CommandState{store.CommandQueued, store.CommandSent, store.CommandRetry, store.CommandAccepted,
		store.CommandSucceeded, store.CommandFailed, store.CommandCancelled, store.CommandUnknown}
	seen := map[policy.Delivery]bool{}
	for _, s := range all {
		d := deliveryOf(s)
		if d == 0 {
			t.Errorf("state %q has no Delivery", s)
		}
		if d.Open() != s.Open() {
			t.Errorf("state %q: Delivery open %v, command open %v", s, d.Open(), s.Open())
		}
		seen[d] = true
	}
	if len(seen) != 7 { // queued and sent are both waiting
		t.Errorf("%d distinct deliveries, want 7", len(seen))
	}
	if deliveryOf("bogus") != 0 {
		t.Error("an unknown state got a Delivery")
	}
}

type fakePolicySource struct {
	check     store.PolicyCheck
	checkErr  error
	snapshots int
}

func (f *fakePolicySource) PolicyCheck(_ context.Context, deviceID string) (store.PolicyCheck, error) {
	return f.check, f.checkErr
}

func (f *fakePolicySource) PolicySnapshot(_ context.Context, tenantID string) (store.PolicySnapshot, error) {
	f.snapshots++
	return store.PolicySnapshot{TenantID: tenantID, Version: f.check.TenantVersion}, nil
}

// Prepare reads the tenant's policy only for a device that may have changed, and once per
// policy version.
func TestPolicyHookPrepare(t *testing.T) {
	ctx := context.Background()
	dev := store.Device{ID: "d1", TenantID: testTenant, State: store.DeviceEnrolled, OSVersion: "10.0.22631.2861", OSEdition: 4}
	src := &fakePolicySource{check: store.PolicyCheck{Device: dev, TenantVersion: 2, HasResolved: true,
		Resolved: store.DevicePolicy{Version: 2, OSVersion: dev.OSVersion, OSEdition: 4}}}
	h, err := NewPolicyHook(src)
	if err != nil {
		t.Fatal(err)
	}
	prepare := func() *policy.Snapshot {
		t.Helper()
		s, err := h.Prepare(ctx, "d1")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := prepare(); s != nil || src.snapshots != 0 {
		t.Fatalf("idle device: snapshot %v, %d reads", s, src.snapshots)
	}
	src.check.TenantVersion = 3
	first := prepare()
	if first == nil || first.Version() != 3 || first.TenantID() != testTenant || src.snapshots != 1 {
		t.Fatalf("after a policy change: snapshot %v, %d reads", first, src.snapshots)
	}
	if again := prepare(); again != first || src.snapshots != 1 {
		t.Fatalf("same version read again (%d reads)", src.snapshots)
	}
	src.check.TenantVersion = 4
	if next := prepare(); next == first || next.Version() != 4 || src.snapshots != 2 {
		t.Fatalf("newer version served from the cache (%d reads)", src.snapshots)
	}
	src.check.Device.State = store.DeviceUnenrolled
	if s := prepare(); s != nil {
		t.Fatal("an unenrolled device was prepared")
	}
	src.checkErr = store.ErrNotFound
	if s := prepare(); s != nil {
		t.Fatal("an unknown device was prepared")
	}
	src.checkErr = errors.New("disk on fire")
	if _, err := h.Prepare(ctx, "d1"); !errors.Is(err, src.checkErr) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPolicyHook(nil); err == nil {
		t.Fatal("a hook without a source")
	}
}
