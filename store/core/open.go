package core

import (
	"context"
	"fmt"

	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/postgres"
)

// OpenBolt opens (creating when absent) the bbolt file at path (bolt.OpenKV) and returns the
// store over it, the file brought to the current format first: a file of the previous release
// opens as it is, its layout being the core's. A file locked by another process gives
// store.ErrUnavailable after opts.Timeout.
func OpenBolt(path string, opts bolt.Options) (*Store, error) {
	k, err := bolt.OpenKV(path, opts)
	if err != nil {
		return nil, err
	}
	s, err := New(context.Background(), k, Options{Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		_ = k.Close()
		return nil, err
	}
	return s, nil
}

// OpenPostgres connects to the database named by dsn (postgres.OpenKV) and returns the store
// over it, the database brought to the current format first (the previous release's tables
// are copied into the kv tables and dropped, in one transaction). It fails with a wrapped
// store.ErrUnavailable when the server cannot be reached, and refuses to start without a
// 32-byte opts.EncryptionKey (secret configuration values and stored answers are sealed
// with it) or on a database written by a newer release.
func OpenPostgres(ctx context.Context, dsn string, opts postgres.Options) (*Store, error) {
	if len(opts.EncryptionKey) != postgres.KeySize {
		return nil, fmt.Errorf("opening postgres store: %w", postgres.ErrNoKey)
	}
	k, err := postgres.OpenKV(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, k, Options{Logger: opts.Logger, Now: opts.Now, SecretKey: opts.EncryptionKey})
	if err != nil {
		_ = k.Close()
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	return s, nil
}
