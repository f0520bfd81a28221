package pinreset

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// deviceCert returns a CA pool and a client certificate for deviceID signed by that CA.
func deviceCert(t *testing.T, deviceID string) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hellomdm test device CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	devKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	devTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: deviceID},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	devDER, err := x509.CreateCertificate(rand.Reader, devTmpl, ca, &devKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{devDER}, PrivateKey: devKey}
}

// TestResetOverTLS runs the device's side of a reset against an httptest TLS server that
// verifies client certificates: fetch the key, escrow a protector, release it.
func TestResetOverTLS(t *testing.T) {
	f := newFixture(t)
	pool, cert := deviceCert(t, "dev-a")
	srv := httptest.NewUnstartedServer(f.svc.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()

	anonymous := srv.Client()
	tr := anonymous.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	device := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	// 1. Public key, as at provisioning time.
	resp, err := device.Get(srv.URL + "/pinreset/v1/tenants/" + tenantA + "/publickey")
	if err != nil {
		t.Fatal(err)
	}
	var pk PublicKeyResponse
	decodeResponse(t, resp, http.StatusOK, &pk)
	parsed, err := x509.ParsePKIXPublicKey(pk.PublicKeyDER)
	if err != nil {
		t.Fatalf("parsing key: %v", err)
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < MinKeyBits {
		t.Fatalf("public key %T is not RSA ≥ %d bits", parsed, MinKeyBits)
	}
	sum := sha256.Sum256(pk.PublicKeyDER)
	if want := hex.EncodeToString(sum[:]); pk.KeyID != want {
		t.Fatalf("keyId = %q, want %q", pk.KeyID, want)
	}

	// 2. Escrow: the device encrypts its protector with the advertised label prefix and the
	// user's UPN (tok-good is alice's token).
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, protector(), []byte(pk.LabelPrefix+alice))
	if err != nil {
		t.Fatal(err)
	}

	// 3. Reset: ciphertext + token over mutual TLS.
	body, _ := json.Marshal(DecryptBody{Ciphertext: ct})
	decrypt := func(c *http.Client) *http.Response {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/pinreset/v1/tenants/"+tenantA+"/decrypt", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer tok-good")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp = decrypt(device)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	var out DecryptResponse
	decodeResponse(t, resp, http.StatusOK, &out)
	if !bytes.Equal(out.Protector, protector()) {
		t.Fatalf("protector = %x, want %x", out.Protector, protector())
	}

	// 4. The same request without a client certificate is refused.
	var refusal ErrorBody
	decodeResponse(t, decrypt(anonymous), http.StatusForbidden, &refusal)
	if refusal.Error.Code != "client_certificate_required" {
		t.Errorf("code = %q, want client_certificate_required", refusal.Error.Code)
	}

	var outcomes []string
	for _, r := range f.audit.records() {
		outcomes = append(outcomes, r.Operation+":"+r.Outcome)
	}
	if got, want := strings.Join(outcomes, " "), "publicKey:ok decrypt:ok decrypt:refused"; got != want {
		t.Errorf("audit = %q, want %q", got, want)
	}
}

func decodeResponse(t *testing.T, resp *http.Response, status int, v any) {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"plain", "Bearer abc.def.ghi", "abc.def.ghi"},
		{"lower_case_scheme", "bearer abc", "abc"},
		{"extra_spaces", "Bearer   abc", "abc"},
		{"empty", "", ""},
		{"scheme_only", "Bearer", ""},
		{"scheme_and_space", "Bearer ", ""},
		{"basic", "Basic dXNlcjpwYXNz", ""},
		{"two_tokens", "Bearer a b", ""},
		{"tab_inside", "Bearer a\tb", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bearerToken(tt.header); got != tt.want {
				t.Errorf("bearerToken(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"publickey_by_post", "POST", "/pinreset/v1/tenants/" + tenantA + "/publickey", http.StatusMethodNotAllowed},
		{"decrypt_by_get", "GET", "/pinreset/v1/tenants/" + tenantA + "/decrypt", http.StatusMethodNotAllowed},
		{"unknown_path", "GET", "/pinreset/v1/other", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			f.svc.Handler().ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if n := len(f.audit.records()); n != 0 {
				t.Errorf("%d audit records for a routing failure", n)
			}
		})
	}
}
