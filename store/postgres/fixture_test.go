package postgres_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/store/storetest"
)

// TestFixtureV1 loads the PostgreSQL dump written by the release before the store redesign
// (store/testdata/v1) into a fresh schema, statement by statement, opens it and checks it
// holds what its manifest lists.
func TestFixtureV1(t *testing.T) {
	dsn := testDSN(t)
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
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{EncryptionKey: key, Now: func() time.Time { return m.Now }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	storetest.RunFixtureV1(t, db, m)
}
