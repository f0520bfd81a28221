package kvtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store/kv"
)

// A write through a View fails with kv.ErrReadOnly and writes nothing.
func testViewReadOnly(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "k", "v")
	err := b.View(t.Context(), func(tx kv.Tx) error {
		for op, write := range map[string]func() error{
			"Put":    func() error { return tx.Put(bA, []byte("k"), []byte("changed")) },
			"Put2":   func() error { return tx.Put(bA, []byte("k2"), []byte("new")) },
			"Insert": func() error { return tx.Insert(bA, []byte("k3"), []byte("new")) },
			"Insert existing": func() error {
				return tx.Insert(bA, []byte("k"), []byte("new"))
			},
			"Delete": func() error { return tx.Delete(bA, []byte("k")) },
		} {
			if err := write(); !errors.Is(err, kv.ErrReadOnly) {
				t.Errorf("%s in a View: %v, want kv.ErrReadOnly", op, err)
			}
		}
		return nil
	})
	must(t, "View", err)
	wantPairs(t, "after the View", viewScan(t, b, bA, kv.Span{}), pairs("k", "v"))
}

// A View reads one snapshot: an Update that commits while it runs changes nothing it reads.
// (A megabyte written and deleted first gives a file-backed backend the room to commit
// without growing its file: bbolt's commit that remaps a grown file waits for open Views.)
func testViewSnapshot(t *testing.T, open opener) {
	b := open(t)
	ctx := t.Context()
	put(t, b, bB, "room", string(make([]byte, 1<<20)))
	must(t, "Update", b.Update(ctx, func(tx kv.Tx) error { return tx.Delete(bB, []byte("room")) }))
	put(t, b, bA, "a", "1", "b", "1")
	must(t, "View", b.View(ctx, func(tx kv.Tx) error {
		if v, err := tx.Get(bA, []byte("a")); string(v) != "1" || err != nil {
			return fmt.Errorf("first read: %q %v", v, err)
		}
		done := make(chan error, 1)
		go func() {
			done <- b.Update(ctx, func(tx kv.Tx) error {
				if err := tx.Put(bA, []byte("a"), []byte("2")); err != nil {
					return err
				}
				if err := tx.Put(bA, []byte("c"), []byte("2")); err != nil {
					return err
				}
				return tx.Put(bA, []byte("b"), []byte("2"))
			})
		}()
		select {
		case err := <-done:
			must(t, "the concurrent Update", err)
		case <-time.After(10 * time.Second):
			return errors.New("an Update could not commit while a View was open")
		}
		for _, k := range []string{"a", "b", "c"} {
			want := map[string]string{"a": "1", "b": "1", "c": "<nil>"}[k]
			if v, err := tx.Get(bA, []byte(k)); show(v) != want || err != nil {
				t.Errorf("%s after the concurrent commit: %s %v, want %s", k, show(v), err, want)
			}
		}
		vs, err := tx.GetMany(bA, [][]byte{[]byte("b"), []byte("c")})
		if err != nil || len(vs) != 2 || string(vs[0]) != "1" || vs[1] != nil {
			t.Errorf("GetMany after the concurrent commit: %q %v", vs, err)
		}
		got, err := scan(tx, bA, kv.Span{})
		wantPairs(t, "Scan after the concurrent commit", got, pairs("a", "1", "b", "1"))
		return err
	}))
	wantPairs(t, "after the View", viewScan(t, b, bA, kv.Span{}), pairs("a", "2", "b", "2", "c", "2"))
}

// An error from fn rolls back every write of the Update and comes back as it is.
func testUpdateRollsBack(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "x", "1", "z", "1")
	wrapped := fmt.Errorf("wrapped: %w", errBoom)
	for name, run := range map[string]func(context.Context, func(kv.Tx) error) error{"Update": b.Update, "Batch": b.Batch} {
		err := run(t.Context(), func(tx kv.Tx) error {
			for _, step := range []func() error{
				func() error { return tx.Put(bA, []byte("x"), []byte("2")) },
				func() error { return tx.Put(bA, []byte("y"), []byte("1")) },
				func() error { return tx.Insert(bA, []byte("w"), []byte("1")) },
				func() error { return tx.Delete(bA, []byte("z")) },
				func() error { return tx.Put(bB, []byte("x"), []byte("1")) },
			} {
				if err := step(); err != nil {
					return err
				}
			}
			return wrapped
		})
		if err != wrapped {
			t.Fatalf("%s: %v, want fn's error as it is", name, err)
		}
		wantPairs(t, name+": after the rollback", viewScan(t, b, bA, kv.Span{}), pairs("x", "1", "z", "1"))
		wantPairs(t, name+": other bucket after the rollback", viewScan(t, b, bB, kv.Span{}), nil)
	}
}

// Update runs fn exactly once, whether fn succeeds or fails, and its writes are visible
// once it returns.
func testUpdateOnce(t *testing.T, open opener) {
	b := open(t)
	var wg sync.WaitGroup
	runs := make([]atomic.Int32, 8)
	for i := range runs {
		wg.Go(func() {
			err := b.Update(t.Context(), func(tx kv.Tx) error {
				runs[i].Add(1)
				if err := tx.Put(bA, []byte(strconv.Itoa(i)), []byte("v")); err != nil {
					return err
				}
				if i%2 == 1 {
					return errBoom
				}
				return nil
			})
			if (i%2 == 1) != (err == errBoom) {
				t.Errorf("Update %d: %v", i, err)
			}
			if i%2 == 0 && get(t, b, bA, strconv.Itoa(i)) == nil {
				t.Errorf("Update %d returned before its write was visible", i)
			}
		})
	}
	wg.Wait()
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("Update %d ran fn %d times", i, n)
		}
	}
}

// Batch may run fn more than once, each run in a fresh transaction: what commits is the
// last run of the calls that succeed, nothing of the calls that fail, and no run sees the
// writes of an earlier one.
func testBatch(t *testing.T, open opener) {
	b := open(t)
	const n = 12
	var wg sync.WaitGroup
	runs := make([]atomic.Int32, n)
	for i := range n {
		wg.Go(func() {
			key := []byte(fmt.Sprintf("k%02d", i))
			fail := fmt.Errorf("call %d: %w", i, errBoom)
			err := b.Batch(t.Context(), func(tx kv.Tx) error {
				run := runs[i].Add(1)
				if v, err := tx.Get(bA, key); v != nil || err != nil {
					return fmt.Errorf("run %d of call %d sees %q, %v", run, i, v, err)
				}
				if err := tx.Put(bA, key, []byte(strconv.Itoa(int(run)))); err != nil {
					return err
				}
				if i%3 == 0 {
					return fail
				}
				return nil
			})
			if i%3 == 0 && err != fail || i%3 != 0 && err != nil {
				t.Errorf("Batch %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		want := "<nil>"
		if i%3 != 0 {
			want = strconv.Itoa(int(runs[i].Load()))
		}
		wantValue(t, b, bA, fmt.Sprintf("k%02d", i), want)
	}
}

// GetForUpdate reads like Get (nil for an absent key, in Views too); in a write transaction
// on a backend with concurrent writers it makes another transaction's GetForUpdate of the
// key wait until the first ends, and then read what the first committed.
func testGetForUpdate(t *testing.T, open opener) {
	b := open(t)
	ctx := t.Context()
	put(t, b, bA, "k", "0")
	must(t, "Update", b.Update(ctx, func(tx kv.Tx) error {
		v, err := tx.GetForUpdate(bA, []byte("absent"))
		if v != nil || err != nil {
			t.Errorf("GetForUpdate of an absent key: %q %v", v, err)
		}
		return err
	}))
	locked, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- b.Update(ctx, func(tx kv.Tx) error {
			v, err := tx.GetForUpdate(bA, []byte("k"))
			if err == nil {
				err = tx.Put(bA, []byte("k"), append(v, 'A'))
			}
			close(locked)
			<-release
			return err
		})
	}()
	<-locked
	var entered atomic.Bool
	bDone := make(chan error, 1)
	go func() {
		bDone <- b.Update(ctx, func(tx kv.Tx) error {
			entered.Store(true)
			v, err := tx.GetForUpdate(bA, []byte("k"))
			if err != nil {
				return err
			}
			return tx.Put(bA, []byte("k"), append(v, 'B'))
		})
	}()
	outcome, bErr := waitWhileEntering(bDone, &entered, time.Second)
	close(release)
	must(t, "the first transaction", <-aDone)
	if outcome == concurrentDone {
		t.Fatalf("a second GetForUpdate of a locked key did not wait (%v)", bErr)
	}
	must(t, "the second transaction", <-bDone)
	wantValue(t, b, bA, "k", "0AB")
}

// Concurrent read-modify-writes of one counter through GetForUpdate, by Update and Batch,
// lose no increment.
func testCounter(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "n", "0")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		run := b.Update
		if w%2 == 1 {
			run = b.Batch
		}
		wg.Go(func() {
			for range each {
				err := run(t.Context(), func(tx kv.Tx) error {
					v, err := tx.GetForUpdate(bA, []byte("n"))
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(v))
					if err != nil {
						return err
					}
					return tx.Put(bA, []byte("n"), []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantValue(t, b, bA, "n", strconv.Itoa(workers*each))
}
