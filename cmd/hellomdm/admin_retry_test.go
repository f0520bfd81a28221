package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Issue 14 item 6 from the CLI's side: the reply to `admin group create` is lost on the way
// back (a proxy forwards the request to the real server, then drops the connection). The CLI
// sends the POST again with the same Idempotency-Key, gets the first answer, and the tenant
// has one group, not two.
func TestAdminPOSTRetriedAfterLostReply(t *testing.T) {
	base := startCLIServer(t)
	var server, caFile, token string
	for i := 0; i+1 < len(base); i++ {
		switch base[i] {
		case "--server":
			server = base[i+1]
		case "--ca-file":
			caFile = base[i+1]
		case "--token":
			token = base[i+1]
		}
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	target, _ := url.Parse(server)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	var dropped atomic.Int32
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/groups") && dropped.Add(1) == 1 {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // the server creates the group ...
			if rec.Code != http.StatusCreated {
				t.Errorf("first POST through the proxy: HTTP %d %s", rec.Code, rec.Body)
			}
			panic(http.ErrAbortHandler) // ... and its answer never reaches the CLI
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	proxyCA := filepath.Join(t.TempDir(), "proxy.pem")
	if err := os.WriteFile(proxyCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"admin", "--server", proxy.URL, "--token", token, "--ca-file", proxyCA}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	if code, _, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatal(e)
	}
	if code, out, e := cli("group", "create", "--tenant", tid, "--name", "Retried"); code != 0 || !strings.Contains(out, "Retried") {
		t.Fatalf("group create: exit %d\n%s%s", code, out, e)
	}
	if dropped.Load() != 2 {
		t.Fatalf("the proxy saw %d POSTs to /groups, want the lost one and its retry", dropped.Load())
	}
	_, out, _ := cli("-q", "group", "list", "--tenant", tid)
	if n := len(strings.Fields(out)); n != 1 {
		t.Fatalf("%d groups after a retried create, want 1:\n%s", n, out)
	}
}
