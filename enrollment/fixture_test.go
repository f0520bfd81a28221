package enrollment

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const (
	testIssuer   = "https://mdm.example.com:8443/idp"
	testAudience = "hellomdm-enrollment"
	testPassword = "correct horse battery staple"
)

type fixture struct {
	svc    *Service
	ca     *ca.CA
	reg    *memRegistry
	tokens *hmacTokens
	now    func() time.Time
}

// newFixture builds a Service over in-memory stores. A zero fixed time uses
// the wall clock (needed when real TLS verifies certificates).
func newFixture(t testing.TB, fixed time.Time) *fixture {
	t.Helper()
	now := time.Now
	if !fixed.IsZero() {
		now = func() time.Time { return fixed }
	}
	authority, err := ca.Generate(now(), mrand.NewChaCha8([32]byte{1}), "hellomdm test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := &memDirectory{
		tenants: map[string]Tenant{
			"example.com":   {ID: "t-onprem", DisplayName: "Example", AuthPolicy: AuthPolicyOnPremise},
			"fed.example":   {ID: "t-fed", DisplayName: "Fed", AuthPolicy: AuthPolicyFederated},
			"other.example": {ID: "t-other", DisplayName: "Other", AuthPolicy: AuthPolicyOnPremise},
		},
		users: map[string]memUser{
			"user@example.com":    {tenantID: "t-onprem", password: testPassword, userID: "u-1"},
			"admin@other.example": {tenantID: "t-other", password: testPassword, userID: "u-9"},
		},
	}
	tokens := &hmacTokens{key: []byte("0123456789abcdef0123456789abcdef"), issuer: testIssuer, audience: testAudience, now: now}
	reg := newMemRegistry()
	svc, err := New(Config{
		PublicURL: &url.URL{Scheme: "https", Host: "mdm.example.com:8443"},
		Now:       now,
		Rand:      mrand.NewChaCha8([32]byte{2}),
	}, authority, dir, tokens, reg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, ca: authority, reg: reg, tokens: tokens, now: now}
}

func (f *fixture) token(tid, upn string, exp time.Time) string {
	return f.tokens.sign(tokenBody{Iss: testIssuer, Aud: testAudience, Tid: tid, Oid: "u-fed", UPN: upn, Exp: exp.Unix()})
}

// serve runs one request through the handler in memory.
func (f *fixture) serve(t testing.TB, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", mde2.ContentTypeSOAP)
	rec := httptest.NewRecorder()
	f.svc.Handler().ServeHTTP(rec, req)
	return rec
}

// startTLS serves the handler over loopback TLS, requesting (not requiring)
// client certificates as the real listener does for renewal.
func (f *fixture) startTLS(t testing.TB) *httptest.Server {
	t.Helper()
	sc, err := f.ca.IssueServer([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f.svc.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{sc}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: f.ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) client(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: f.ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

type soapResult struct {
	status int
	body   []byte
	resp   *http.Response
}

func post(t testing.TB, c *http.Client, url, body string) soapResult {
	t.Helper()
	resp, err := c.Post(url, mde2.ContentTypeSOAP, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 0 {
		t.Errorf("Transfer-Encoding %v: enrollment responses must not be chunked", resp.TransferEncoding)
	}
	if resp.ContentLength != int64(len(b)) || resp.Header.Get("Content-Length") == "" {
		t.Errorf("Content-Length %d (%q), body %d bytes", resp.ContentLength, resp.Header.Get("Content-Length"), len(b))
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusMethodNotAllowed && ct != mde2.ContentTypeSOAP {
		t.Errorf("Content-Type %q", ct)
	}
	return soapResult{status: resp.StatusCode, body: b, resp: resp}
}

func goldenCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// failingRegistry fails every write, to produce Receiver faults.
type failingRegistry struct{ *memRegistry }

func (failingRegistry) Register(context.Context, Enrollment) error { return errors.New("disk on fire") }

func httptestRecorder(f *fixture, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.svc.Handler().ServeHTTP(rec, req)
	return rec
}
