package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// The agent's Run renews its certificate by itself once the provisioning document's
// RenewPeriod is reached (the agent's clock is moved to 30 days before expiry), before the
// session, so the session that follows already uses the new certificate; the server records
// the new serial and one renewal event, and the old certificate is refused.
func TestAutomaticRenewal(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	id := newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro)
	var shift atomic.Int64
	a, err := device.Open(t.TempDir(), device.Options{Identity: &id, HTTPTimeout: 20 * time.Second, PollUnit: time.Hour,
		Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	old := tlsCertOf(t, a)
	if st, err := a.Status(); err != nil || !strings.Contains(st, "NextRenewal") || strings.Contains(st, "due now") {
		t.Fatalf("status right after enrollment (renewal must not be due): %v\n%s", err, st)
	}

	shift.Store(int64(time.Until(old.Leaf.NotAfter) - 30*24*time.Hour))
	if st, _ := a.Status(); !strings.Contains(st, "due now") {
		t.Fatalf("status 30 days before expiry does not show the renewal as due:\n%s", st)
	}
	cmdID := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for e.command(contosoTenant, did, cmdID).State != string(store.CommandSucceeded) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the queued Get was not delivered within 30 s (state %s)", e.command(contosoTenant, did, cmdID).State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	renewed := tlsCertOf(t, a)
	if renewed.Leaf.SerialNumber.Cmp(old.Leaf.SerialNumber) == 0 {
		t.Fatal("Run did not renew the certificate inside the renewal window")
	}
	d, err := e.app.Store.Device(ctx, did)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(d.CertSerial, renewed.Leaf.SerialNumber.Text(16)) {
		t.Errorf("server records serial %s, want the renewed %X", d.CertSerial, renewed.Leaf.SerialNumber)
	}
	if evs := e.auditOf(contosoTenant, audit.KindRenewed, did); len(evs) != 1 {
		t.Errorf("%d renewal events, want 1", len(evs))
	}
	// The session that delivered the Get ran after the renewal: the device's current
	// certificate was the only one the server still accepted by then.
	if _, hdr, err := e.checkin(old, did); err != nil || hdr == 200 {
		t.Errorf("old certificate after automatic renewal: SyncHdr %d, %v; want it refused", hdr, err)
	}
	// The server dated the new certificate by its own clock: back on that clock, the next
	// renewal is months away.
	shift.Store(0)
	if st, _ := a.Status(); strings.Contains(st, "due now") || !strings.Contains(st, renewed.Leaf.NotAfter.UTC().Format(time.RFC3339)) {
		t.Errorf("status after the renewal does not show the new certificate's expiry, or shows renewal as due:\n%s", st)
	}
}
