package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store/kv"
)

// Scan passes keys in ascending byte order, within Prefix, from Start (inclusive), values
// only when asked for; an empty bucket or span passes nothing.
func testScan(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "c", "3", "b/30", "b30", "a", "1", "b/2", "b2", "b/1", "b1", "b/3", "b3", "b", "b")
	all := pairs("a", "1", "b", "b", "b/1", "b1", "b/2", "b2", "b/3", "b3", "b/30", "b30", "c", "3")
	cases := []struct {
		name string
		span kv.Span
		want []pair
	}{
		{"everything", kv.Span{}, all},
		{"prefix", kv.Span{Prefix: []byte("b/")}, all[2:6]},
		{"prefix that is a key", kv.Span{Prefix: []byte("b/3")}, all[4:6]},
		{"prefix of nothing", kv.Span{Prefix: []byte("z")}, nil},
		{"prefix between keys", kv.Span{Prefix: []byte("b/0")}, nil},
		{"start at a key", kv.Span{Prefix: []byte("b/"), Start: []byte("b/2")}, all[3:6]},
		{"start between keys", kv.Span{Prefix: []byte("b/"), Start: []byte("b/25")}, all[4:6]},
		{"start past the prefix's keys", kv.Span{Prefix: []byte("b/"), Start: []byte("b/4")}, nil},
		{"start without prefix", kv.Span{Start: []byte("b/3")}, all[4:]},
		{"start past every key", kv.Span{Start: []byte("d")}, nil},
		{"start equal to the prefix", kv.Span{Prefix: []byte("b"), Start: []byte("b")}, all[1:6]},
	}
	for _, tc := range cases {
		wantPairs(t, tc.name, viewScan(t, b, bA, tc.span), tc.want)
		keysOnly := tc.span
		keysOnly.KeysOnly = true
		var want []pair
		for _, p := range tc.want {
			want = append(want, pair{p.k, "<nil>"})
		}
		wantPairs(t, tc.name+", keys only", viewScan(t, b, bA, keysOnly), want)
		wantCount(t, b, tc.name, bA, tc.span, len(tc.want))
	}
	wantPairs(t, "empty bucket", viewScan(t, b, bB, kv.Span{}), nil)
	wantCount(t, b, "empty bucket", bB, kv.Span{}, 0)
	// Count sees the transaction's own writes and deletes, and counts past a scan's pages.
	err := b.Update(t.Context(), func(tx kv.Tx) error {
		for _, k := range numbered("b/x", 600) {
			if err := tx.Put(bA, []byte(k), []byte("v")); err != nil {
				return err
			}
		}
		if err := tx.Delete(bA, []byte("b/1")); err != nil {
			return err
		}
		if n, err := kv.Count(tx, bA, kv.Span{Prefix: []byte("b/")}); err != nil || n != 603 {
			return fmt.Errorf("Count in the writing transaction: %d, %v; want 603", n, err)
		}
		return errors.New("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Fatal(err)
	}
	wantCount(t, b, "after the rollback", bA, kv.Span{Prefix: []byte("b/")}, 4)
}

// wantCount checks kv.Count of span in a View.
func wantCount(t *testing.T, b kv.Backend, what string, bucket kv.Bucket, span kv.Span, want int) {
	t.Helper()
	var n int
	err := b.View(t.Context(), func(tx kv.Tx) (err error) {
		n, err = kv.Count(tx, bucket, span)
		return err
	})
	if err != nil || n != want {
		t.Errorf("%s: Count = %d, %v; want %d", what, n, err, want)
	}
}

// Scan stops when fn returns false, and returns fn's error as it is, after the call that
// returned it.
func testScanStops(t *testing.T, open opener) {
	b := open(t)
	keys := numbered("k", 600)
	var kvs []string
	for _, k := range keys {
		kvs = append(kvs, k, "v")
	}
	put(t, b, bA, kvs...)
	for _, stop := range []int{1, 2, 299, 300, 599} {
		for _, withErr := range []bool{false, true} {
			var seen []string
			err := b.View(t.Context(), func(tx kv.Tx) error {
				return tx.Scan(bA, kv.Span{}, func(k, _ []byte) (bool, error) {
					seen = append(seen, string(k))
					if len(seen) < stop {
						return true, nil
					}
					if withErr {
						return true, fmt.Errorf("scan aborted: %w", errBoom)
					}
					return false, nil
				})
			})
			if withErr && (err == nil || err.Error() != "scan aborted: boom" || !errors.Is(err, errBoom)) {
				t.Fatalf("stop at %d: %v, want fn's error as it is", stop, err)
			}
			if !withErr && err != nil {
				t.Fatalf("stop at %d: %v", stop, err)
			}
			if !slices.Equal(seen, keys[:stop]) {
				t.Fatalf("stop at %d (error %v): fn saw %d keys, want the first %d", stop, withErr, len(seen), stop)
			}
		}
	}
}

// A Scan in a write transaction sees the transaction's own writes and deletes.
func testScanOwnWrites(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "p/1", "1", "p/2", "2", "p/3", "3")
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Delete(bA, []byte("p/1")); err != nil {
			return err
		}
		if err := tx.Put(bA, []byte("p/2"), []byte("two")); err != nil {
			return err
		}
		if err := tx.Put(bA, []byte("p/25"), []byte("new")); err != nil {
			return err
		}
		got, err := scan(tx, bA, kv.Span{Prefix: []byte("p/")})
		wantPairs(t, "scan of own writes", got, pairs("p/2", "two", "p/25", "new", "p/3", "3"))
		return err
	}))
}

// fn may read any bucket through the Tx while a scan runs, and write to other buckets;
// scans longer than a page (of a backend that pages) pass every key once, in order.
func testScanInside(t *testing.T, open opener) {
	b := open(t)
	keys := numbered("p/", 700)
	var kvs []string
	for _, k := range keys {
		kvs = append(kvs, k, "v"+k)
	}
	put(t, b, bA, kvs...)
	put(t, b, bB, "other", "x")
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		var seen []string
		err := tx.Scan(bA, kv.Span{Prefix: []byte("p/")}, func(k, v []byte) (bool, error) {
			seen = append(seen, string(k))
			again, err := tx.Get(bA, k)
			if err != nil || !bytes.Equal(again, v) || string(v) != "v"+string(k) {
				return false, fmt.Errorf("Get of %s inside the scan: %q %v", k, again, err)
			}
			if o, err := tx.Get(bB, []byte("other")); err != nil || string(o) != "x" {
				return false, fmt.Errorf("Get of another bucket inside the scan: %q %v", o, err)
			}
			return true, tx.Put(bB, append([]byte("copy/"), k...), v)
		})
		if err == nil && !slices.Equal(seen, keys) {
			err = fmt.Errorf("the scan passed %d keys, want the %d in order", len(seen), len(keys))
		}
		return err
	}))
	copies := viewScan(t, b, bB, kv.Span{Prefix: []byte("copy/")})
	if len(copies) != len(keys) || copies[0] != (pair{"copy/p/0000", "vp/0000"}) || copies[699] != (pair{"copy/p/0699", "vp/0699"}) {
		t.Fatalf("the writes made inside the scan: %d keys", len(copies))
	}
	from := viewScan(t, b, bA, kv.Span{Prefix: []byte("p/"), Start: []byte("p/0300")})
	if len(from) != 400 || from[0].k != "p/0300" || from[399].k != "p/0699" {
		t.Fatalf("scan from p/0300: %d keys", len(from))
	}
}

// A SkipLocked scan in a write transaction skips the keys another open transaction holds
// locked and passes the others. On a backend with one writer at a time (bbolt) the second
// transaction cannot start while the first is open and, once it runs, sees every key.
func testSkipLocked(t *testing.T, open opener) {
	b := open(t)
	ctx := t.Context()
	put(t, b, bA, "s/1", "1", "s/2", "2", "s/3", "3", "s/4", "4")
	all := pairs("s/1", "1", "s/2", "2", "s/3", "3", "s/4", "4")
	skipped := pairs("s/1", "1", "s/2", "2", "s/4", "4")
	locked, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- b.Update(ctx, func(tx kv.Tx) error {
			_, err := tx.GetForUpdate(bA, []byte("s/3"))
			close(locked)
			<-release
			return err
		})
	}()
	<-locked
	var entered atomic.Bool
	var seen []pair
	bDone := make(chan error, 1)
	go func() {
		bDone <- b.Update(ctx, func(tx kv.Tx) error {
			entered.Store(true)
			var err error
			seen, err = scan(tx, bA, kv.Span{Prefix: []byte("s/"), SkipLocked: true})
			return err
		})
	}()
	outcome, bErr := waitWhileEntering(bDone, &entered, 10*time.Second)
	switch outcome {
	case concurrentDone:
		close(release)
		must(t, "the SkipLocked scan", bErr)
		must(t, "the locking transaction", <-aDone)
		wantPairs(t, "SkipLocked scan while s/3 is locked", seen, skipped)
	case concurrentBlocked:
		close(release)
		<-aDone
		<-bDone
		t.Fatal("the SkipLocked scan waited for the key another transaction holds locked")
	case oneWriter:
		close(release)
		must(t, "the first transaction", <-aDone)
		must(t, "the second transaction", <-bDone)
		if !slices.Equal(seen, all) && !slices.Equal(seen, skipped) {
			t.Fatalf("SkipLocked scan after the first transaction: %q", seen)
		}
	}
}

// Outcomes of waitWhileEntering.
const (
	concurrentDone    = iota // the second transaction ran and ended while the first was open
	concurrentBlocked        // it started but had not ended blocked after it did
	oneWriter                // it did not start within half a second: one writer at a time
)

// waitWhileEntering waits, while a first write transaction stays open, for a second one to
// end (done) and tells what happened, with the second one's error when it ended; entered is
// set by the second one when it starts.
func waitWhileEntering(done <-chan error, entered *atomic.Bool, blocked time.Duration) (int, error) {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return concurrentDone, err
		case <-tick.C:
		}
		switch {
		case !entered.Load() && time.Since(start) > 500*time.Millisecond:
			return oneWriter, nil
		case time.Since(start) > blocked:
			return concurrentBlocked, nil
		}
	}
}
