package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store/kv"
)

// prefetchKV opens a KV on a fresh schema whose round trips rt counts, with buckets b and c:
// b holds "k1" = "v1", "k2" = "v2" and "s/00" … "s/19" (values "sv00" …), c holds "c/s/05".
func prefetchKV(t *testing.T, maxConns int) (*KV, *roundTrips) {
	t.Helper()
	ps, err := newPoolSettings(internalDSN(t), Options{MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	ps.cfg.Tracer = rt
	k, err := openKV(t.Context(), ps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	if err := k.EnsureBuckets(t.Context(), "b", "c"); err != nil {
		t.Fatal(err)
	}
	err = k.Update(t.Context(), func(tx kv.Tx) error {
		errs := []error{tx.Put("b", []byte("k1"), []byte("v1")), tx.Put("b", []byte("k2"), []byte("v2")), tx.Put("c", []byte("c/s/05"), []byte("c5"))}
		for i := range 20 {
			errs = append(errs, tx.Put("b", fmt.Appendf(nil, "s/%02d", i), fmt.Appendf(nil, "sv%02d", i)))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return k, rt
}

// Prefetched reads go with the next statement, answer the reads they cover (a scan beyond
// their first kv.ScanAhead keys goes on from the server), and a Then's reads go with the
// statement after; nothing of it changes an answer.
func TestKVPrefetchAnswers(t *testing.T) {
	k, rt := prefetchKV(t, 1)
	ctx := t.Context()
	var thenKeys [][]byte
	run := func() (trips int64, got []string) {
		before := rt.n.Load()
		err := k.Update(ctx, func(tx kv.Tx) error {
			tx.(kv.Prefetcher).Prefetch(
				kv.Read{Bucket: "b", Keys: [][]byte{[]byte("k1")}, Lock: true},
				kv.Read{Bucket: "b", Keys: [][]byte{[]byte("k2"), []byte("absent")}},
				kv.Read{Bucket: "b", Prefix: []byte("s/"), Then: func(keys, values [][]byte) []kv.Read {
					thenKeys = keys
					return []kv.Read{{Bucket: "c", Keys: [][]byte{[]byte("c/s/05"), []byte("c/s/06")}}}
				}})
			add := func(v []byte, err error) error {
				got = append(got, fmt.Sprintf("%q", v))
				return err
			}
			errs := []error{add(tx.GetForUpdate("b", []byte("k1"))), add(tx.Get("b", []byte("k2"))), add(tx.Get("b", []byte("absent")))}
			vs, err := tx.GetMany("c", [][]byte{[]byte("c/s/06"), []byte("c/s/05")})
			got = append(got, fmt.Sprintf("%q", vs))
			errs = append(errs, err, tx.Scan("b", kv.Span{Prefix: []byte("s/"), KeysOnly: true}, func(key, v []byte) (bool, error) {
				got = append(got, fmt.Sprintf("%s=%q", key, v))
				return true, nil
			}))
			return errors.Join(errs...)
		})
		if err != nil {
			t.Fatal(err)
		}
		return rt.n.Load() - before, got
	}
	run() // prepares the statements
	trips, got := run()
	want := []string{`"v1"`, `"v2"`, `""`, `["" "c5"]`}
	for i := range 20 {
		want = append(want, fmt.Sprintf("s/%02d=%q", i, ""))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers\n%v\nwant\n%v", got, want)
	}
	if len(thenKeys) != kv.ScanAhead || string(thenKeys[0]) != "s/00" {
		t.Errorf("Then got %d keys from %q, want the first %d", len(thenKeys), thenKeys[0], kv.ScanAhead)
	}
	// BEGIN with the three prefetches; the Then's read (GetMany of c); the scan's second
	// page; COMMIT.
	if trips != 4 {
		t.Errorf("%d round trips, want 4", trips)
	}
	// Nothing but prefetches: nothing is sent.
	before := rt.n.Load()
	err := k.Update(ctx, func(tx kv.Tx) error {
		tx.(kv.Prefetcher).Prefetch(kv.Read{Bucket: "b", Keys: [][]byte{[]byte("k1")}, Lock: true})
		return nil
	})
	if n := rt.n.Load() - before; err != nil || n != 0 {
		t.Errorf("a transaction of prefetches only: %d round trips (%v), want none", n, err)
	}
}

// A write to a bucket drops the prefetched answers of the bucket, sent or not: the
// transaction's later reads see its own writes.
func TestKVPrefetchWriteDrops(t *testing.T) {
	k, _ := prefetchKV(t, 2)
	ctx := t.Context()
	for _, sent := range []bool{false, true} {
		err := k.Update(ctx, func(tx kv.Tx) error {
			tx.(kv.Prefetcher).Prefetch(kv.Read{Bucket: "b", Keys: [][]byte{[]byte("k1")}}, kv.Read{Bucket: "b", Prefix: []byte("s/")},
				kv.Read{Bucket: "c", Keys: [][]byte{[]byte("c/s/05")}})
			if sent {
				if _, err := tx.Get("c", []byte("c/s/05")); err != nil {
					return err
				}
			}
			if err := tx.Put("b", []byte("k1"), []byte("new")); err != nil {
				return err
			}
			if err := tx.Delete("b", []byte("s/00")); err != nil {
				return err
			}
			if v, err := tx.Get("b", []byte("k1")); err != nil || string(v) != "new" {
				return fmt.Errorf("k1 after the Put: %q, %v", v, err)
			}
			first := ""
			err := tx.Scan("b", kv.Span{Prefix: []byte("s/")}, func(key, _ []byte) (bool, error) {
				first = string(key)
				return false, nil
			})
			if err != nil || first != "s/01" {
				return fmt.Errorf("the scan after the Delete starts at %q (%v), want s/01", first, err)
			}
			return errFailed // roll back
		})
		if !errors.Is(err, errFailed) {
			t.Fatalf("sent %v: %v", sent, err)
		}
	}
}

var errFailed = errors.New("rolled back on purpose")

// A locked prefetch queued first is taken before anything after it, with the transaction's
// first statement: a concurrent GetForUpdate of the key waits for the transaction's end,
// even when the transaction only writes after it (the lock is not trimmed away).
func TestKVPrefetchLockHeld(t *testing.T) {
	k, _ := prefetchKV(t, 4)
	ctx := t.Context()
	for _, name := range []string{"read after", "write after"} {
		t.Run(name, func(t *testing.T) {
			locked, done := make(chan struct{}), make(chan error, 1)
			var ended atomic.Bool
			go func() {
				done <- k.Update(ctx, func(tx kv.Tx) error {
					tx.(kv.Prefetcher).Prefetch(kv.Read{Bucket: "b", Keys: [][]byte{[]byte("k1")}, Lock: true})
					var err error
					if name == "read after" {
						_, err = tx.Get("c", []byte("c/s/05"))
					} else {
						// A write flushed by a later statement (an Insert waits for its answer).
						err = tx.Insert("c", fmt.Appendf(nil, "i/%d", time.Now().UnixNano()), nil)
					}
					close(locked)
					time.Sleep(300 * time.Millisecond)
					ended.Store(true)
					return err
				})
			}()
			<-locked
			err := k.Update(ctx, func(tx kv.Tx) error {
				_, err := tx.GetForUpdate("b", []byte("k1"))
				if !ended.Load() {
					return errors.New("locked the key while the first transaction held it")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// In a View a Lock is a plain read, and prefetched reads answer as in a write transaction.
func TestKVPrefetchView(t *testing.T) {
	k, _ := prefetchKV(t, 1)
	err := k.View(context.Background(), func(tx kv.Tx) error {
		tx.(kv.Prefetcher).Prefetch(kv.Read{Bucket: "b", Keys: [][]byte{[]byte("k1"), []byte("k2")}, Lock: true})
		v, err := tx.GetForUpdate("b", []byte("k2"))
		if err != nil || !bytes.Equal(v, []byte("v2")) {
			return fmt.Errorf("k2: %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
