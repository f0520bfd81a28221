package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Options configures New. The zero value is usable.
type Options struct {
	// Logger receives retention and migration messages; discarded when nil.
	Logger *slog.Logger
	// Now is the clock of the timestamps the store sets (CreatedAt, UpdatedAt, revocation
	// times); time.Now when nil.
	Now func() time.Time
	// SecretKey, when set (32 bytes, AES-256), seals the values of secret configuration keys
	// at rest (the keys under "tenant/" (store.ConfigTenantPrefix: signing and PIN reset
	// keys), "secret/" and "ca/"; see secrets.go for the record format). Required when the
	// backend is shared over a network (PostgreSQL).
	SecretKey []byte
}

// Store is a store.Store over a kv.Backend: every business rule of the storage layer, once.
type Store struct {
	kv  kv.Backend
	log *slog.Logger
	now func() time.Time
	obs atomic.Pointer[store.Observer] // nil: nobody listens (read atomically: the sequencer runs from New on)
	sec *secrets                       // nil: secret configuration values are stored as they are
	seq *sequencer                     // nil: audit events are sealed inline (a kv.Serial backend)

	sealObs atomic.Pointer[store.SealObserver]   // the observer's sealing reports, if any
	polObs  atomic.Pointer[store.PolicyObserver] // told of policy-version bumps after their commit
}

var (
	_ store.Store            = (*Store)(nil)
	_ store.Observable       = (*Store)(nil)
	_ store.PolicyObservable = (*Store)(nil)
	_ store.Backuper         = (*Store)(nil)
	_ store.Writer           = (*wtx)(nil)
)

// New builds the store over b: it creates the buckets the store uses and brings the data
// written by earlier releases to the current format (migrate.go) before returning.
func New(ctx context.Context, b kv.Backend, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{kv: b, log: log.With("component", "store"), now: now}
	if len(opts.SecretKey) > 0 {
		sec, err := newSecrets(opts.SecretKey)
		if err != nil {
			return nil, err
		}
		s.sec = sec
	}
	if err := b.EnsureBuckets(ctx, allBuckets...); err != nil {
		return nil, fmt.Errorf("opening store on %s: %w", b.Name(), err)
	}
	if p, ok := b.(kv.Packer); ok {
		p.PackBuckets(bAudit)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("opening store on %s: %w", b.Name(), err)
	}
	if sb, ok := b.(kv.Serial); !ok || !sb.Serial() {
		q, err := newSequencer(s)
		if err != nil {
			return nil, err
		}
		s.seq = q
		go q.run()
	}
	return s, nil
}

// Backend names the backend ("bbolt", "postgres").
func (s *Store) Backend() string { return s.kv.Name() }

// KV returns the backend the store runs on.
func (s *Store) KV() kv.Backend { return s.kv }

// Close stops the audit sequencer, if any (a batch in flight commits or rolls back whole;
// the lease is given up), and closes the backend.
func (s *Store) Close() error {
	if s.seq != nil {
		s.seq.close()
	}
	return s.kv.Close()
}

// SetObserver makes the store report its write transactions and committed audit events to o
// (metrics). Call it before the store is used concurrently.
func (s *Store) SetObserver(o store.Observer) {
	if o == nil {
		s.obs.Store(nil)
	} else {
		s.obs.Store(&o)
	}
	if so, ok := o.(store.SealObserver); ok {
		s.sealObs.Store(&so)
	} else {
		s.sealObs.Store(nil)
	}
}

// Backup writes a consistent copy of the database to w when the backend can make one
// (store.Backuper: bbolt); otherwise it says so.
func (s *Store) Backup(ctx context.Context, w io.Writer, size func(n int64)) (int64, error) {
	b, ok := s.kv.(store.Backuper)
	if !ok {
		return 0, fmt.Errorf("the %s backend has no online backup: %w", s.kv.Name(), errors.ErrUnsupported)
	}
	return b.Backup(ctx, w, size)
}

// view runs fn in a read transaction, after checking ctx.
func (s *Store) view(ctx context.Context, fn func(tx kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.kv.View(ctx, fn)
}

// wtx is one run of a write transaction: the backend's Tx, the write's context and clock
// reading, and the audit events sealed in it, handed back to their callers once the
// transaction has committed (publish).
type wtx struct {
	kv.Tx
	ctx     context.Context
	now     time.Time
	seq     *sequencer // nil: seal audit events inline
	sealed  []sealedEvent
	pending bool // unsealed audit events were appended: wake the sequencer after the commit
	// sec seals configuration values written in the transaction (PutConfig).
	sec *Store
	// bumped are the tenants whose policy version this run bumped, reported to the policy
	// observer once the transaction committed.
	bumped []string
}

// update runs fn in a write transaction of its own, exactly once.
func (s *Store) update(ctx context.Context, fn func(w *wtx) error) error {
	return s.write(ctx, false, fn)
}

// batch runs fn in a write transaction that may be shared with concurrent callers: fn may
// run more than once, each time on a fresh wtx.
func (s *Store) batch(ctx context.Context, fn func(w *wtx) error) error {
	return s.write(ctx, true, fn)
}

func (s *Store) write(ctx context.Context, shared bool, fn func(w *wtx) error) error {
	return s.writeObserved(ctx, shared, true, fn)
}

// updateInternal is update for the store's own background transactions (the audit
// sequencer's lease and sealing): they are not reported to the observer, whose write
// transactions are the callers'.
func (s *Store) updateInternal(ctx context.Context, fn func(w *wtx) error) error {
	return s.writeObserved(ctx, false, false, fn)
}

func (s *Store) writeObserved(ctx context.Context, shared, observe bool, fn func(w *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var last *wtx
	run := func(tx kv.Tx) error {
		last = &wtx{Tx: tx, ctx: ctx, now: s.now(), seq: s.seq, sec: s}
		return fn(last)
	}
	start := time.Now()
	var err error
	if shared {
		err = s.kv.Batch(ctx, run)
	} else {
		err = s.kv.Update(ctx, run)
	}
	if o := s.obs.Load(); o != nil && observe {
		(*o).WriteTx(time.Since(start), err)
	}
	if err != nil {
		return err
	}
	s.publish(last.sealed)
	if last.pending {
		s.seq.notify()
	}
	if po := s.polObs.Load(); po != nil {
		for _, t := range last.bumped {
			(*po).PolicyChanged(t)
		}
	}
	return nil
}

// SetPolicyObserver makes the store tell o, after each commit, the tenants whose policy
// version the transaction bumped (store.PolicyObservable); nil stops it.
func (s *Store) SetPolicyObserver(o store.PolicyObserver) {
	if o == nil {
		s.polObs.Store(nil)
		return
	}
	s.polObs.Store(&o)
}

// publish hands sealed events (or, with a sequencer, the canonical unsealed events: ID and
// Time, no Seq or Hash yet) back to their callers once their transaction committed, and
// reports them.
func (s *Store) publish(sealed []sealedEvent) {
	copyBack(sealed)
	if o := s.obs.Load(); o != nil {
		for _, e := range sealed {
			(*o).AuditAppended(e.dst)
		}
	}
}

// Write runs fn in one write transaction (store.Writes) on a Writer over it: the changes fn
// makes, the events it appends and the idempotency record of ctx (marked Committed after fn)
// commit together. The transaction is batched (its commit may be shared with concurrent
// writers, so enrollments arriving together share one) and run again after a lost creation
// race: fn may run more than once, each time on a fresh Writer.
func (s *Store) Write(ctx context.Context, fn func(w store.Writer) error) error {
	return s.adminWrite(ctx, true, func(w *wtx) error { return fn(w) })
}

// adminWrite runs fn as an admin write: in a write transaction (batched when shared, run
// again after a lost creation race) that marks the idempotency record of ctx after fn. The
// one-call admin writes (CreateTenant, ...) are adminWrites of one change of the Writer and
// no events, in a transaction of their own (RegisterDevice's batched, as enrollments are).
func (s *Store) adminWrite(ctx context.Context, shared bool, fn func(w *wtx) error) error {
	return s.writeRetrying(ctx, shared, func(w *wtx) error {
		if err := fn(w); err != nil {
			return err
		}
		if err := w.markIdem(); err != nil {
			return fmt.Errorf("marking the idempotency key: %w", err)
		}
		return nil
	})
}

// alone runs change as an admin write of its own with no events (a one-call admin write)
// and returns the record it stored, or the zero record with the error.
func alone[T any](ctx context.Context, s *Store, shared bool, change func(w *wtx) (T, error)) (T, error) {
	var stored T
	err := s.adminWrite(ctx, shared, func(w *wtx) error {
		var err error
		stored, err = change(w)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return stored, nil
}

// failed, deferred by a Writer method with its named results, wraps the method's error in
// what it was doing and returns the zero record with it.
func failed[T any](stored *T, err *error, what string) {
	if *err != nil {
		var zero T
		*stored = zero
		*err = fmt.Errorf("%s: %w", what, *err)
	}
}
