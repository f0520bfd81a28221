package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/store"
)

const (
	auditCLIToken  = "hmdm_audit-cli-test-token"
	auditCLITenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
)

// startAuditCLIServer runs a real server with a tenant holding n audit events.
func startAuditCLIServer(t *testing.T, n int) (*server.App, string) {
	t.Helper()
	dir := t.TempDir()
	app := testserve.Start(t, server.Options{DataDir: dir, AdminToken: auditCLIToken}, nil)
	ctx := context.Background()
	if err := app.Store.CreateTenant(ctx, store.Tenant{ID: auditCLITenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	var evs []*audit.Event
	for i := range n {
		evs = append(evs, &audit.Event{ID: "e" + strings.Repeat("0", 5) + string(rune('a'+i%26)) + time.Duration(i).String(), Time: time.Now(),
			TenantID: auditCLITenant, Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice, ID: "=cmd|' /C calc'!A0"},
			DeviceID: "D1", Details: []byte(`{"note":"line one\nline two, \"quoted\""}`)})
	}
	if err := app.Store.AppendAudit(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	return app, filepath.Join(dir, server.CAFile)
}

func runCLI(app *server.App, caFile string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	base := []string{"admin", "--server", "https://" + app.Addr().String(), "--token", auditCLIToken, "--ca-file", caFile}
	code := run(append(base, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestAdminAuditExport(t *testing.T) {
	app, caFile := startAuditCLIServer(t, 300)
	for _, format := range []string{"csv", "json", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "audit."+format)
			code, _, stderr := runCLI(app, caFile, "audit", "export", "--tenant", auditCLITenant, "--format", format, "--kind", "device.alert", "--device", "D1", "--out", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stderr, "exported 300 events") {
				t.Fatalf("final progress line: %q", stderr)
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if format == "csv" {
				recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
				if err != nil || len(recs) != 301 || recs[1][6] != "'=cmd|' /C calc'!A0" {
					t.Fatalf("CSV: %d records, %v", len(recs), err)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*part*")); len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
	t.Run("bad kind", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "x.csv")
		code, _, stderr := runCLI(app, caFile, "audit", "export", "--tenant", auditCLITenant, "--kind", "nope", "--out", out)
		if code != 1 || !strings.Contains(stderr, `"kind"`) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("a failed export left %s", out)
		}
	})
	t.Run("missing --out", func(t *testing.T) {
		if code, _, _ := runCLI(app, caFile, "audit", "export", "--tenant", auditCLITenant); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	})
}

func TestAdminAuditVerify(t *testing.T) {
	app, caFile := startAuditCLIServer(t, 5)
	code, stdout, stderr := runCLI(app, caFile, "audit", "verify", "--tenant", auditCLITenant)
	if code != 0 || !strings.Contains(stdout, "audit chain OK: 5 events verified") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(app, caFile, "audit", "verify", "--tenant", "11111111-2222-4333-8444-555555555555"); code != 1 || !strings.Contains(stderr, "notFound") {
		t.Fatalf("unknown tenant: exit %d: %s", code, stderr)
	}
}

// The row counter counts records, not lines, whatever the chunking.
func TestRowCounter(t *testing.T) {
	cases := []struct {
		format, body string
		want         int64
	}{
		{"csv", "a,b\r\n\"x\ny\",\"say \"\"hi\"\"\"\r\nz,w\r\n", 2},
		{"json", `[{"a":"}{","b":{"c":[1]}},{"a":"\"{"}]`, 2},
		{"json", `[]`, 0},
		{"ndjson", "{\"a\":1}\n{\"a\":\"\\n\"}\n", 2},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			c := newRowCounter(tc.format)
			for i := range len(tc.body) { // one byte at a time
				_, _ = c.Write([]byte{tc.body[i]})
			}
			if got := c.rows.Load(); got != tc.want {
				t.Fatalf("%d rows, want %d", got, tc.want)
			}
		})
	}
}
