package kvtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// EnsureBuckets creates missing buckets and keeps the data of existing ones; a bucket that
// was never created is an error, not an empty bucket.
func testEnsureBuckets(t *testing.T, open opener) {
	b := open(t)
	ctx := t.Context()
	put(t, b, bA, "k", "v")
	must(t, "EnsureBuckets (none)", b.EnsureBuckets(ctx))
	must(t, "EnsureBuckets again", b.EnsureBuckets(ctx, bA, bB, "gamma", bA))
	wantValue(t, b, bA, "k", "v")
	put(t, b, "gamma", "g", "1")
	wantValue(t, b, "gamma", "g", "1")
	err := b.View(ctx, func(tx kv.Tx) error {
		_, err := tx.Get("neverMade", []byte("k"))
		return err
	})
	if err == nil {
		t.Error("Get from a bucket never created: no error")
	}
	err = b.Update(ctx, func(tx kv.Tx) error { return tx.Put("neverMade", []byte("k"), []byte("v")) })
	if err == nil {
		t.Error("Put to a bucket never created: no error")
	}
}

// Concurrent EnsureBuckets of the same new buckets (replicas starting together) all succeed.
func testEnsureConcurrent(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "k", "v")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := b.EnsureBuckets(t.Context(), "delta", bA, "epsilonBucket"); err != nil {
				t.Errorf("EnsureBuckets: %v", err)
			}
		})
	}
	wg.Wait()
	put(t, b, "delta", "d", "1")
	put(t, b, "epsilonBucket", "e", "1")
	wantValue(t, b, bA, "k", "v")
	wantValue(t, b, "delta", "d", "1")
}

// A canceled context fails View, Update and Batch, and nothing is written.
func testCanceled(t *testing.T, open opener) {
	b := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	write := func(tx kv.Tx) error { return tx.Put(bA, []byte("k"), []byte("v")) }
	for name, run := range map[string]func(context.Context, func(kv.Tx) error) error{
		"View": b.View, "Update": b.Update, "Batch": b.Batch,
	} {
		fn := write
		if name == "View" {
			fn = func(tx kv.Tx) error { _, err := tx.Get(bA, []byte("k")); return err }
		}
		if err := run(ctx, fn); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}
	wantValue(t, b, bA, "k", "<nil>")
}

// Close waits for a running transaction, which commits; afterwards every call fails with
// store.ErrUnavailable without running fn.
func testClose(t *testing.T, open func(t *testing.T) kv.Backend) {
	b := open(t)
	t.Cleanup(func() { _ = b.Close() })
	ctx := t.Context()
	must(t, "EnsureBuckets", b.EnsureBuckets(ctx, bA))
	started, proceed := make(chan struct{}), make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		updated <- b.Update(ctx, func(tx kv.Tx) error {
			close(started)
			<-proceed
			return tx.Put(bA, []byte("k"), []byte("v"))
		})
	}()
	<-started
	var closed atomic.Bool
	closeDone := make(chan error, 1)
	go func() {
		err := b.Close()
		closed.Store(true)
		closeDone <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if closed.Load() {
		t.Error("Close returned while a transaction was running")
	}
	close(proceed)
	must(t, "the running Update", <-updated)
	must(t, "Close", <-closeDone)
	fn := func(kv.Tx) error {
		t.Error("fn ran after Close")
		return nil
	}
	for name, err := range map[string]error{
		"View":          b.View(ctx, fn),
		"Update":        b.Update(ctx, fn),
		"Batch":         b.Batch(ctx, fn),
		"EnsureBuckets": b.EnsureBuckets(ctx, bA),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want store.ErrUnavailable", name, err)
		}
	}
}
