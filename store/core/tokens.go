package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// CreateToken stores an admin token: a Write of that one change (store.Writes).
func (s *Store) CreateToken(ctx context.Context, t store.AdminToken) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.CreateToken(t)
		return err
	})
}

// CreateToken stores an admin token in w and returns it as stored; ErrExists when its ID or
// hash is taken. The hash is stored lower-case; CreatedAt defaults to now. Both entries (ID
// → hash, hash → token) are created with Insert, so concurrent creations of one ID or hash
// cannot both succeed.
func (w *wtx) CreateToken(t store.AdminToken) (stored store.AdminToken, err error) {
	defer failed(&stored, &err, "creating token")
	if err := checkID("token id", t.ID); err != nil {
		return t, err
	}
	t.Hash = strings.ToLower(t.Hash)
	if err := checkID("token hash", t.Hash); err != nil {
		return t, err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = w.now
	}
	if err := w.Insert(bTokenIDs, []byte(t.ID), []byte(t.Hash)); err != nil {
		return t, existsAs(err, "token "+t.ID)
	}
	if err := insertJSON(w, bTokens, []byte(t.Hash), &t); err != nil {
		return t, existsAs(err, "token hash")
	}
	return t, nil
}

// TokenByHash finds a token by the SHA-256 hex of its secret (any case).
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.AdminToken, error) {
	var t store.AdminToken
	err := s.view(ctx, func(tx kv.Tx) error {
		if !findable(hash) {
			return store.ErrNotFound
		}
		return getJSON(tx, bTokens, []byte(strings.ToLower(hash)), &t)
	})
	if err != nil {
		return store.AdminToken{}, fmt.Errorf("getting token by hash: %w", err)
	}
	return t, nil
}

// ListTokens returns every token in ID order: the ID index, then the records in one GetMany.
func (s *Store) ListTokens(ctx context.Context) ([]store.AdminToken, error) {
	var out []store.AdminToken
	err := s.view(ctx, func(tx kv.Tx) error {
		var ids []string
		var hashes [][]byte
		err := tx.Scan(bTokenIDs, kv.Span{}, func(id, hash []byte) (bool, error) {
			ids, hashes = append(ids, string(id)), append(hashes, cloneBytes(hash))
			return true, nil
		})
		if err != nil || len(hashes) == 0 {
			return err
		}
		vals, err := tx.GetMany(bTokens, hashes)
		if err != nil {
			return err
		}
		out = make([]store.AdminToken, 0, len(vals))
		for i, raw := range vals {
			if raw == nil {
				return fmt.Errorf("token %s: %w", ids[i], store.ErrNotFound)
			}
			var t store.AdminToken
			if err := unmarshal(raw, &t); err != nil {
				return fmt.Errorf("token %s: %w", ids[i], err)
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes the token with that ID and returns it: a Write of that one change
// (store.Writes).
func (s *Store) DeleteToken(ctx context.Context, id string) (store.AdminToken, error) {
	return alone(ctx, s, false, func(w *wtx) (store.AdminToken, error) { return w.DeleteToken(id) })
}

// DeleteToken removes the token with that ID in w (its ID and hash entries, the ID entry
// locked) and returns it.
func (w *wtx) DeleteToken(id string) (t store.AdminToken, err error) {
	defer failed(&t, &err, "deleting token")
	if err := checkID("token id", id); err != nil {
		return t, err
	}
	hash, err := w.GetForUpdate(bTokenIDs, []byte(id))
	if err != nil {
		return t, err
	}
	if hash == nil {
		return t, fmt.Errorf("token %s: %w", id, store.ErrNotFound)
	}
	hash = cloneBytes(hash)
	if err := getJSON(w, bTokens, hash, &t); err != nil {
		return t, fmt.Errorf("token %s: %w", id, err)
	}
	if err := w.Delete(bTokenIDs, []byte(id)); err != nil {
		return t, err
	}
	return t, w.Delete(bTokens, hash)
}
