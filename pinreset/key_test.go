package pinreset

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestKeyCreatedOnce: eight concurrent first calls for a tenant without a key end with one
// generated key, served to every caller, of at least MinKeyBits.
func TestKeyCreatedOnce(t *testing.T) {
	f := newFixture(t)
	const callers = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		pubs  [callers]*rsa.PublicKey
		errs  [callers]error
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			pubs[i], errs[i] = f.svc.PublicKey(context.Background(), tenantC)
		})
	}
	close(start)
	wg.Wait()

	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !pubs[i].Equal(pubs[0]) {
			t.Fatalf("caller %d got a different key", i)
		}
	}
	if f.keys.creates != 1 {
		t.Errorf("keys created = %d, want 1", f.keys.creates)
	}
	if bits := pubs[0].N.BitLen(); bits < MinKeyBits {
		t.Errorf("key is %d bits, want ≥ %d", bits, MinKeyBits)
	}
	if !f.keys.m[tenantC].PublicKey.Equal(pubs[0]) {
		t.Error("stored key differs from the served key")
	}
	if n := len(f.audit.records()); n != callers {
		t.Errorf("audit records = %d, want %d", n, callers)
	}
}

func TestKeyStoreFailures(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     *rsa.PrivateKey
		wantErr error
	}{
		{name: "weak_stored_key", key: weak, wantErr: ErrWeakKey},
		{name: "store_returns_nil", key: nil, wantErr: ErrWeakKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			svc, err := New(Config{}, f.tenants, stubKeys{tt.key}, fakeTokens{}, fakeDevices{}, f.audit)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.PublicKey(context.Background(), tenantA); !errors.Is(err, tt.wantErr) {
				t.Fatalf("PublicKey error = %v, want %v", err, tt.wantErr)
			}
			checkAudit(t, f, tenantA, "", OutcomeError, OpPublicKey)

			w := httptest.NewRecorder()
			svc.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/pinreset/v1/tenants/"+tenantA+"/publickey", nil))
			if w.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", w.Code)
			}
		})
	}
}

// stubKeys hands back a fixed key without calling create.
type stubKeys struct{ key *rsa.PrivateKey }

func (s stubKeys) TenantRSAKey(context.Context, string, func() (*rsa.PrivateKey, error)) (*rsa.PrivateKey, error) {
	return s.key, nil
}

// BenchmarkDecrypt measures one protector release, dominated by the 3072-bit RSA decryption.
func BenchmarkDecrypt(b *testing.B) {
	f := newFixture(b)
	keyA, _ := testKeys(b)
	req := DecryptRequest{TenantID: tenantA, DeviceID: "dev-a", Token: "tok-good", Ciphertext: encrypt(b, keyA, Label(tenantA, alice), protector())}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Decrypt(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
