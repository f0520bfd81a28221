package bolt

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// batcher is KV.Batch: it groups concurrent calls into one write transaction and one fsync
// (group commit). Like bbolt's DB.Batch, the first call of a batch schedules its flush delay
// later, and a function that fails is taken out of the batch, the others run again without
// it and it runs again alone, so its caller gets its own error (a panic included). Unlike
// DB.Batch, a flush takes its calls once it holds the writer, not when its timer fires:
// every call that arrived while the commit before it was running joins it. DB.Batch closes
// a batch at its timer and leaves the calls that arrive while it waits for the writer to a
// batch, and a commit, of their own, so that under load each commit carried only the calls
// of one delay however long the commit before it took.
type batcher struct {
	db    *bbolt.DB
	delay time.Duration
	max   int // calls per transaction at most

	mu        sync.Mutex
	calls     []batchCall // waiting for a flush
	scheduled bool        // a flush will take the calls
}

type batchCall struct {
	fn  func(*bbolt.Tx) error
	err chan error
}

// errSolo tells a caller whose function failed in a batch to run it again alone.
var errSolo = errors.New("bolt: batch function failed; run it alone")

// errEmpty rolls back the transaction of a flush that found no calls.
var errEmpty = errors.New("bolt: empty batch")

// do runs fn in a batch and returns its outcome.
func (b *batcher) do(fn func(*bbolt.Tx) error) error {
	c := batchCall{fn: fn, err: make(chan error, 1)}
	b.mu.Lock()
	b.calls = append(b.calls, c)
	switch {
	case !b.scheduled:
		b.scheduled = true
		time.AfterFunc(b.delay, b.flush)
	case len(b.calls) == b.max:
		go b.flush() // full: no need to wait for the timer
	}
	b.mu.Unlock()
	err := <-c.err
	if err == errSolo {
		err = b.db.Update(fn)
	}
	return err
}

// take removes the calls of one transaction (at most max). It leaves the batcher
// unscheduled when no call is left, so that the next one schedules a flush of its own, and
// otherwise starts another flush at once.
func (b *batcher) take() []batchCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.calls), b.max)
	calls := b.calls[:n:n]
	if rest := b.calls[n:]; len(rest) > 0 {
		b.calls = slices.Clone(rest)
		go b.flush()
	} else {
		b.calls, b.scheduled = nil, false
	}
	return calls
}

// flush runs the waiting calls in one write transaction, taking them once it holds the
// writer, and hands each its outcome.
func (b *batcher) flush() {
	var (
		calls []batchCall
		taken bool
	)
	for {
		failed := -1
		err := b.db.Update(func(tx *bbolt.Tx) error {
			if !taken {
				calls, taken = b.take(), true
			}
			if len(calls) == 0 {
				return errEmpty
			}
			for i, c := range calls {
				if err := safelyCall(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if !taken {
			// The transaction did not start (the database is closed): the calls get its error.
			calls, taken = b.take(), true
		}
		if failed >= 0 {
			calls[failed].err <- errSolo
			calls = slices.Delete(calls, failed, failed+1)
			continue
		}
		for _, c := range calls {
			c.err <- err
		}
		return
	}
}

// panicked is the error of a function that panicked in a batch; run alone again, it panics
// in its caller's goroutine.
type panicked struct{ reason any }

func (p panicked) Error() string { return fmt.Sprintf("panic: %v", p.reason) }

func safelyCall(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p}
		}
	}()
	return fn(tx)
}
