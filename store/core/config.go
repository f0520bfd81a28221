package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// GetConfig returns the value at key, opened when it is sealed (secrets.go); ErrNotFound
// when absent.
func (s *Store) GetConfig(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.view(ctx, func(tx kv.Tx) error {
		if !findable(key) {
			return store.ErrNotFound
		}
		rec, err := tx.Get(bConfig, []byte(key))
		if err != nil {
			return err
		}
		if rec == nil {
			return store.ErrNotFound
		}
		v, err = s.decodeConfig(key, rec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("getting config %s: %w", key, err)
	}
	return v, nil
}

// PutConfig stores value at key, replacing any value there. Values of secret keys (under
// "tenant/", "secret/" and "ca/") are sealed with the store's secret key when it has one.
func (s *Store) PutConfig(ctx context.Context, key string, value []byte) error {
	if err := checkID("config key", key); err != nil {
		return fmt.Errorf("putting config: %w", err)
	}
	rec, err := s.encodeConfig(key, value)
	if err != nil {
		return fmt.Errorf("putting config %s: %w", key, err)
	}
	err = s.update(ctx, func(w *wtx) error {
		return w.Put(bConfig, []byte(key), rec)
	})
	if err != nil {
		return fmt.Errorf("putting config %s: %w", key, err)
	}
	return nil
}

// PutConfigIfAbsent stores value unless key exists, and returns the value stored afterwards,
// so replicas starting together agree on one value. The record is created with Insert; a
// creation lost to a concurrent one runs the transaction again, which reads the winner's.
func (s *Store) PutConfigIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	if err := checkID("config key", key); err != nil {
		return nil, fmt.Errorf("putting config: %w", err)
	}
	rec, err := s.encodeConfig(key, value)
	if err != nil {
		return nil, fmt.Errorf("putting config %s: %w", key, err)
	}
	var stored []byte
	for range 2 {
		err = s.update(ctx, func(w *wtx) error {
			old, err := w.GetForUpdate(bConfig, []byte(key))
			if err != nil {
				return err
			}
			if old != nil {
				stored, err = s.decodeConfig(key, old)
				return err
			}
			stored = append([]byte{}, value...)
			return w.Insert(bConfig, []byte(key), rec)
		})
		if !errors.Is(err, store.ErrExists) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("putting config %s: %w", key, err)
	}
	return stored, nil
}

// PutConfig stores value at key in the Write's transaction (store.Writer).
func (w *wtx) PutConfig(key string, value []byte) error {
	if err := checkID("config key", key); err != nil {
		return fmt.Errorf("putting config: %w", err)
	}
	rec, err := w.sec.encodeConfig(key, value)
	if err != nil {
		return fmt.Errorf("putting config %s: %w", key, err)
	}
	if err := w.Put(bConfig, []byte(key), rec); err != nil {
		return fmt.Errorf("putting config %s: %w", key, err)
	}
	return nil
}

// DeleteConfig removes the value at key in the Write's transaction (store.Writer).
func (w *wtx) DeleteConfig(key string) error {
	if err := checkID("config key", key); err != nil {
		return fmt.Errorf("deleting config: %w", err)
	}
	if err := w.Delete(bConfig, []byte(key)); err != nil {
		return fmt.Errorf("deleting config %s: %w", key, err)
	}
	return nil
}
