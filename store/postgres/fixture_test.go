package postgres_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/store/storetest"
)

// fixtureV1 is the manifest of the v1 fixture with the encryption key its secrets were
// sealed with.
type fixtureV1 struct {
	*storetest.FixtureV1
	key []byte
}

// loadFixtureV1 loads the PostgreSQL dump written by the release before the store redesign
// (store/testdata/v1) into the schema of dsn, statement by statement, as that release left
// it (schema version 5, its own tables), and returns its manifest.
func loadFixtureV1(t *testing.T, dsn string) fixtureV1 {
	t.Helper()
	m, err := storetest.LoadFixtureV1("../testdata/v1/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := storetest.FixtureV1SQL("../testdata/v1/postgres-v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	c := adminConn(t, dsn)
	for _, s := range stmts {
		if _, err := c.Exec(t.Context(), s); err != nil {
			t.Fatalf("loading the fixture: %.120q: %v", s, err)
		}
	}
	var version int
	if err := c.QueryRow(t.Context(), `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version != m.PostgresSchemaVersion {
		t.Fatalf("fixture schema version %d, %v; manifest says %d", version, err, m.PostgresSchemaVersion)
	}
	key, err := hex.DecodeString(m.PostgresEncryptionKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureV1{FixtureV1: m, key: key}
}

// TestFixtureV1 opens a database of the previous release: the store migrates it (its tables
// copied into the kv tables and dropped) and holds what the manifest lists, and works.
func TestFixtureV1(t *testing.T) {
	dsn := testDSN(t)
	m := loadFixtureV1(t, dsn)
	db, err := core.OpenPostgres(t.Context(), dsn, postgres.Options{EncryptionKey: m.key, Now: func() time.Time { return m.Now }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	storetest.RunFixtureV1(t, db, m.FixtureV1)
}
