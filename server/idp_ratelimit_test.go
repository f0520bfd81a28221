package server

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/store"
)

// Two identity providers wired as Services wires them, over one database (one bbolt store
// shared by both, or with HELLOMDM_TEST_BACKEND=postgres two connections to one schema, as
// two replicas have), share the failed sign-in limit: half the failures on each, and the
// next attempt is refused on either, with the right password too.
func TestSignInLimitSharedByReplicas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open, pg := testBackend(t)
	stores := make([]store.Store, 2)
	for i := range stores {
		if open == nil && i > 0 {
			stores[i] = stores[0] // bbolt: one process holds the file
			continue
		}
		o := open
		if o == nil {
			o = openBolt
		}
		st, err := o(ctx, dir)
		if err != nil {
			t.Fatalf("opening store %d: %v", i, err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[i] = st
	}
	if pg.DSN == "" && stores[0] != stores[1] {
		t.Fatal("bbolt: want one shared store")
	}
	pwOpts := idp.PasswordOptions{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := idp.HashPasswordWith("correct horse", rand.Reader, pwOpts)
	if err != nil {
		t.Fatal(err)
	}
	st := stores[0]
	if err := st.CreateTenant(ctx, store.Tenant{ID: testTenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{TenantID: testTenant, ID: "u-alice", UPN: "alice@contoso.com", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	const limit = 6
	replicas := make([]*idp.Service, 2)
	for i, st := range stores {
		keys := NewKeys(st)
		issuer, err := idp.NewIssuer(idp.IssuerConfig{URL: "https://mdm.contoso.com/idp", Now: clock}, keys)
		if err != nil {
			t.Fatal(err)
		}
		replicas[i], err = idp.New(idp.Config{FormKey: make([]byte, 32), Password: pwOpts, FailureLimit: limit, Now: clock,
			Failures: idpFailures{st}}, idpUsers{st}, issuer)
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range limit {
		if _, _, err := replicas[i%2].SignIn(ctx, "alice@contoso.com", "guess", "", idp.AudienceEnrollment); !errors.Is(err, idp.ErrInvalidCredentials) {
			t.Fatalf("guess %d on replica %d: %v, want ErrInvalidCredentials", i, i%2, err)
		}
	}
	for i, r := range replicas {
		_, _, err := r.SignIn(ctx, "ALICE@contoso.com", "correct horse", "", idp.AudienceEnrollment)
		var rl *idp.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
			t.Fatalf("replica %d after %d failures in all: %v, want a RateLimitError", i, limit, err)
		}
	}
	now = now.Add(time.Minute)
	if _, _, err := replicas[1].SignIn(ctx, "alice@contoso.com", "correct horse", "", idp.AudienceEnrollment); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// The server's identity provider counts failed sign-ins in the store (the wiring in
// Services), where every replica on the same database reads them.
func TestSignInFailuresCountedInStore(t *testing.T) {
	ts := startIdentityServer(t)
	for i := range 3 {
		body := strings.NewReader(`{"upn":"Mallory@Contoso.com","password":"guess","audience":"` + idp.AudienceEnrollment + `"}`)
		resp, err := ts.admin.Post(ts.base+"/idp/token", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i, resp.StatusCode)
		}
	}
	n, end, err := ts.app.Store.FailedSignIns(context.Background(), "mallory@contoso.com", time.Now())
	if err != nil || n != 3 || end.IsZero() {
		t.Fatalf("store: FailedSignIns = %d, %s, %v; want 3 failures in an open window", n, end, err)
	}
}
