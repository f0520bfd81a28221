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
	var start []byte
	if after != "" {
		start = append(upnKey(tenantID, after), 0) // the first UPN after it
	}
	return listByIndex(ctx, s, indexedList[store.User]{index: index, records: bUsers, what: "user", tenantID: tenantID, start: start,
		limit: limit, budget: budget, keep: keep, after: func(u store.User) string { return strings.ToLower(u.UPN) }})
}

// indexedList is a page to read through an index of a tenant's records: index holds
// prefix(tenant)+sort key → record ID, records holds prefix(tenant)+record ID → record.
type indexedList[T any] struct {
	index, records kv.Bucket
	what           string // a record's name in errors: "user"
	tenantID       string
	// start is the first index key to read (nil: the tenant's first).
	start         []byte
	limit, budget int
	keep          func(T) bool // nil keeps every record
	// after is the sort key of a record, the next of a page that ends after it.
	after func(T) string
}

// listByIndex scans l's index from its start and fetches the records listChunk at a time,
// in one read transaction, until it has limit records keep accepts and has seen whether one
// more follows (next: the sort key of the last one kept), or has read budget records (next:
// the sort key of the last one read), or the index ends (next "").
func listByIndex[T any](ctx context.Context, s *Store, l indexedList[T]) ([]T, string, error) {
	if l.limit < 1 || l.budget < 1 {
		return nil, "", fmt.Errorf("a page of %d within %d", l.limit, l.budget)
	}
	var (
		out  []T
		next string
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		if !findable(l.tenantID) {
			return nil
		}
		p := prefix(l.tenantID, 0)
		span := kv.Span{Prefix: p, Start: l.start}
		var (
			keys  [][]byte
			sorts []string
			read  int
			done  bool
		)
		// flush fetches the records of keys; it sets done once the page is settled.
		flush := func() error {
			vals, err := tx.GetMany(l.records, keys)
			if err != nil {
				return err
			}
			for i, raw := range vals {
				if raw == nil {
					return fmt.Errorf("%s %s: %w", l.what, keys[i][len(p):], store.ErrNotFound)
				}
				var rec T
				if err := unmarshal(raw, &rec); err != nil {
					return fmt.Errorf("%s %s: %w", l.what, keys[i][len(p):], err)
				}
				read++
				if l.keep == nil || l.keep(rec) {
					if len(out) == l.limit { // one more follows: the next page starts after the last shown
						next, done = l.after(out[l.limit-1]), true
						return nil
					}
					out = append(out, rec)
				}
				if read == l.budget { // read enough: the next request goes on from here
					next, done = sorts[i], true
					return nil
				}
			}
			keys, sorts = keys[:0], sorts[:0]
			return nil
		}
		err := tx.Scan(l.index, span, func(k, id []byte) (bool, error) {
			keys = append(keys, subKey(l.tenantID, string(id)))
			sorts = append(sorts, string(k[len(p):]))
			if len(keys) < min(listChunk, l.budget-read) {
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
