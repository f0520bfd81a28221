// Package kvtest is the conformance suite of the kv contract (package kv): every backend runs
// it with one call to Run from its tests. Each promise of the documentation of kv.Backend,
// kv.Tx and kv.Span has a test here: absent and empty values, replacing and inserting
// writes, deletes, GetMany's order, Scan's order and span, read-only and consistent views,
// rollback, Batch re-runs, locking read-modify-writes, SkipLocked scans, idempotent bucket
// creation, binary keys, large values and the behaviour after Close.
//
// The suite uses only the kv interfaces. Tests that need two write transactions open at
// once find out whether the backend allows that (PostgreSQL) or runs one writer at a time
// (bbolt) and check what each promises.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/store/kv"
)

// Buckets of the suite, named like the store core's buckets (lower camel case).
const (
	bA kv.Bucket = "alpha"
	bB kv.Bucket = "betaTwo"
)

// opener returns a new, empty backend whose buckets bA and bB exist, closed when t ends.
type opener func(t *testing.T) kv.Backend

// errBoom is what test functions return to abort a transaction or a scan.
var errBoom = errors.New("boom")

// Run runs the conformance suite. open must return a new, empty backend for each call; Run
// closes every backend it opens (closing one twice must do no harm).
func Run(t *testing.T, open func(t *testing.T) kv.Backend) {
	t.Helper()
	newKV := func(t *testing.T) kv.Backend {
		t.Helper()
		b := open(t)
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if b.Name() == "" {
			t.Fatal("Name() is empty")
		}
		if err := b.EnsureBuckets(t.Context(), bA, bB); err != nil {
			t.Fatalf("EnsureBuckets: %v", err)
		}
		return b
	}
	t.Run("GetPut", func(t *testing.T) { testGetPut(t, newKV) })
	t.Run("Insert", func(t *testing.T) { testInsert(t, newKV) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newKV) })
	t.Run("GetMany", func(t *testing.T) { testGetMany(t, newKV) })
	t.Run("BadKeys", func(t *testing.T) { testBadKeys(t, newKV) })
	t.Run("Buffers", func(t *testing.T) { testBuffers(t, newKV) })
	t.Run("BinaryKeys", func(t *testing.T) { testBinaryKeys(t, newKV) })
	t.Run("LargeValues", func(t *testing.T) { testLargeValues(t, newKV) })
	t.Run("Scan", func(t *testing.T) { testScan(t, newKV) })
	t.Run("ScanStops", func(t *testing.T) { testScanStops(t, newKV) })
	t.Run("ScanOwnWrites", func(t *testing.T) { testScanOwnWrites(t, newKV) })
	t.Run("ScanReadsAndWritesInside", func(t *testing.T) { testScanInside(t, newKV) })
	t.Run("ScanSkipLocked", func(t *testing.T) { testSkipLocked(t, newKV) })
	t.Run("ViewReadOnly", func(t *testing.T) { testViewReadOnly(t, newKV) })
	t.Run("ViewSnapshot", func(t *testing.T) { testViewSnapshot(t, newKV) })
	t.Run("UpdateRollsBack", func(t *testing.T) { testUpdateRollsBack(t, newKV) })
	t.Run("UpdateOnce", func(t *testing.T) { testUpdateOnce(t, newKV) })
	t.Run("BatchReruns", func(t *testing.T) { testBatch(t, newKV) })
	t.Run("GetForUpdate", func(t *testing.T) { testGetForUpdate(t, newKV) })
	t.Run("GetForUpdateCounter", func(t *testing.T) { testCounter(t, newKV) })
	t.Run("EnsureBuckets", func(t *testing.T) { testEnsureBuckets(t, newKV) })
	t.Run("EnsureBucketsConcurrent", func(t *testing.T) { testEnsureConcurrent(t, newKV) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, newKV) })
	t.Run("Close", func(t *testing.T) { testClose(t, open) })
}

// must fails on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// put writes pairs of key and value to bucket in one Update.
func put(t *testing.T, b kv.Backend, bucket kv.Bucket, pairs ...string) {
	t.Helper()
	must(t, "Update (put)", b.Update(t.Context(), func(tx kv.Tx) error {
		for i := 0; i+1 < len(pairs); i += 2 {
			if err := tx.Put(bucket, []byte(pairs[i]), []byte(pairs[i+1])); err != nil {
				return err
			}
		}
		return nil
	}))
}

// get reads key in a View: a copy of its value, nil when absent.
func get(t *testing.T, b kv.Backend, bucket kv.Bucket, key string) []byte {
	t.Helper()
	var out []byte
	must(t, "View (get)", b.View(t.Context(), func(tx kv.Tx) error {
		v, err := tx.Get(bucket, []byte(key))
		out = bytes.Clone(v)
		return err
	}))
	return out
}

// wantValue fails unless key holds want ("<nil>": absent).
func wantValue(t *testing.T, b kv.Backend, bucket kv.Bucket, key, want string) {
	t.Helper()
	if got := show(get(t, b, bucket, key)); got != want {
		t.Fatalf("%s/%q = %s, want %s", bucket, key, got, want)
	}
}

// show renders a value for messages and comparisons: <nil> for absent.
func show(v []byte) string {
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

// pair is one key and value a scan passed on.
type pair struct{ k, v string }

// scan collects what Scan passes to fn (values shown with show).
func scan(tx kv.Tx, bucket kv.Bucket, span kv.Span) ([]pair, error) {
	var out []pair
	err := tx.Scan(bucket, span, func(k, v []byte) (bool, error) {
		out = append(out, pair{string(k), show(v)})
		return true, nil
	})
	return out, err
}

// viewScan is scan in a View.
func viewScan(t *testing.T, b kv.Backend, bucket kv.Bucket, span kv.Span) []pair {
	t.Helper()
	var out []pair
	must(t, "View (scan)", b.View(t.Context(), func(tx kv.Tx) error {
		var err error
		out, err = scan(tx, bucket, span)
		return err
	}))
	return out
}

// wantPairs fails unless got equals want.
func wantPairs(t *testing.T, what string, got, want []pair) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// pairs builds pairs from alternating keys and values.
func pairs(kvs ...string) []pair {
	var out []pair
	for i := 0; i+1 < len(kvs); i += 2 {
		out = append(out, pair{kvs[i], kvs[i+1]})
	}
	return out
}

// numbered returns n keys prefix+%04d (i from 0) in ascending order.
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}
