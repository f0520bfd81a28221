package server

import (
	"context"
	"fmt"
	"github.com/hellomdm/hellomdm/store/core"
	"path/filepath"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/postgres"
)

// OpenStoreFromDSN returns an Options.OpenStore for a store DSN: "" or "bolt:" is the bbolt
// file in the data directory, "bolt:PATH" a bbolt file elsewhere, and a postgres:// or
// postgresql:// URL the PostgreSQL backend, whose secrets are encrypted under key (32 bytes,
// required).
func OpenStoreFromDSN(dsn string, key []byte) func(ctx context.Context, dataDir string) (store.Store, error) {
	return func(ctx context.Context, dataDir string) (store.Store, error) {
		switch {
		case dsn == "" || dsn == "bolt:":
			return openBolt(ctx, dataDir)
		case strings.HasPrefix(dsn, "bolt:"):
			return core.OpenBolt(filepath.Clean(strings.TrimPrefix(dsn, "bolt:")), bolt.Options{})
		case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
			return core.OpenPostgres(ctx, dsn, postgres.Options{EncryptionKey: key})
		}
		return nil, fmt.Errorf("store %q: want bolt:[PATH] or a postgres:// URL", redactDSN(dsn))
	}
}

// redactDSN keeps the scheme of a DSN, which may carry a password, for error messages.
func redactDSN(dsn string) string {
	if scheme, _, ok := strings.Cut(dsn, "://"); ok {
		return scheme + "://…"
	}
	if len(dsn) > 8 {
		return dsn[:8] + "…"
	}
	return dsn
}
