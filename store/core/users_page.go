package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// ListUsersPage returns a page of the tenant's users in UPN order (store.Users): it scans
// the UPN index from after on and fetches the records listChunk at a time, in one read
// transaction, until it has limit users keep accepts and has seen whether one more follows,
// or has read budget users, or the index ends.
func (s *Store) ListUsersPage(ctx context.Context, tenantID, after string, limit, budget int, keep func(store.User) bool) ([]store.User, string, error) {
	users, next, err := s.listUsersBy(ctx, bUserUPN, tenantID, after, limit, budget, keep)
	if err != nil {
		return nil, "", fmt.Errorf("listing users of tenant %s: %w", tenantID, err)
	}
	return users, next, nil
}

// listUsersBy is ListUsersPage reading index, a bucket of the UPN index's layout
// (prefix(tenant)+lower-case UPN → user ID): the UPN index or the role holder index.
func (s *Store) listUsersBy(ctx context.Context, index kv.Bucket, tenantID, after string, limit, budget int, keep func(store.User) bool) ([]store.User, string, error) {
	if limit < 1 || budget < 1 {
		return nil, "", fmt.Errorf("a page of %d users within %d", limit, budget)
	}
	var (
		out  []store.User
		next string
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		if !findable(tenantID) {
			return nil
		}
		p := prefix(tenantID, 0)
		span := kv.Span{Prefix: p}
		if after != "" {
			span.Start = append(upnKey(tenantID, after), 0) // the first UPN after it
		}
		var (
			keys [][]byte
			upns []string
			read int
			done bool
		)
		// flush fetches the records of keys; it sets done once the page is settled.
		flush := func() error {
			vals, err := tx.GetMany(bUsers, keys)
			if err != nil {
				return err
			}
			for i, raw := range vals {
				if raw == nil {
					return fmt.Errorf("user %s: %w", keys[i][len(p):], store.ErrNotFound)
				}
				var u store.User
				if err := unmarshal(raw, &u); err != nil {
					return fmt.Errorf("user %s: %w", keys[i][len(p):], err)
				}
				read++
				if keep == nil || keep(u) {
					if len(out) == limit { // one more follows: the next page starts after the last shown
						next, done = strings.ToLower(out[limit-1].UPN), true
						return nil
					}
					out = append(out, u)
				}
				if read == budget { // read enough: the next request goes on from here
					next, done = upns[i], true
					return nil
				}
			}
			keys, upns = keys[:0], upns[:0]
			return nil
		}
		err := tx.Scan(index, span, func(k, id []byte) (bool, error) {
			keys = append(keys, subKey(tenantID, string(id)))
			upns = append(upns, string(k[len(p):]))
			if len(keys) < min(listChunk, budget-read) {
				return true, nil
			}
			err := flush()
			return !done, err
		})
		if err != nil || done || len(keys) == 0 {
			return err
		}
		return flush()
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}
