package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// GetConfig returns the value at key, decrypted when it is a secret; ErrNotFound when absent.
func (d *DB) GetConfig(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		v, err = d.getConfig(ctx, c, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("getting config %s: %w", key, err)
	}
	return v, nil
}

func (d *DB) getConfig(ctx context.Context, q querier, key string) ([]byte, error) {
	var (
		sealed bool
		raw    []byte
	)
	if err := q.QueryRow(ctx, `SELECT sealed, value FROM config WHERE key = $1`, key).Scan(&sealed, &raw); err != nil {
		return nil, notFound(err)
	}
	if sealed {
		return d.open(key, raw)
	}
	return nonNil(raw), nil
}

// configValue returns what is stored for value at key: sealed for secret keys.
func (d *DB) configValue(key string, value []byte) (sealed bool, raw []byte, err error) {
	if err := checkID("config key", key); err != nil {
		return false, nil, err
	}
	if isSecret(key) {
		raw, err := d.seal(key, value)
		return true, raw, err
	}
	return false, nonNil(value), nil
}

// PutConfig stores value at key, replacing any value there. Values of keys under "tenant/",
// "secret/" and "ca/" are encrypted with the store's key.
func (d *DB) PutConfig(ctx context.Context, key string, value []byte) error {
	sealed, raw, err := d.configValue(key, value)
	if err != nil {
		return fmt.Errorf("putting config: %w", err)
	}
	err = d.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO config (key, sealed, value) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, value = excluded.value`, key, sealed, raw)
		return err
	})
	if err != nil {
		return fmt.Errorf("putting config %s: %w", key, err)
	}
	return nil
}

// PutConfigIfAbsent stores value unless key exists (INSERT … ON CONFLICT DO NOTHING), and
// returns the value stored afterwards, so replicas starting together agree on one value.
func (d *DB) PutConfigIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	sealed, raw, err := d.configValue(key, value)
	if err != nil {
		return nil, fmt.Errorf("putting config: %w", err)
	}
	var stored []byte
	err = d.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO config (key, sealed, value) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`,
			key, sealed, raw)
		if err != nil {
			return err
		}
		stored, err = d.getConfig(ctx, c, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("putting config %s: %w", key, err)
	}
	return stored, nil
}

// nonNil returns v, or an empty slice for nil.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

var _ store.Config = (*DB)(nil)
