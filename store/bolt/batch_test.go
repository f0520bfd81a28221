package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

func openBatchKV(t *testing.T, opts Options) *KV {
	t.Helper()
	k, err := OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if err := k.EnsureBuckets(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	return k
}

// Calls that arrive while a commit runs share the next transaction (group commit), however
// long that commit takes beyond the batch delay: here they arrive three delays apart, so
// bbolt's DB.Batch would have closed a batch for each.
func TestBatchJoinsCallsWaitingForTheWriter(t *testing.T) {
	k := openBatchKV(t, Options{MaxBatchDelay: time.Millisecond})
	ctx := t.Context()
	release, holding := make(chan struct{}), make(chan struct{})
	go func() {
		_ = k.Update(ctx, func(kv.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	const n = 20
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		txs []int
	)
	for i := range n {
		time.Sleep(3 * time.Millisecond) // three batch delays apart
		wg.Go(func() {
			err := k.run(k.batch.do, func(tx kv.Tx) error {
				mu.Lock()
				txs = append(txs, tx.(*boltTx).tx.ID())
				mu.Unlock()
				return tx.Put("b", fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	// Every call is waiting, its batch's timer long gone, while the writer is held.
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if slices.Sort(txs); len(txs) != n || txs[0] != txs[n-1] {
		t.Fatalf("the %d calls ran in transactions %v, want one", n, txs)
	}
}

// A failing function gets its own error and the others of its batch commit without it; a
// panicking one panics in its caller; a batch is at most MaxBatchSize calls.
func TestBatchFailuresAndSize(t *testing.T) {
	k := openBatchKV(t, Options{MaxBatchDelay: 20 * time.Millisecond, MaxBatchSize: 4})
	ctx := t.Context()
	boom := errors.New("boom")
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		byTx  = map[*bbolt.Tx]int{} // calls per transaction run
		errs  = make([]error, 10)
		panic = make(chan any, 1)
	)
	for i := range 10 {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					panic <- p
				}
			}()
			errs[i] = k.Batch(ctx, func(tx kv.Tx) error {
				switch i {
				case 3:
					return boom
				case 7:
					var m map[string]int
					m["x"]++ // panics
				}
				mu.Lock()
				byTx[tx.(*boltTx).tx]++
				mu.Unlock()
				return tx.Put("b", fmt.Appendf(nil, "k%d", i), []byte("v"))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 3 && err != boom:
			t.Errorf("call 3: %v, want its own error", err)
		case i != 3 && i != 7 && err != nil:
			t.Errorf("call %d: %v", i, err)
		}
	}
	select {
	case p := <-panic:
		t.Logf("call 7 panicked in its caller: %v", p)
	default:
		t.Error("call 7's panic did not reach its caller")
	}
	for _, n := range byTx {
		if n > 4 {
			t.Errorf("a transaction ran %d calls, more than MaxBatchSize", n)
		}
	}
	err := k.View(ctx, func(tx kv.Tx) error {
		for i := range 10 {
			v, err := tx.Get("b", fmt.Appendf(nil, "k%d", i))
			if err != nil || (v != nil) != (i != 3 && i != 7) {
				return fmt.Errorf("k%d = %q, %v", i, v, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Batch on a closed database fails with store.ErrUnavailable instead of waiting for ever.
func TestBatchClosed(t *testing.T) {
	k := openBatchKV(t, Options{})
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.batch.do(func(*bbolt.Tx) error { return nil }) }()
	select {
	case err := <-done:
		if err := mapErr(err); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Batch after Close: %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Batch after Close did not return")
	}
}
