package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"github.com/hellomdm/hellomdm/store/core"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store/postgres"
)

// serveOnce runs `serve` in-process with the given store flags and returns its exit code and
// stderr; every case here fails during start-up, so serve returns on its own.
func serveOnce(t *testing.T, dsn string, key []byte) (int, string) {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "store.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := runServe([]string{"--data", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0",
		"--store", dsn, "--store-key-file", keyFile}, &stdout, &stderr)
	return code, stderr.String()
}

// PostgreSQL unreachable at start: serve exits non-zero naming the store and the host.
func TestServePostgresUnreachable(t *testing.T) {
	code, stderr := serveOnce(t, "postgres://postgres@127.0.0.1:1/hellomdm?sslmode=disable", testpg.Key(t))
	if code == 0 {
		t.Fatalf("serve exited 0 with PostgreSQL unreachable\n%s", stderr)
	}
	for _, want := range []string{"start failed", "opening store", "127.0.0.1", "unavailable"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// A database migrated by a newer hellomdm: serve refuses to start, naming both versions.
func TestServePostgresNewerSchema(t *testing.T) {
	pg := testpg.NewStore(t)
	db, err := core.OpenPostgres(t.Context(), pg.DSN, postgres.Options{EncryptionKey: pg.Key})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	newer := core.FormatVersion + 1
	if err := testpg.Exec(pg.DSN, `UPDATE kv_meta SET v = $1 WHERE k = $2`, binary.BigEndian.AppendUint64(nil, uint64(newer)), []byte("schema")); err != nil {
		t.Fatal(err)
	}
	code, stderr := serveOnce(t, pg.DSN, pg.Key)
	if code == 0 {
		t.Fatalf("serve exited 0 on a newer schema\n%s", stderr)
	}
	for _, want := range []string{fmt.Sprintf("format version %d", newer), fmt.Sprint(core.FormatVersion)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}
