package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testbin"
	"github.com/hellomdm/hellomdm/internal/version"
)

func TestVersionCommand(t *testing.T) {
	want := version.Get().String()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || strings.TrimSpace(out.String()) != want {
			t.Errorf("%v: exit %d, %q (stderr %q), want %q", args, code, out.String(), errb.String(), want)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"version", "-o", "json"}, &out, &out); code != 0 {
		t.Fatalf("version -o json: exit %d: %s", code, out.String())
	}
	var got version.Info
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got != version.Get() {
		t.Errorf("version -o json = %s (%v), want %+v", out.String(), err, version.Get())
	}
	if code := run([]string{"version", "-o", "yaml"}, &out, &out); code != 2 {
		t.Errorf("version -o yaml: exit %d, want 2", code)
	}
}

// A binary stamped through -ldflags -X reports the stamp from `version`, in the server's
// start-up log line and on /healthz.
func TestVersionStampedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const pkg = "github.com/hellomdm/hellomdm/internal/version"
	bin := testbin.BuildWith(t, "-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".commit=c0ffee -X "+pkg+".date=2026-12-06T00:00:00Z")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "hellomdm v9.8.7 (commit c0ffee, built 2026-12-06T00:00:00Z, go1.") {
		t.Fatalf("--version: %v %q", err, out)
	}
	dir := filepath.Join(t.TempDir(), "data")
	addr := testbin.FreeAddr(t)
	p := startServe(t, bin, dir, addr)
	caPEM := waitHealthy(t, p, dir, addr)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	resp, err := client(pool).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || h["version"] != "v9.8.7" || h["commit"] != "c0ffee" {
		t.Errorf("/healthz = %v (%v), want version v9.8.7 and commit c0ffee", h, err)
	}
	stop(t, p)
	var serving map[string]any
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "serving" {
			serving = m
		}
	}
	goVersion, _ := serving["go"].(string)
	if serving["version"] != "v9.8.7" || serving["commit"] != "c0ffee" || serving["built"] != "2026-12-06T00:00:00Z" || !strings.HasPrefix(goVersion, "go1.") {
		t.Errorf("start-up log line = %v", serving)
	}
}

func TestRepeatedKey(t *testing.T) {
	for line, want := range map[string]string{
		`{"a":1,"b":{"a":2}}`:                             "",
		`{"component":"pinreset","component":"pinreset"}`: "component",
		`not json`: "",
	} {
		if got := repeatedKey(line); got != want {
			t.Errorf("repeatedKey(%s) = %q, want %q", line, got, want)
		}
	}
}
