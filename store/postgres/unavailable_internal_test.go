package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hellomdm/hellomdm/store"
)

// internalDSN returns the test server's DSN (skipping tb without one) with search_path set
// to a fresh schema, dropped when tb ends.
func internalDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("HELLOMDM_TEST_POSTGRES")
	if base == "" {
		tb.Skip("HELLOMDM_TEST_POSTGRES is not set")
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	schema := fmt.Sprintf("hellomdm_test_%x", rnd)
	exec(tb, base, `CREATE SCHEMA `+schema)
	tb.Cleanup(func() { exec(tb, base, `DROP SCHEMA `+schema+` CASCADE`) })
	return withParams(tb, base, "search_path", schema, "application_name", schema)
}

func withParams(tb testing.TB, dsn string, kv ...string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs sql on a connection of its own.
func exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connecting: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func openInternal(tb testing.TB, dsn string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn, Options{EncryptionKey: bytes.Repeat([]byte{7}, KeySize)})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// serverErrors are SQLSTATEs the tests make the server raise, and whether each means the
// database cannot take requests now.
var serverErrors = []struct {
	code        string
	unavailable bool
}{
	{"55000", true},  // object not in prerequisite state: "database is not accepting connections"
	{"53000", true},  // insufficient resources
	{"53100", true},  // disk full
	{"53200", true},  // out of memory
	{"53300", true},  // too many connections
	{"53400", true},  // configuration limit exceeded
	{"57P01", true},  // admin shutdown
	{"57P02", true},  // crash shutdown
	{"57P03", true},  // cannot connect now
	{"57P05", true},  // idle session timeout
	{"08006", true},  // connection failure
	{"08003", true},  // connection does not exist
	{"25006", true},  // read-only SQL transaction (a standby, a failover)
	{"58030", true},  // I/O error
	{"22001", false}, // string data right truncation: a bad request
	{"42P01", false}, // undefined table: a bug
	{"23503", false}, // foreign key violation
	{"P0001", false}, // raise_exception
}

// Every SQLSTATE that means the database cannot take requests now, raised by the real
// server inside one of the store's transactions, is store.ErrUnavailable and rolls the
// transaction back; errors that mean the request was wrong are not.
func TestServerErrorsUnavailable(t *testing.T) {
	db := openInternal(t, internalDSN(t))
	ctx := t.Context()
	for _, tc := range serverErrors {
		t.Run(tc.code, func(t *testing.T) {
			err := db.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO config (key, sealed, value) VALUES ($1, false, $2)`, "k-"+tc.code, []byte("v")); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, fmt.Sprintf(`DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '%s'; END $$`, tc.code))
				return err
			})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("%v does not carry SQLSTATE %s", err, tc.code)
			}
			if got := errors.Is(err, store.ErrUnavailable); got != tc.unavailable {
				t.Fatalf("%v: ErrUnavailable %v, want %v", err, got, tc.unavailable)
			}
			if _, err := db.GetConfig(ctx, "k-"+tc.code); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the write before the error: %v, want rolled back", err)
			}
		})
	}
}

// A database that stops accepting connections (ALTER DATABASE ... ALLOW_CONNECTIONS false:
// every new connection gets SQLSTATE 55000) makes the store's calls fail with
// store.ErrUnavailable once its open connections are gone, reads and writes alike, and the
// store works again when the database accepts connections. The test makes a database of its
// own (skipped when the role may not).
func TestDatabaseNotAcceptingConnections(t *testing.T) {
	base := os.Getenv("HELLOMDM_TEST_POSTGRES")
	if base == "" {
		t.Skip("HELLOMDM_TEST_POSTGRES is not set")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("hellomdm_test_%x", rnd)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Skipf("creating a database: %v", err)
	}
	defer func() {
		if _, err := admin.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	}()
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db := openInternal(t, u.String())
	if err := db.PutConfig(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	_, rerr := db.GetConfig(ctx, "k")
	werr := db.PutConfig(ctx, "k2", []byte("v"))
	for what, err := range map[string]error{"read": rerr, "write": werr} {
		var pe *pgconn.PgError
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s while the database refuses connections: %v, want ErrUnavailable", what, err)
		}
		if what == "write" && (!errors.As(err, &pe) || pe.Code != "55000") {
			t.Errorf("%s: %v, want the server's SQLSTATE 55000", what, err)
		}
	}

	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	if v, err := db.GetConfig(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("read after the database accepts connections again: %q %v", v, err)
	}
	if _, err := db.GetConfig(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused write: %v, want ErrNotFound", err)
	}
}
