package server

import (
	"context"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// The PFN cache serves a tenant's PFN for pushPFNTTL, forgets it when told (the admin API
// changed it), and reads again after the TTL.
func TestPushPFNCache(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true})
	ctx := context.Background()
	dev := ts.enroll("0123456789ABCDEF0123456789ABCDEF")
	now := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	c := newPushPFNCache(ts.app.Store, func() time.Time { return now })
	setPFN := func(pfn string) {
		t.Helper()
		if err := ts.app.Store.UpdateTenant(ctx, testTenant, func(tn *store.Tenant) error {
			tn.WNS = &store.TenantWNS{PFN: pfn, PackageSID: "ms-app://s-1-15-2-1-2-3-4-5-6-7"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	pfn := func() string {
		t.Helper()
		p, err := c.PFN(ctx, dev.id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := pfn(); got != "" {
		t.Fatalf("no PFN configured: %q", got)
	}
	setPFN("A.B_8wekyb3d8bbwe")
	if got := pfn(); got != "" {
		t.Fatalf("within the TTL the cached value is served: %q", got)
	}
	c.Forget(testTenant)
	if got := pfn(); got != "A.B_8wekyb3d8bbwe" {
		t.Fatalf("after Forget: %q", got)
	}
	setPFN("C.D_8wekyb3d8bbwe")
	now = now.Add(pushPFNTTL)
	if got := pfn(); got != "C.D_8wekyb3d8bbwe" {
		t.Fatalf("after the TTL: %q", got)
	}
	if got, err := c.PFN(ctx, "no-such-device"); err != nil || got != "" {
		t.Fatalf("unknown device: %q %v", got, err)
	}
}
