package bolt

import (
	"context"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// CreateToken stores an admin token; ErrExists when its ID or hash is taken. The hash is
// stored lower-case; CreatedAt defaults to now. The events of ctx's store.AuditFunc are
// appended in the transaction.
func (d *DB) CreateToken(ctx context.Context, t store.AdminToken) error {
	if err := checkID("token id", t.ID); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	t.Hash = strings.ToLower(t.Hash)
	if err := checkID("token hash", t.Hash); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = d.now()
	}
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		tokens, ids := bucket(tx, bTokens), bucket(tx, bTokenIDs)
		if ids.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("token %s: %w", t.ID, store.ErrExists)
		}
		if tokens.Get([]byte(t.Hash)) != nil {
			return fmt.Errorf("token hash: %w", store.ErrExists)
		}
		if err := ids.Put([]byte(t.ID), []byte(t.Hash)); err != nil {
			return err
		}
		if err := putJSON(tokens, []byte(t.Hash), &t); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	d.publish(sealed)
	return nil
}

// TokenByHash finds a token by the SHA-256 hex of its secret (any case).
func (d *DB) TokenByHash(ctx context.Context, hash string) (store.AdminToken, error) {
	var t store.AdminToken
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(bucket(tx, bTokens), []byte(strings.ToLower(hash)), &t)
	})
	if err != nil {
		return store.AdminToken{}, fmt.Errorf("getting token by hash: %w", err)
	}
	return t, nil
}

// ListTokens returns every token in ID order.
func (d *DB) ListTokens(ctx context.Context) ([]store.AdminToken, error) {
	var out []store.AdminToken
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		tokens := bucket(tx, bTokens)
		return bucket(tx, bTokenIDs).ForEach(func(id, hash []byte) error {
			var t store.AdminToken
			if err := getJSON(tokens, hash, &t); err != nil {
				return fmt.Errorf("token %s: %w", id, err)
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes the token with that ID (its ID and hash entries) and returns it. The
// events of ctx's store.AuditFunc are appended in the transaction.
func (d *DB) DeleteToken(ctx context.Context, id string) (store.AdminToken, error) {
	if err := checkID("token id", id); err != nil {
		return store.AdminToken{}, fmt.Errorf("deleting token: %w", err)
	}
	var (
		t      store.AdminToken
		sealed []sealedEvent
	)
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		tokens, ids := bucket(tx, bTokens), bucket(tx, bTokenIDs)
		hash := ids.Get([]byte(id))
		if hash == nil {
			return fmt.Errorf("token %s: %w", id, store.ErrNotFound)
		}
		hash = append([]byte(nil), hash...)
		if err := getJSON(tokens, hash, &t); err != nil {
			return err
		}
		if err := ids.Delete([]byte(id)); err != nil {
			return err
		}
		if err := tokens.Delete(hash); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return store.AdminToken{}, fmt.Errorf("deleting token: %w", err)
	}
	d.publish(sealed)
	return t, nil
}

// GetConfig returns the value at key; ErrNotFound when absent.
func (d *DB) GetConfig(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		raw := bucket(tx, bConfig).Get([]byte(key))
		if raw == nil {
			return store.ErrNotFound
		}
		v = cloneBytes(raw)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("getting config %s: %w", key, err)
	}
	return v, nil
}

// PutConfig stores value at key, replacing any value there.
func (d *DB) PutConfig(ctx context.Context, key string, value []byte) error {
	if err := checkID("config key", key); err != nil {
		return fmt.Errorf("putting config: %w", err)
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		return bucket(tx, bConfig).Put([]byte(key), nonNil(value))
	})
	if err != nil {
		return fmt.Errorf("putting config %s: %w", key, err)
	}
	return nil
}

// PutConfigIfAbsent stores value unless key exists, and returns the value stored afterwards.
func (d *DB) PutConfigIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	if err := checkID("config key", key); err != nil {
		return nil, fmt.Errorf("putting config: %w", err)
	}
	var stored []byte
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := bucket(tx, bConfig)
		if raw := b.Get([]byte(key)); raw != nil {
			stored = cloneBytes(raw)
			return nil
		}
		stored = cloneBytes(nonNil(value))
		return b.Put([]byte(key), stored)
	})
	if err != nil {
		return nil, fmt.Errorf("putting config %s: %w", key, err)
	}
	return stored, nil
}

// nonNil returns v, or an empty slice for nil: bbolt stores both as an empty value, and
// GetConfig then returns an empty, non-nil slice.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
