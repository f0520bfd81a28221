package core_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/kv"
)

var pruneBase = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// expiring is one kind of record that expires, with its buckets and a way to write one.
type expiring struct {
	name         string
	recs, index  kv.Bucket
	max          int
	write        func(s *core.Store, id string, now time.Time, ttl time.Duration) error
	writeRelease func(s *core.Store, id string) error // forgets the record, keeping its index entry
}

var expiringKinds = []expiring{
	{
		name: "SignIn", recs: "signInFailures", index: "signInExpiry", max: store.MaxSignInPrune,
		write: func(s *core.Store, id string, now time.Time, ttl time.Duration) error {
			_, _, err := s.RecordFailedSignIn(context.Background(), id, now, ttl)
			return err
		},
		writeRelease: func(s *core.Store, id string) error { return s.ResetFailedSignIns(context.Background(), id) },
	},
	{
		name: "Redemption", recs: "redeemed", index: "redeemedExpiry", max: store.MaxRedemptionPrune,
		write: func(s *core.Store, id string, now time.Time, ttl time.Duration) error {
			_, err := s.Redeem(context.Background(), id, "holder-"+id, now.Add(ttl), now)
			return err
		},
	},
	{
		name: "Idempotency", recs: "idempotency", index: "idemExpiry", max: store.MaxIdempotencyPrune,
		write: func(s *core.Store, id string, now time.Time, ttl time.Duration) error {
			rec := store.IdempotencyRecord{Scope: "token:a", Key: id, RequestHash: "h", LeaseUntil: now.Add(ttl),
				CreatedAt: now, ExpiresAt: now.Add(ttl)}
			_, mine, err := s.ReserveIdempotencyKey(context.Background(), rec, now)
			if err == nil && !mine {
				err = fmt.Errorf("reservation of %s not mine", id)
			}
			return err
		},
		writeRelease: func(s *core.Store, id string) error {
			return s.ReleaseIdempotencyKey(context.Background(), "token:a", id)
		},
	},
}

// count returns the number of keys in b.
func count(t *testing.T, s *core.Store, b kv.Bucket) int {
	t.Helper()
	n := 0
	err := s.KV().View(t.Context(), func(tx kv.Tx) error {
		return tx.Scan(b, kv.Span{KeysOnly: true}, func(_, _ []byte) (bool, error) { n++; return true, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every write of a record that expires deletes up to the kind's bound of expired records
// and their index entries, oldest first, and leaves live ones alone.
func TestExpiredRecordsPruned(t *testing.T) {
	for _, k := range expiringKinds {
		t.Run(k.name, func(t *testing.T) {
			s := openBolt(t)
			n := 2*k.max + 10
			for i := range n {
				if err := k.write(s, fmt.Sprintf("old-%03d", i), pruneBase, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			later := pruneBase.Add(time.Hour)
			for call := 1; call <= 3; call++ {
				if err := k.write(s, fmt.Sprintf("new-%d", call), later, time.Hour); err != nil {
					t.Fatal(err)
				}
				want := max(n-call*k.max, 0) + call
				if recs, index := count(t, s, k.recs), count(t, s, k.index); recs != want || index != want {
					t.Fatalf("after call %d: %d records and %d index entries, want %d of each", call, recs, index, want)
				}
			}
		})
	}
}

// An index entry whose record was forgotten (reset, released) or replaced by a newer one
// under the same key makes no claim on that record: when the entry falls due the entry goes
// and the newer record stays.
func TestStaleExpiryEntries(t *testing.T) {
	for _, k := range expiringKinds {
		for _, forget := range []bool{false, true} {
			if forget && k.writeRelease == nil {
				continue
			}
			t.Run(fmt.Sprintf("%s/forgotten=%v", k.name, forget), func(t *testing.T) {
				staleEntry(t, k, forget)
			})
		}
	}
}

func staleEntry(t *testing.T, k expiring, forget bool) {
	s := openBolt(t)
	// x's first entry falls due after k.max older ones, so the write that replaces x
	// prunes those and leaves x's first entry behind.
	first := pruneBase.Add(-time.Hour)
	if err := k.write(s, "x", first, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range k.max {
		if err := k.write(s, fmt.Sprintf("old-%03d", i), first, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if forget {
		if err := k.writeRelease(s, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.write(s, "x", pruneBase, time.Hour); err != nil {
		t.Fatal(err)
	}
	if recs, index := count(t, s, k.recs), count(t, s, k.index); recs != 1 || index != 2 {
		t.Fatalf("after the rewrite: %d records and %d index entries, want 1 and 2", recs, index)
	}
	// The next write prunes x's first entry, not x's record.
	if err := k.write(s, "y", pruneBase.Add(time.Second), time.Hour); err != nil {
		t.Fatal(err)
	}
	if recs, index := count(t, s, k.recs), count(t, s, k.index); recs != 2 || index != 2 {
		t.Fatalf("%d records and %d index entries, want 2 of each (x and y)", recs, index)
	}
	checkLive(t, s, k.name, pruneBase.Add(2*time.Second))
}

// checkLive checks that x, written at pruneBase for an hour, holds at now.
func checkLive(t *testing.T, s *core.Store, kind string, now time.Time) {
	t.Helper()
	ctx := t.Context()
	switch kind {
	case "SignIn":
		if n, _, err := s.FailedSignIns(ctx, "x", now); err != nil || n != 1 {
			t.Fatalf("FailedSignIns(x) = %d, %v; want 1", n, err)
		}
	case "Redemption":
		if holder, err := s.Redeem(ctx, "x", "other", now.Add(time.Hour), now); holder != "holder-x" {
			t.Fatalf("Redeem(x) again = %q, %v; want the first holder", holder, err)
		}
	case "Idempotency":
		rec := store.IdempotencyRecord{Scope: "token:a", Key: "x", RequestHash: "other", ExpiresAt: now.Add(time.Hour)}
		if _, mine, err := s.ReserveIdempotencyKey(ctx, rec, now); err != nil || mine {
			t.Fatalf("Reserve(x) again: mine %v, %v; want the record held", mine, err)
		}
	}
}

// A malformed index entry (shorter than its 8-byte moment) is an error of every pruner, and
// the write that met it changes nothing.
func TestMalformedExpiryEntry(t *testing.T) {
	for _, k := range expiringKinds {
		t.Run(k.name, func(t *testing.T) {
			s := openBolt(t)
			err := s.KV().Update(t.Context(), func(tx kv.Tx) error { return tx.Put(k.index, []byte{1, 2, 3}, nil) })
			if err != nil {
				t.Fatal(err)
			}
			err = k.write(s, "x", pruneBase, time.Minute)
			if err == nil || !strings.Contains(err.Error(), "malformed") {
				t.Fatalf("write over a malformed index entry: %v, want a malformed-key error", err)
			}
			if n := count(t, s, k.recs); n != 0 {
				t.Fatalf("%d records written by a failed write", n)
			}
		})
	}
}

// With a secret key, stored answers are sealed at rest and a replay gets them opened.
func TestIdempotencyAnswerSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	s := openBoltKey(t, path, newKey(t))
	ctx := t.Context()
	rec := store.IdempotencyRecord{Scope: "token:a", Key: "k", RequestHash: "h", LeaseUntil: pruneBase.Add(time.Minute),
		CreatedAt: pruneBase, ExpiresAt: pruneBase.Add(time.Hour)}
	if _, _, err := s.ReserveIdempotencyKey(ctx, rec, pruneBase); err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"secret":"s3cr3t-token-value"}`)
	ans := store.IdempotencyAnswer{Status: 201, ContentType: "application/json", Body: secret}
	if err := s.CompleteIdempotencyKey(ctx, "token:a", "k", ans); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	err := s.KV().View(ctx, func(tx kv.Tx) error {
		return tx.Scan("idempotency", kv.Span{}, func(_, v []byte) (bool, error) { raw = bytes.Clone(v); return false, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("s3cr3t")) || bytes.Contains(raw, []byte("czNjcjN0")) {
		t.Fatalf("stored record holds the answer in the clear: %s", raw)
	}
	held, mine, err := s.ReserveIdempotencyKey(ctx, rec, pruneBase.Add(time.Second))
	if err != nil || mine || !bytes.Equal(held.Body, secret) || held.Status != 201 {
		t.Fatalf("replay: mine %v, %v, body %q status %d", mine, err, held.Body, held.Status)
	}
	// The same file opened without the key cannot open the answer: an error, not ciphertext.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openBoltKey(t, path, nil)
	if _, _, err := s2.ReserveIdempotencyKey(ctx, rec, pruneBase.Add(time.Second)); err == nil {
		t.Fatal("a sealed answer was returned by a store without the key")
	}
}
