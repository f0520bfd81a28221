package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
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
