package testpg

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/hellomdm/hellomdm/store/core"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/postgres"
)

// Environment variables the helpers read.
const (
	// EnvDSN holds the DSN of a PostgreSQL server tests may create schemas on, e.g.
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	EnvDSN = "HELLOMDM_TEST_POSTGRES"
	// EnvBackend chooses the backend of the server harnesses: "" or "bbolt", or "postgres".
	EnvBackend = "HELLOMDM_TEST_BACKEND"
)

// Postgres reports whether the harnesses should run on PostgreSQL; it fails tb when
// HELLOMDM_TEST_BACKEND names an unknown backend or asks for postgres without a DSN.
func Postgres(tb testing.TB) bool {
	tb.Helper()
	switch b := os.Getenv(EnvBackend); b {
	case "", "bbolt", "bolt":
		return false
	case "postgres":
		if os.Getenv(EnvDSN) == "" {
			tb.Fatalf("%s=postgres needs %s (a PostgreSQL DSN)", EnvBackend, EnvDSN)
		}
		return true
	default:
		tb.Fatalf("%s=%q: want bbolt or postgres", EnvBackend, b)
		return false
	}
}

// Schema creates a fresh schema on the server of HELLOMDM_TEST_POSTGRES (skipping tb when it
// is unset), drops it when tb ends, and returns a DSN whose search_path is that schema.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		tb.Skip(EnvDSN + " is not set: set it to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the PostgreSQL tests")
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatal(err)
	}
	schema := fmt.Sprintf("hellomdm_test_%x", rnd)
	if err := Exec(base, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		if err := Exec(base, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parsing %s: %v", EnvDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs statements on a short-lived connection to dsn.
func Exec(dsn string, sql string, args ...any) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", EnvDSN, err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("running %q: %w", sql, err)
	}
	return nil
}

// QueryRow runs a query of one row on dsn and scans it into dest.
func QueryRow(dsn string, sql string, dest ...any) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", EnvDSN, err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, sql).Scan(dest...); err != nil {
		return fmt.Errorf("running %q: %w", sql, err)
	}
	return nil
}

// Key returns a random store encryption key.
func Key(tb testing.TB) []byte {
	tb.Helper()
	k := make([]byte, postgres.KeySize)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

// Store is one fresh schema and key: every Open opens the same database, so a restarted
// server finds its data.
type Store struct {
	DSN string // search_path is the test's schema
	Key []byte
}

// NewStore creates a fresh schema (see Schema) and a random key.
func NewStore(tb testing.TB) Store {
	tb.Helper()
	return Store{DSN: Schema(tb), Key: Key(tb)}
}

// Open opens the store; it has the shape of server.Options.OpenStore.
func (s Store) Open(ctx context.Context, _ string) (store.Store, error) {
	return core.OpenPostgres(ctx, s.DSN, postgres.Options{EncryptionKey: s.Key})
}

// OpenStore returns the opener of a NewStore, or nil (the default bbolt store) unless
// HELLOMDM_TEST_BACKEND=postgres.
func OpenStore(tb testing.TB) func(ctx context.Context, dataDir string) (store.Store, error) {
	tb.Helper()
	if !Postgres(tb) {
		return nil
	}
	return NewStore(tb).Open
}

// NewDatabase creates a database of its own on the server of HELLOMDM_TEST_POSTGRES (skipping
// tb when the variable is unset or the role may not create databases), dropped when tb ends,
// and returns a Store on it and the database's name. Tests that change the whole database
// (AllowConnections) use it instead of a schema.
func NewDatabase(tb testing.TB) (Store, string) {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		tb.Skip(EnvDSN + " is not set")
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("hellomdm_test_%x", rnd)
	if err := Exec(base, `CREATE DATABASE `+name); err != nil {
		tb.Skipf("creating a database: %v", err)
	}
	tb.Cleanup(func() {
		if err := Exec(base, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parsing %s: %v", EnvDSN, err)
	}
	u.Path = "/" + name
	return Store{DSN: u.String(), Key: Key(tb)}, name
}

// AllowConnections sets whether the database accepts connections (ALTER DATABASE ...
// ALLOW_CONNECTIONS); refusing also ends its open connections, so that every client of it
// must connect anew and gets SQLSTATE 55000 "database is not currently accepting
// connections", as when an operator or a failover takes it away.
func AllowConnections(tb testing.TB, name string, allow bool) {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if err := Exec(base, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, name, allow)); err != nil {
		tb.Fatal(err)
	}
	if !allow {
		if err := Exec(base, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			tb.Fatal(err)
		}
	}
}
