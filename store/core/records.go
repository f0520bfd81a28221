package core

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// getJSON decodes the record at key into v; store.ErrNotFound when absent.
func getJSON(tx kv.Tx, b kv.Bucket, key []byte, v any) error {
	raw, err := tx.Get(b, key)
	if err != nil {
		return err
	}
	if raw == nil {
		return store.ErrNotFound
	}
	return unmarshal(raw, v)
}

// getJSONForUpdate is getJSON through Tx.GetForUpdate: the record stays locked until the
// transaction ends on backends with concurrent writers.
func getJSONForUpdate(tx kv.Tx, b kv.Bucket, key []byte, v any) error {
	raw, err := tx.GetForUpdate(b, key)
	if err != nil {
		return err
	}
	if raw == nil {
		return store.ErrNotFound
	}
	return unmarshal(raw, v)
}

// lockOrCreate reads the record at key with GetForUpdate, so that it stays locked until w
// ends. A record that does not exist yet is created as initial with Insert, which holds it
// as firmly as a lock: a concurrent creator waits for this transaction and then finds the
// record (or, when this transaction deleted it again, creates it itself). It returns the
// record as locked: initial when this transaction created it.
func lockOrCreate(w *wtx, b kv.Bucket, key, initial []byte) ([]byte, error) {
	raw, err := w.GetForUpdate(b, key)
	if err != nil || raw != nil {
		return raw, err
	}
	err = w.Insert(b, key, initial)
	if err == nil {
		return initial, nil
	}
	if !errors.Is(err, store.ErrExists) {
		return nil, err
	}
	// Created by a transaction that committed after this one read: lock that record.
	raw, err = w.GetForUpdate(b, key)
	if err == nil && raw == nil {
		err = fmt.Errorf("record in bucket %s created and deleted concurrently: %w", b, store.ErrConflict)
	}
	return raw, err
}

// jsonUnmarshal decodes a stored record with encoding/json (see unmarshal for the fast
// decoders of the check-in records).
func jsonUnmarshal(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	return nil
}

// putJSON encodes v at key.
func putJSON(tx kv.Tx, b kv.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	return tx.Put(b, key, raw)
}

// insertJSON encodes v at key unless the key exists (store.ErrExists).
func insertJSON(tx kv.Tx, b kv.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	return tx.Insert(b, key, raw)
}

// jsonAppend appends the JSON encoding of v to dst.
func jsonAppend(dst []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	return append(dst, raw...), nil
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
