package core

import (
	"context"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// ListUsersPage returns a page of the tenant's users in UPN order (store.Users): it scans
// the UPN index from after on and fetches the records listChunk at a time, in one read
// transaction, until it has limit+1 users keep accepts.
func (s *Store) ListUsersPage(ctx context.Context, tenantID, after string, limit int, keep func(store.User) bool) ([]store.User, bool, error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("listing users of tenant %s: a page of %d users", tenantID, limit)
	}
	var (
		out  []store.User
		more bool
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		out, more = nil, false
		if !findable(tenantID) {
			return nil
		}
		p := prefix(tenantID, 0)
		span := kv.Span{Prefix: p}
		if after != "" {
			span.Start = append(upnKey(tenantID, after), 0) // the first UPN after it
		}
		keys := make([][]byte, 0, listChunk)
		// flush fetches the records of keys; it reports false once the page is full.
		flush := func() (bool, error) {
			vals, err := tx.GetMany(bUsers, keys)
			if err != nil {
				return false, err
			}
			for i, raw := range vals {
				if raw == nil {
					return false, fmt.Errorf("user %s: %w", keys[i][len(p):], store.ErrNotFound)
				}
				var u store.User
				if err := unmarshal(raw, &u); err != nil {
					return false, fmt.Errorf("user %s: %w", keys[i][len(p):], err)
				}
				if keep != nil && !keep(u) {
					continue
				}
				if len(out) == limit {
					more = true
					return false, nil
				}
				out = append(out, u)
			}
			keys = keys[:0]
			return true, nil
		}
		var full bool
		err := tx.Scan(bUserUPN, span, func(_, id []byte) (bool, error) {
			keys = append(keys, subKey(tenantID, string(id)))
			if len(keys) < listChunk {
				return true, nil
			}
			ok, err := flush()
			full = !ok
			return ok, err
		})
		if err != nil || full || len(keys) == 0 {
			return err
		}
		_, err = flush()
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("listing users of tenant %s: %w", tenantID, err)
	}
	return out, more, nil
}
