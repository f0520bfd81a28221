package pinreset

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Tenants of the fixture.
const (
	tenantA         = "5b0a7c1e-3d2f-4a6b-9c8d-0e1f2a3b4c5d"
	tenantB         = "9e8d7c6b-5a49-4837-a615-f4e3d2c1b0a9"
	tenantC         = "c0ffee00-1111-4222-8333-444455556666" // eligible, no key yet
	tenantGov       = "0a0b0c0d-1e1f-4a2b-8c3d-4e5f60718293"
	tenantNoService = "11111111-2222-4333-8444-555566667777"
	tenantNoClient  = "22222222-3333-4444-8555-666677778888"
	tenantNone      = "33333333-4444-4555-8666-777788889999"
	tenantUnknown   = "44444444-5555-4666-8777-88889999aaaa"
)

// sharedKeys generates the two 3072-bit keys once per test binary.
var sharedKeys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var ks [2]*rsa.PrivateKey
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, MinKeyBits)
		if err != nil {
			return ks, err
		}
		ks[i] = k
	}
	return ks, nil
})

func testKeys(t testing.TB) (a, b *rsa.PrivateKey) {
	t.Helper()
	ks, err := sharedKeys()
	if err != nil {
		t.Fatalf("generating test keys: %v", err)
	}
	return ks[0], ks[1]
}

// protector is the fixed plaintext the tests escrow.
func protector() []byte {
	p := make([]byte, ProtectorSize)
	for i := range p {
		p[i] = byte(i + 1)
	}
	return p
}

// encrypt escrows plain to key under label (see Label).
func encrypt(t testing.TB, key *rsa.PrivateKey, label []byte, plain []byte) []byte {
	t.Helper()
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, plain, label)
	if err != nil {
		t.Fatalf("encrypting: %v", err)
	}
	return ct
}

type fakeTenants struct {
	mu sync.Mutex
	m  map[string]TenantInfo
}

func (f *fakeTenants) PinResetTenant(_ context.Context, id string) (TenantInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.m[id]
	if !ok {
		return TenantInfo{}, fmt.Errorf("fake: %w", ErrUnknownTenant)
	}
	return t, nil
}

func (f *fakeTenants) SetConsent(_ context.Context, id string, app App, granted bool, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.m[id]
	if !ok {
		return fmt.Errorf("fake: %w", ErrUnknownTenant)
	}
	if !granted {
		at = time.Time{}
	}
	switch app {
	case AppService:
		t.ServiceConsented, t.ServiceConsentedAt = granted, at
	case AppClient:
		t.ClientConsented, t.ClientConsentedAt = granted, at
	}
	f.m[id] = t
	return nil
}

// fakeKeys implements the KeyStore contract by calling create under its lock.
type fakeKeys struct {
	mu      sync.Mutex
	m       map[string]*rsa.PrivateKey
	creates int
}

func (f *fakeKeys) TenantRSAKey(_ context.Context, id string, create func() (*rsa.PrivateKey, error)) (*rsa.PrivateKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k, ok := f.m[id]; ok {
		return k, nil
	}
	k, err := create()
	if err != nil {
		return nil, err
	}
	f.creates++
	f.m[id] = k
	return k, nil
}

type fakeTokens map[string]Claims

func (f fakeTokens) VerifyPinResetToken(_ context.Context, raw string) (Claims, error) {
	switch raw {
	case "tok-expired-verifier":
		return Claims{}, fmt.Errorf("fake: exp in the past: %w", ErrTokenExpired)
	}
	c, ok := f[raw]
	if !ok {
		return Claims{}, errors.New("fake: signature mismatch")
	}
	return c, nil
}

type standing struct {
	tenant            string
	enrolled, retired bool
}

type fakeDevices map[string]standing

func (f fakeDevices) DeviceStanding(_ context.Context, id string) (string, bool, bool, error) {
	if id == "dev-broken" {
		return "", false, false, errors.New("fake: store unavailable")
	}
	s := f[id]
	return s.tenant, s.enrolled, s.retired, nil
}

type fakeAudit struct {
	mu  sync.Mutex
	got []AuditRecord
	err error // returned (and nothing recorded) when set
}

func (f *fakeAudit) PinReset(_ context.Context, e AuditRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, e)
	return nil
}

func (f *fakeAudit) records() []AuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AuditRecord(nil), f.got...)
}

// one returns the single audit record, failing unless there is exactly one.
func (f *fakeAudit) one(t *testing.T) AuditRecord {
	t.Helper()
	recs := f.records()
	if len(recs) != 1 {
		t.Fatalf("audit records = %d, want exactly 1: %+v", len(recs), recs)
	}
	return recs[0]
}

type fixture struct {
	svc     *Service
	tenants *fakeTenants
	keys    *fakeKeys
	audit   *fakeAudit
	now     time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	keyA, keyB := testKeys(t)
	now := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	consentedAt := now.Add(-24 * time.Hour)
	both := func(id string) TenantInfo {
		return TenantInfo{ID: id, ServiceConsented: true, ClientConsented: true,
			ServiceConsentedAt: consentedAt, ClientConsentedAt: consentedAt}
	}
	gov := both(tenantGov)
	gov.GovCloud = true
	noSvc := both(tenantNoService)
	noSvc.ServiceConsented, noSvc.ServiceConsentedAt = false, time.Time{}
	noCli := both(tenantNoClient)
	noCli.ClientConsented, noCli.ClientConsentedAt = false, time.Time{}

	f := &fixture{
		tenants: &fakeTenants{m: map[string]TenantInfo{
			tenantA: both(tenantA), tenantB: both(tenantB), tenantC: both(tenantC),
			tenantGov: gov, tenantNoService: noSvc, tenantNoClient: noCli,
			tenantNone: {ID: tenantNone},
		}},
		// tenantNone shares keyB so that consent tests need no key generation.
		keys:  &fakeKeys{m: map[string]*rsa.PrivateKey{tenantA: keyA, tenantB: keyB, tenantNone: keyB}},
		audit: &fakeAudit{},
		now:   now,
	}
	hour := now.Add(time.Hour)
	tokens := fakeTokens{
		"tok-good":    {TenantID: tenantA, UserID: "u-alice", UPN: "alice@a.example", MFA: true, Expiry: hour},
		"tok-nomfa":   {TenantID: tenantA, UserID: "u-alice", UPN: "alice@a.example", MFA: false, Expiry: hour},
		"tok-expired": {TenantID: tenantA, UserID: "u-alice", UPN: "alice@a.example", MFA: true, Expiry: now.Add(-time.Minute)},
		"tok-noexp":   {TenantID: tenantA, UserID: "u-alice", UPN: "alice@a.example", MFA: true},
		"tok-b":       {TenantID: tenantB, UserID: "u-bob", UPN: "bob@b.example", MFA: true, Expiry: hour},
		// tok-carol is a second user of tenantA, with MFA.
		"tok-carol": {TenantID: tenantA, UserID: "u-carol", UPN: "carol@a.example", MFA: true, Expiry: hour},
	}
	devices := fakeDevices{
		"dev-a":       {tenant: tenantA, enrolled: true},
		"dev-retired": {tenant: tenantA, enrolled: true, retired: true},
		"dev-pending": {tenant: tenantA},
		"dev-b":       {tenant: tenantB, enrolled: true},
	}
	svc, err := New(Config{Now: func() time.Time { return now }}, f.tenants, f.keys, tokens, devices, f.audit)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.svc = svc
	return f
}
