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
	version   uint64
	err       error
	snapshots int
}

func (f *fakePolicySource) PolicySnapshot(_ context.Context, tenantID string) (store.PolicySnapshot, error) {
	if f.err != nil {
		return store.PolicySnapshot{}, f.err
	}
	f.snapshots++
	return store.PolicySnapshot{TenantID: tenantID, Version: f.version}, nil
}

// The hook reads a tenant's policy once per policy version: Cached answers from what it
// holds (never reading), Load reads on a miss and keeps the newest snapshot.
func TestPolicyHookCache(t *testing.T) {
	ctx := context.Background()
	src := &fakePolicySource{version: 3}
	h, err := NewPolicyHook(src)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.Cached(testTenant, 3); s != nil || src.snapshots != 0 {
		t.Fatalf("empty cache: snapshot %v, %d reads", s, src.snapshots)
	}
	first, err := h.Load(ctx, testTenant, 3)
	if err != nil || first == nil || first.Version() != 3 || first.TenantID() != testTenant || src.snapshots != 1 {
		t.Fatalf("load: snapshot %v, err %v, %d reads", first, err, src.snapshots)
	}
	if again := h.Cached(testTenant, 3); again != first {
		t.Fatal("the loaded snapshot is not cached")
	}
	if older := h.Cached(testTenant, 2); older != first {
		t.Fatal("a snapshot newer than asked for is not served")
	}
	if again, err := h.Load(ctx, testTenant, 3); err != nil || again != first || src.snapshots != 1 {
		t.Fatalf("same version read again (%d reads)", src.snapshots)
	}
	if s := h.Cached(testTenant, 4); s != nil {
		t.Fatal("an older snapshot served for a newer version")
	}
	if s := h.Cached("other-tenant", 1); s != nil {
		t.Fatal("another tenant's snapshot served")
	}
	src.version = 4
	next, err := h.Load(ctx, testTenant, 4)
	if err != nil || next == first || next.Version() != 4 || src.snapshots != 2 || h.Cached(testTenant, 4) != next {
		t.Fatalf("newer version: snapshot %v, err %v, %d reads", next, err, src.snapshots)
	}
	src.err = errors.New("disk on fire")
	if _, err := h.Load(ctx, testTenant, 5); !errors.Is(err, src.err) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPolicyHook(nil); err == nil {
		t.Fatal("a hook without a source")
	}
}
