package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/store/storetest"
)

// envDSN names the variable holding the DSN of a PostgreSQL server the tests may use; each
// test works in a schema of its own and drops it afterwards.
const envDSN = "HELLOMDM_TEST_POSTGRES"

// testDSN returns a DSN whose search_path is a fresh schema, dropped when tb ends.
func testDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(envDSN)
	if base == "" {
		tb.Skip(envDSN + " is not set: set it to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the PostgreSQL tests")
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	schema := fmt.Sprintf("hellomdm_test_%x", rnd)
	admin := adminConn(tb, base)
	if _, err := admin.Exec(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parsing %s: %v", envDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// adminConn is a connection of the test itself, closed when tb ends.
func adminConn(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", envDSN, err)
	}
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func testKey() []byte { return bytes.Repeat([]byte{7}, postgres.KeySize) }

func openTest(tb testing.TB, dsn string) *core.Store {
	tb.Helper()
	db, err := core.OpenPostgres(context.Background(), dsn, postgres.Options{EncryptionKey: testKey()})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return db
}

// TestConcurrentMigration starts several servers at once on a database of the previous
// release (the v1 fixture): one migrates it, the others wait for its commit and find it
// done; every one then reads the same data, and the previous release's tables are gone.
func TestConcurrentMigration(t *testing.T) {
	dsn := testDSN(t)
	m := loadFixtureV1(t, dsn)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	dbs := make([]*core.Store, n)
	for i := range n {
		wg.Go(func() {
			dbs[i], errs[i] = core.OpenPostgres(t.Context(), dsn, postgres.Options{EncryptionKey: m.key, Now: func() time.Time { return m.Now }})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var legacy int
	err := adminConn(t, dsn).QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE 'kv\_%'`).Scan(&legacy)
	if err != nil {
		t.Fatal(err)
	}
	if legacy != 0 {
		t.Fatalf("%d tables of the previous release left after the migration", legacy)
	}
	for _, db := range dbs {
		if err := storetest.CheckFixtureV1(t.Context(), db, m.FixtureV1); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewerSchemaRefused: a database stamped by a newer release is refused, naming both
// versions, and left as it is.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := testDSN(t)
	openTest(t, dsn).Close()
	newer := core.FormatVersion + 1
	stamp := binary.BigEndian.AppendUint64(nil, uint64(newer))
	if _, err := adminConn(t, dsn).Exec(t.Context(), `UPDATE kv_meta SET v = $1 WHERE k = $2`, stamp, []byte("schema")); err != nil {
		t.Fatal(err)
	}
	_, err := core.OpenPostgres(t.Context(), dsn, postgres.Options{EncryptionKey: testKey()})
	if err == nil {
		t.Fatal("Open accepted a newer format")
	}
	for _, want := range []string{fmt.Sprint(newer), fmt.Sprint(core.FormatVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name version %s", err, want)
		}
	}
}

func TestOpenRefused(t *testing.T) {
	cases := []struct {
		name, dsn string
		key       []byte
		want      error
	}{
		{"Unreachable", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", testKey(), store.ErrUnavailable},
		{"NoKey", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", nil, postgres.ErrNoKey},
		{"ShortKey", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", make([]byte, 16), postgres.ErrNoKey},
		{"BadDSN", "postgres://%zz", testKey(), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := core.OpenPostgres(t.Context(), tc.dsn, postgres.Options{EncryptionKey: tc.key, ConnectTimeout: 2 * time.Second})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if tc.name == "Unreachable" && !strings.Contains(err.Error(), "127.0.0.1") {
				t.Fatalf("error %q does not name the host", err)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("Open took %v", time.Since(start))
			}
		})
	}
}

// TestConnectionLost kills the store's connections in the middle of a check-in: the call
// fails with store.ErrUnavailable, nothing of it is stored, and the next call reconnects.
func TestConnectionLost(t *testing.T) {
	dsn := testDSN(t)
	db := openTest(t, dsn)
	defer db.Close()
	ctx := t.Context()
	if _, err := db.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", CertSerial: "01"}); err != nil {
		t.Fatal(err)
	}
	admin := adminConn(t, dsn)
	app, _ := url.Parse(dsn)
	err := db.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		if err := tx.PutSession(store.Session{SessionID: "1"}); err != nil {
			return err
		}
		_, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()`, app.Query().Get("application_name"))
		if err != nil {
			t.Errorf("terminating backends: %v", err)
		}
		_, err = tx.HasPending()
		return err
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Checkin on a killed connection: %v, want ErrUnavailable", err)
	}
	err = db.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		_, err := tx.Session("1")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session of the lost check-in: %v, want ErrNotFound after reconnecting", err)
	}
}

func TestClosedUnavailable(t *testing.T) {
	db := openTest(t, testDSN(t))
	db.Close()
	if _, err := db.Tenant(t.Context(), "t1"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Tenant after Close: %v, want ErrUnavailable", err)
	}
}

// TestSecretsEncrypted checks that values of secret keys are stored as ciphertext bound to
// their key, and others as they are.
func TestSecretsEncrypted(t *testing.T) {
	dsn := testDSN(t)
	db := openTest(t, dsn)
	defer db.Close()
	admin := adminConn(t, dsn)
	plain := []byte("-----BEGIN PRIVATE KEY----- very secret")
	cases := []struct {
		key    string
		sealed bool
	}{
		{"ca/key", true},
		{"secret/hmac", true},
		{"tenant/t1/signing", true},
		{"server/name", false},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			if err := db.PutConfig(t.Context(), tc.key, plain); err != nil {
				t.Fatal(err)
			}
			got, err := db.GetConfig(t.Context(), tc.key)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("GetConfig = %q, %v", got, err)
			}
			var raw []byte
			if err := admin.QueryRow(t.Context(), `SELECT v FROM kv_config WHERE k = $1`, []byte(tc.key)).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if stored := bytes.Contains(raw, plain); stored == tc.sealed {
				t.Fatalf("raw value %q: plaintext visible = %v, want %v", raw, stored, !tc.sealed)
			}
		})
	}
	t.Run("MovedCiphertextRefused", func(t *testing.T) {
		if _, err := admin.Exec(t.Context(), `UPDATE kv_config SET v = (SELECT v FROM kv_config WHERE k = convert_to('ca/key', 'UTF8')) WHERE k = convert_to('secret/hmac', 'UTF8')`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetConfig(t.Context(), "secret/hmac"); err == nil {
			t.Fatal("ciphertext moved to another key decrypted")
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		other, err := core.OpenPostgres(t.Context(), dsn, postgres.Options{EncryptionKey: bytes.Repeat([]byte{8}, postgres.KeySize)})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.GetConfig(t.Context(), "ca/key"); err == nil {
			t.Fatal("secret decrypted under another key")
		}
	})
}
