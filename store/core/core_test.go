package core_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/store/storetest"
)

// openBolt returns the store core over a fresh bbolt file, closed when t ends.
func openBolt(t testing.TB) *core.Store {
	t.Helper()
	b, err := bolt.OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := core.New(context.Background(), b, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformanceBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openBolt(t) })
}

// openPostgres returns the store core over the PostgreSQL KV on dsn (testpg.Schema: a fresh
// schema of the server of HELLOMDM_TEST_POSTGRES), with a secret key as a deployment on a
// shared database has; closed when t ends. Stores opened on one dsn share the database, as
// servers do.
func openPostgres(t testing.TB, dsn string, key []byte) *core.Store {
	t.Helper()
	k, err := postgres.OpenKV(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := core.New(context.Background(), k, core.Options{SecretKey: key})
	if err != nil {
		_ = k.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformancePostgres runs the conformance suite on the store core over PostgreSQL, each
// subtest in a fresh schema; it is skipped, saying so, when HELLOMDM_TEST_POSTGRES is unset.
func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t, testpg.Schema(t), testpg.Key(t)) })
}
