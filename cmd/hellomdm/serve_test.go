package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testbin"
)

type serveProc struct {
	cmd    *exec.Cmd
	stdout *testbin.Buffer
	stderr *testbin.Buffer
	done   chan error
}

func startServe(t *testing.T, bin, dir, addr string, env ...string) *serveProc {
	t.Helper()
	p := &serveProc{stdout: &testbin.Buffer{}, stderr: &testbin.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "--data", dir, "--addr", addr, "--log-format", "json")
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// The issue-2 acceptance: serve starts on a fresh data dir, /healthz answers 200 over TLS,
// SIGTERM stops it cleanly, and a restart on the same data dir reuses the CA and the server
// certificate.
func TestServeHealthzSignalRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testbin.Build(t)
	dir := filepath.Join(t.TempDir(), "data")
	addr := testbin.FreeAddr(t)

	p := startServe(t, bin, dir, addr)
	caPEM := waitHealthy(t, p, dir, addr)
	if !strings.Contains(p.stdout.String(), "bootstrap admin token") {
		t.Errorf("first start did not print the bootstrap token: %q", p.stdout.String())
	}
	// Under --log-format json the announcement is a JSON record too, the token an attribute.
	var ann struct {
		Level, Msg, Token string
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(p.stdout.String())), &ann); err != nil || ann.Level != "WARN" ||
		ann.Msg != "bootstrap admin token (shown once, stored hashed)" || !strings.HasPrefix(ann.Token, "hmdm_") {
		t.Errorf("bootstrap token announcement is not one JSON record with a token attribute: %q (%v)", p.stdout.String(), err)
	}
	for _, f := range []string{"ca-key.pem", "server-key.pem"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	serverPEM, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	stop(t, p)
	if !strings.Contains(p.stderr.String(), "stopped cleanly") {
		t.Errorf("no clean-stop log line:\n%s", p.stderr.String())
	}

	p2 := startServe(t, bin, dir, addr)
	caPEM2 := waitHealthy(t, p2, dir, addr)
	serverPEM2, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	if !bytes.Equal(caPEM, caPEM2) || !bytes.Equal(serverPEM, serverPEM2) {
		t.Errorf("restart changed the CA or the server certificate")
	}
	if strings.Contains(p2.stdout.String(), "bootstrap admin token") {
		t.Errorf("restart printed a new bootstrap token")
	}
	stop(t, p2)
}

// HELLOMDM_ADMIN_TOKEN replaces the bootstrap token and env vars mirror flags.
func TestServeEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testbin.Build(t)
	dir := filepath.Join(t.TempDir(), "data")
	addr := testbin.FreeAddr(t)
	p := startServe(t, bin, dir, addr, "HELLOMDM_ADMIN_TOKEN=hmdm_env-token", "HELLOMDM_HOSTNAME=mdm.test")
	waitHealthy(t, p, dir, addr)
	if strings.Contains(p.stdout.String(), "bootstrap admin token") {
		t.Errorf("a bootstrap token was printed although HELLOMDM_ADMIN_TOKEN is set")
	}
	pemBytes, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool.AppendCertsFromPEM(caPEM)
	if !strings.Contains(string(pemBytes), "CERTIFICATE") {
		t.Fatal("no server certificate")
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "mdm.test"})
	if err != nil {
		t.Fatalf("TLS for --hostname from HELLOMDM_HOSTNAME: %v", err)
	}
	conn.Close()
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/api/v1/tenants/00000000-0000-0000-0000-000000000000/devices/x/commands", nil)
	req.Header.Set("Authorization", "Bearer hmdm_env-token")
	resp, err := client(pool).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("the HELLOMDM_ADMIN_TOKEN token was refused")
	}
	stop(t, p)
}

func client(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// waitHealthy polls /healthz (trusting DATA/ca.pem) and returns the CA PEM.
func waitHealthy(t *testing.T, p *serveProc, dir, addr string) []byte {
	t.Helper()
	return waitHealthyOn(t, p, dir, addr, "bbolt")
}

// waitHealthyOn is waitHealthy for a server whose /healthz names the given store backend.
func waitHealthyOn(t *testing.T, p *serveProc, dir, addr, backend string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			t.Fatalf("serve exited early: %v\nstderr:\n%s", err, p.stderr.String())
		default:
		}
		caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(caPEM)
			resp, err := client(pool).Get("https://" + addr + "/healthz")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var h map[string]string
				if resp.StatusCode != 200 || json.Unmarshal(body, &h) != nil || h["status"] != "ok" || h["store"] != backend {
					t.Fatalf("healthz: %d %s", resp.StatusCode, body)
				}
				return caPEM
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server never became healthy\nstderr:\n%s", p.stderr.String())
	return nil
}

func stop(t *testing.T, p *serveProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	// The log is JSON lines: make sure it is.
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !json.Valid([]byte(line)) {
			t.Errorf("--log-format json wrote a non-JSON line: %q", line)
		} else if k := repeatedKey(line); k != "" {
			t.Errorf("log line repeats attribute %q: %s", k, line)
		}
	}
}

// repeatedKey returns a key that appears twice in the top-level JSON object line ("" if
// none): encoding/json would silently keep the last.
func repeatedKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		k, _ := tok.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
