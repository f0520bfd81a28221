// Package storetest is the conformance suite every store backend runs: one call to Run from
// a backend's test exercises each store.Store method and the behaviour its documentation
// promises (uniqueness rules, case-insensitive lookups, revocation on re-enrollment,
// per-device command order, check-in transactions that roll back and may run twice, linear
// audit chains under concurrency, retention anchors, admin writes whose audit events commit
// with them or not at all, failed sign-in counters that count every concurrent failure).
//
// The suite is backend-agnostic: it uses only the store interfaces. It assumes that audit
// retention segments hold at most 1,000 events.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// Run runs the conformance suite. open must return a new, empty store for each call; Run
// closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	newStore := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if s.Backend() == "" {
			t.Fatal("Backend() is empty")
		}
		return s
	}
	t.Run("Tenants", func(t *testing.T) { testTenants(t, newStore) })
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, newStore) })
	t.Run("Commands", func(t *testing.T) { testCommands(t, newStore) })
	t.Run("Checkin", func(t *testing.T) { testCheckin(t, newStore) })
	t.Run("CheckinConcurrent", func(t *testing.T) { testCheckinConcurrent(t, newStore) })
	t.Run("CheckinPrefetch", func(t *testing.T) { testCheckinPrefetch(t, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore) })
	t.Run("AuditRetention", func(t *testing.T) { testAuditRetention(t, newStore) })
	t.Run("AuditReader", func(t *testing.T) { testAuditReader(t, newStore) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, newStore) })
	t.Run("Config", func(t *testing.T) { testConfig(t, newStore) })
	t.Run("Policy", func(t *testing.T) { RunPolicy(t, newStore) })
	t.Run("AdminAudit", func(t *testing.T) { testAdminAudit(t, newStore) })
	t.Run("SignInLimits", func(t *testing.T) { testSignInLimits(t, newStore) })
	t.Run("QueueStats", func(t *testing.T) { testQueueStats(t, newStore) })
	t.Run("Observer", func(t *testing.T) { testObserver(t, newStore) })
	t.Run("Redemptions", func(t *testing.T) { testRedemptions(t, newStore) })
	t.Run("IdempotencyKeys", func(t *testing.T) { testIdempotencyKeys(t, newStore) })
	t.Run("ConsoleSessions", func(t *testing.T) { testConsoleSessions(t, newStore) })
	t.Run("DeviceIndex", func(t *testing.T) { testDeviceIndex(t, newStore) })
	t.Run("SettingTroubles", func(t *testing.T) { testSettingTroubles(t, newStore) })
	t.Run("PushStates", func(t *testing.T) { testPushStates(t, newStore) })
	t.Run("ProfileStatus", func(t *testing.T) { testProfileStatus(t, newStore) })
	t.Run("ProfileStatusConcurrent", func(t *testing.T) { testProfileStatusConcurrent(t, newStore) })
}

type opener func(t *testing.T) store.Store

// errBoom is what test functions return to abort a transaction.
var errBoom = errors.New("boom")

// t0 is the base time of fixtures.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func tenant(id string, domains ...string) store.Tenant {
	return store.Tenant{
		ID: id, DisplayName: "Tenant " + id, VerifiedDomains: domains,
		AuthPolicy: store.AuthOnPremise, CreatedAt: t0, UpdatedAt: t0,
	}
}

func device(tenantID, id, serial string) store.Device {
	return store.Device{
		ID: id, TenantID: tenantID, HWDevID: "hw-" + id, DeviceName: "PC-" + id,
		State: store.DeviceEnrolled, CertSerial: serial, CertThumbprint: "AB" + serial,
		CertNotAfter: t0.AddDate(1, 0, 0), EnrolledAt: t0,
		Nodes: map[string]string{"./DevInfo/Lang": "en-US"},
	}
}

func command(deviceID, id string) store.Command {
	return store.Command{
		ID: id, DeviceID: deviceID, MaxAttempts: 3, Source: "test",
		Payload: store.Payload{Verb: "Get", Items: []store.Item{{Target: "./DevDetail/SwV"}}},
	}
}

func event(tenantID string, tm time.Time, subject string) *audit.Event {
	return &audit.Event{
		ID: uuid.NewString(), Time: tm, TenantID: tenantID, Kind: audit.KindDeviceAlert,
		Actor:   audit.Actor{Type: audit.ActorDevice, ID: subject},
		Subject: audit.Subject{Type: audit.SubjectDevice, ID: subject},
		Details: []byte(`{"note":"<a & b>"}`),
	}
}

// mustErr fails unless err wraps want.
func mustErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// must fails on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// auditEvents reads the tenant's events after afterSeq.
func auditEvents(t *testing.T, s store.Store, tenantID string, afterSeq uint64) []audit.Event {
	t.Helper()
	var out []audit.Event
	err := s.AuditEvents(t.Context(), tenantID, afterSeq, func(e *audit.Event) (bool, error) {
		out = append(out, *e)
		return true, nil
	})
	must(t, "AuditEvents", err)
	return out
}

// sealsLater reports whether s seals audit events after their transactions commit (a
// sequencer, store.AuditSealer): the caller's events then hold no Seq or Hash when the
// append returns.
func sealsLater(s store.Store) bool {
	a, ok := s.(store.AuditSealer)
	return ok && !a.SealsInline()
}

// callerEvent checks the caller's event after its append committed against the event as
// stored (read back, so sealed): sealed the same on a store that seals inline; with the same
// ID and no Seq or Hash yet on one that seals later.
func callerEvent(t *testing.T, s store.Store, got *audit.Event, stored audit.Event) {
	t.Helper()
	switch {
	case got.ID != stored.ID:
		t.Fatalf("caller's event %s, stored %s", got.ID, stored.ID)
	case sealsLater(s) && (got.Seq != 0 || got.Hash != "" || got.PrevHash != ""):
		t.Fatalf("caller's event %s has Seq %d Hash %q before the sequencer sealed it", got.ID, got.Seq, got.Hash)
	case !sealsLater(s) && (got.Seq != stored.Seq || got.Hash != stored.Hash || got.PrevHash != stored.PrevHash):
		t.Fatalf("caller's event has Seq %d Hash %q, stored Seq %d Hash %q", got.Seq, got.Hash, stored.Seq, stored.Hash)
	}
}

// verifyChain checks that events continue the chain at anchor with contiguous Seqs, linked
// hashes and hashes that match their content.
func verifyChain(t *testing.T, anchor audit.Anchor, events []audit.Event) {
	t.Helper()
	head := anchor
	for i := range events {
		e := &events[i]
		if e.Seq != head.Seq+1 {
			t.Fatalf("event %d: Seq %d, want %d", i, e.Seq, head.Seq+1)
		}
		if e.PrevHash != head.Hash {
			t.Fatalf("event Seq %d: PrevHash %q, want %q", e.Seq, e.PrevHash, head.Hash)
		}
		if got := audit.ComputeHash(e); got != e.Hash {
			t.Fatalf("event Seq %d: stored Hash %q, content hashes to %q", e.Seq, e.Hash, got)
		}
		head = e.Head()
	}
	if _, err := audit.VerifyFrom(context.Background(), anchor, audit.NewSliceIterator(events)); err != nil {
		t.Fatalf("audit.VerifyFrom: %v", err)
	}
}

func name(prefix string, i int) string { return fmt.Sprintf("%s-%03d", prefix, i) }
