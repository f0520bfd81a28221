package idp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tenantA   = "6f9619ff-8b86-d011-b42d-00c04fc964ff" // contoso.com, local sign-in
	tenantB   = "0e5c4b1a-2d3f-4c5e-8f70-9a1b2c3d4e5f" // fabrikam.com, federated
	fedHost   = "adfs.fabrikam.com"
	issuerURL = "https://mdm.contoso.com/idp"
)

// cheapPW keeps argon2id fast in tests; production uses DefaultPasswordOptions.
var cheapPW = PasswordOptions{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// t0 is a fixed instant in the middle of a TOTP step.
var t0 = time.Unix(1_700_000_015, 0)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// seededRand is a deterministic io.Reader.
func seededRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// fixedKey derives a deterministic P-256 key from name.
func fixedKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	d := sha256.Sum256([]byte(name))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatalf("deriving key %s: %v", name, err)
	}
	return k
}

type fakeKeys struct {
	keys map[string]*ecdsa.PrivateKey
	kids map[string]string
}

func newFakeKeys(t testing.TB) *fakeKeys {
	return &fakeKeys{
		keys: map[string]*ecdsa.PrivateKey{tenantA: fixedKey(t, "tenant-a"), tenantB: fixedKey(t, "tenant-b")},
		kids: map[string]string{tenantA: "kid-a-1", tenantB: "kid-b-1"},
	}
}

func (f *fakeKeys) TenantSigningKey(_ context.Context, tenantID string) (*ecdsa.PrivateKey, string, error) {
	k, ok := f.keys[tenantID]
	if !ok {
		return nil, "", fmt.Errorf("tenant %q: %w", tenantID, ErrNotFound)
	}
	return k, f.kids[tenantID], nil
}

type memStore struct {
	mu        sync.Mutex
	tenants   map[string]Tenant // by domain
	users     map[string]User   // by tenant|upn
	lookupErr error             // returned by UserByUPN when set
	stepErr   error             // returned by UseTOTPStep when set
}

func newMemStore() *memStore {
	return &memStore{tenants: map[string]Tenant{}, users: map[string]User{}}
}

func (m *memStore) addTenant(t Tenant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range t.Domains {
		m.tenants[strings.ToLower(d)] = t
	}
}

func (m *memStore) addUser(u User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[u.TenantID+"|"+strings.ToLower(u.UPN)] = u
}

func (m *memStore) user(tenantID, upn string) User {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.users[tenantID+"|"+upn]
}

func (m *memStore) TenantForDomain(_ context.Context, domain string) (Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[domain]
	if !ok {
		return Tenant{}, fmt.Errorf("domain %q: %w", domain, ErrNotFound)
	}
	return t, nil
}

func (m *memStore) UserByUPN(_ context.Context, tenantID, upn string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lookupErr != nil {
		return User{}, m.lookupErr
	}
	u, ok := m.users[tenantID+"|"+upn]
	if !ok {
		return User{}, fmt.Errorf("user %q: %w", upn, ErrNotFound)
	}
	return u, nil
}

func (m *memStore) findByID(tenantID, userID string) (string, bool) {
	for k, u := range m.users {
		if u.TenantID == tenantID && u.ID == userID {
			return k, true
		}
	}
	return "", false
}

func (m *memStore) SetTOTP(_ context.Context, tenantID, userID string, secret []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.findByID(tenantID, userID)
	if !ok {
		return fmt.Errorf("user %q: %w", userID, ErrNotFound)
	}
	u := m.users[k]
	u.TOTPSecret, u.TOTPLastStep = append([]byte(nil), secret...), 0
	m.users[k] = u
	return nil
}

func (m *memStore) UseTOTPStep(_ context.Context, tenantID, userID string, step int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stepErr != nil {
		return m.stepErr
	}
	k, ok := m.findByID(tenantID, userID)
	if !ok {
		return fmt.Errorf("user %q: %w", userID, ErrNotFound)
	}
	u := m.users[k]
	if step <= u.TOTPLastStep {
		return ErrTOTPReplayed
	}
	u.TOTPLastStep = step
	m.users[k] = u
	return nil
}

// world is a Service over a memStore with two tenants and three users.
type world struct {
	clock  *fakeClock
	store  *memStore
	keys   *fakeKeys
	issuer *Issuer
	svc    *Service
	secret []byte // TOTP secret of bob@contoso.com
}

const (
	alicePW = "correct horse battery staple"
	bobPW   = "Tr0ub4dor&3"
	carolPW = "fabrikam-secret"
)

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{clock: &fakeClock{t: t0}, store: newMemStore(), keys: newFakeKeys(t)}
	rnd := seededRand(1)
	w.store.addTenant(Tenant{ID: tenantA, Domains: []string{"contoso.com"}})
	w.store.addTenant(Tenant{ID: tenantB, Domains: []string{"fabrikam.com"}, Federated: true, FederationHost: fedHost})
	hash := func(pw string) string {
		h, err := HashPasswordWith(pw, rnd, cheapPW)
		if err != nil {
			t.Fatalf("hashing: %v", err)
		}
		return h
	}
	w.secret = []byte("12345678901234567890")
	w.store.addUser(User{ID: "u-alice", TenantID: tenantA, UPN: "alice@contoso.com", PasswordHash: hash(alicePW)})
	w.store.addUser(User{ID: "u-bob", TenantID: tenantA, UPN: "bob@contoso.com", PasswordHash: hash(bobPW), TOTPSecret: w.secret})
	w.store.addUser(User{ID: "u-carol", TenantID: tenantB, UPN: "carol@fabrikam.com", PasswordHash: hash(carolPW)})
	var err error
	w.issuer, err = NewIssuer(IssuerConfig{URL: issuerURL, Now: w.clock.Now, Rand: rnd}, w.keys)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	w.svc, err = New(Config{
		ServerHost: "mdm.contoso.com",
		FormKey:    []byte("0123456789abcdef0123456789abcdef"),
		Password:   cheapPW,
		Now:        w.clock.Now,
		Rand:       rnd,
	}, w.store, w.issuer)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

// signRaw builds a compact JWS from arbitrary header and payload JSON, signed ES256 with key.
func signRaw(t testing.TB, key *ecdsa.PrivateKey, header, payload any) string {
	t.Helper()
	hb, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	input := b64url.EncodeToString(hb) + "." + b64url.EncodeToString(pb)
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(crand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64url.EncodeToString(sig[:])
}

// claimsJSON is a valid payload for tenant A at t0, as a map tests can edit.
func claimsJSON() map[string]any {
	return map[string]any{
		"iss": issuerURL, "aud": AudienceEnrollment, "tid": tenantA, "sub": "u-alice",
		"upn": "alice@contoso.com", "amr": []string{"pwd", "mfa"},
		"iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(10 * time.Minute).Unix(), "jti": "abc",
	}
}
