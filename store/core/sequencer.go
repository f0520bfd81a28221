package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// The audit sequencer (store/doc.go, "Audit sequencer"). On a backend with concurrent
// writers (PostgreSQL), an append writes each event unsealed into bAuditPending under a key
// no other writer can produce (prefix(tenant) + the time of the append + this store's
// random writer ID + a counter), with Put only: it reads and locks no per-tenant
// record. One store among those sharing the database holds the sequencer lease
// (bAuditLease) and seals pending events in batches: per tenant, one transaction locks the
// chain head, reads up to sealBatch pending events in key order, seals them after the head,
// writes them into bAudit, deletes them from bAuditPending and writes the head. A batch is
// one transaction, so a sequencer that dies mid-batch leaves nothing half done; and since
// the head is locked before the pending events are read, two sealers (a lease taken over
// from a live but slow holder, a reader sealing before it reads) never seal an event twice
// or fork a chain: the second finds the first's events gone from bAuditPending.

const (
	// sealBatch bounds the events one sealing transaction seals.
	sealBatch = 512
	// sealPoll is how often the lease holder looks for events appended by other servers,
	// which cannot wake it.
	sealPoll = 50 * time.Millisecond
	// sealGap is the least time between two batches that sealed something.
	sealGap = 20 * time.Millisecond
	// leaseTTL is how long a sequencer lease lasts unless renewed; the holder renews it every
	// leaseRenew, and another server takes it over once it has expired.
	leaseTTL   = 3 * time.Second
	leaseRenew = 500 * time.Millisecond
)

// sealHook, when set (tests only), is called by every sealing batch after its writes and
// before its commit, with the store sealing.
var sealHook atomic.Pointer[func(s *Store)]

// leaseKey is the key of the one sequencer lease in bAuditLease.
var leaseKey = []byte("sequencer")

// pendingSuffix is the length of a pending key after the tenant prefix.
const pendingSuffix = 24

// sequencer seals the pending audit events of a store on a backend with concurrent writers.
type sequencer struct {
	s      *Store
	writer [8]byte       // this store's writer ID in pending keys
	n      atomic.Uint64 // counter of pending keys
	holder string        // this store's name in the lease

	wake   chan struct{} // an append committed in this process
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	mu         sync.Mutex
	leaseUntil time.Time // when the lease this store holds expires (zero: not held)
}

func newSequencer(s *Store) (*sequencer, error) {
	q := &sequencer{s: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := rand.Read(q.writer[:]); err != nil {
		return nil, fmt.Errorf("starting the audit sequencer: %w", err)
	}
	host, _ := os.Hostname()
	q.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(q.writer[:]))
	return q, nil
}

// pendingKey returns a fresh pending key of tenant stamped now (the time of the append,
// late in its transaction: the order and delay of sealing are counted from it); the keys
// this store makes follow each other in the order they were made.
func (q *sequencer) pendingKey(tenant string, now time.Time) []byte {
	k := prefix(tenant, pendingSuffix)
	k = binary.BigEndian.AppendUint64(k, uint64(now.UnixNano()))
	k = append(k, q.writer[:]...)
	return binary.BigEndian.AppendUint64(k, q.n.Add(1))
}

// notify wakes the sequencer loop after an append committed; it never blocks.
func (q *sequencer) notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run is the sequencer loop: while this store holds the lease (renewed or taken by
// leaseLoop, on a goroutine of its own so that a slow renewal never delays a batch) it seals
// every pending event, on every append of this process and every sealPoll.
func (q *sequencer) run() {
	defer close(q.done)
	ctx, cancel := context.WithCancel(context.Background())
	leased := make(chan struct{})
	go func() {
		defer close(leased)
		q.leaseLoop(ctx)
	}()
	defer func() {
		cancel()
		<-leased
	}()
	go func() {
		select {
		case <-q.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	poll := time.NewTicker(sealPoll)
	defer poll.Stop()
	for {
		if q.holds() {
			n, err := q.s.sealAll(ctx)
			if err != nil && ctx.Err() == nil {
				q.s.log.Warn("sealing audit events", "err", err)
			}
			if n > 0 {
				// Let appends gather for the next batch: a batch per append would double the
				// commits (and WAL flushes) of a busy server for no gain.
				select {
				case <-q.stop:
				case <-time.After(sealGap):
				}
			}
		}
		select {
		case <-q.stop:
			cancel()
			<-leased
			q.release()
			return
		case <-q.wake:
		case <-poll.C:
		}
	}
}

// leaseLoop takes or renews the lease every leaseRenew until ctx is done.
func (q *sequencer) leaseLoop(ctx context.Context) {
	t := time.NewTicker(leaseRenew)
	defer t.Stop()
	for {
		if err := q.lease(ctx); err != nil && ctx.Err() == nil {
			q.s.log.Warn("audit sequencer lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// holds reports whether this store holds an unexpired lease.
func (q *sequencer) holds() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return time.Now().Before(q.leaseUntil)
}

// lease takes the lease when it is free or expired and renews it when this store holds it.
// The expiry this store goes by is counted from before the transaction started, so it never
// believes it holds a lease longer than the database says.
func (q *sequencer) lease(ctx context.Context) error {
	start := time.Now()
	if !q.holds() {
		// Not the holder: a read tells whether the lease is free, without queueing for the
		// holder's renewals on its lock.
		var busy bool
		err := q.s.view(ctx, func(tx kv.Tx) error {
			raw, err := tx.Get(bAuditLease, leaseKey)
			busy = err == nil && len(raw) >= 8 && string(raw[8:]) != q.holder &&
				time.Unix(0, int64(binary.BigEndian.Uint64(raw))).After(start)
			return err
		})
		if err != nil || busy {
			return err
		}
	}
	var held bool
	err := q.s.updateInternal(ctx, func(w *wtx) error {
		held = false
		raw, err := w.GetForUpdate(bAuditLease, leaseKey)
		if err != nil {
			return err
		}
		mine := binary.BigEndian.AppendUint64(nil, uint64(start.Add(leaseTTL).UnixNano()))
		mine = append(mine, q.holder...)
		switch {
		case raw == nil:
			if err := w.Insert(bAuditLease, leaseKey, mine); err != nil {
				if errors.Is(err, store.ErrExists) {
					return nil // another server took it first
				}
				return err
			}
		case len(raw) < 8:
			return fmt.Errorf("sequencer lease record of %d bytes", len(raw))
		case string(raw[8:]) != q.holder && time.Unix(0, int64(binary.BigEndian.Uint64(raw))).After(start):
			return nil // held by another server
		default:
			if err := w.Put(bAuditLease, leaseKey, mine); err != nil {
				return err
			}
		}
		held = true
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return err // stopping: release decides
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil || !held {
		q.leaseUntil = time.Time{}
		return err
	}
	if q.leaseUntil.IsZero() {
		q.s.log.Info("audit sequencer lease taken", "holder", q.holder)
	}
	q.leaseUntil = start.Add(leaseTTL)
	return nil
}

// release gives the lease up on a clean shutdown, so another server takes over at once.
func (q *sequencer) release() {
	if !q.holds() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = q.s.updateInternal(ctx, func(w *wtx) error {
		raw, err := w.GetForUpdate(bAuditLease, leaseKey)
		if err != nil || len(raw) < 8 || string(raw[8:]) != q.holder {
			return err
		}
		return w.Delete(bAuditLease, leaseKey)
	})
}

// close stops the loop and waits for it; a batch in flight is rolled back or committed whole.
func (q *sequencer) close() {
	q.closed.Do(func() {
		close(q.stop)
		<-q.done
	})
}

// appendPending writes events, canonicalised and validated but unsealed, into bAuditPending.
func (w *wtx) appendPending(q *sequencer, events []*audit.Event) error {
	evs := make([]audit.Event, len(events))
	for i, dst := range events {
		if dst == nil {
			return errors.New("appending audit event: nil event")
		}
		evs[i] = *dst
		validUTF8(&evs[i])
		if err := checkID("audit tenant id", evs[i].TenantID); err != nil {
			return fmt.Errorf("appending audit event: %w", err)
		}
		if err := audit.Canonicalize(&evs[i]); err != nil {
			return fmt.Errorf("appending audit event: %w", err)
		}
		evs[i].Seq, evs[i].PrevHash, evs[i].Hash = 0, "", ""
	}
	var recs eventRecords
	for i := 0; i < len(evs); {
		// Consecutive events of one tenant go into one pending record (a batch when there
		// are several, auditbatch.go), in argument order.
		j := i + 1
		for j < len(evs) && evs[j].TenantID == evs[i].TenantID {
			j++
		}
		records := make([][]byte, 0, j-i)
		for k := i; k < j; k++ {
			rec, err := recs.encode(&evs[k])
			if err != nil {
				return err
			}
			records = append(records, rec)
			w.sealed = append(w.sealed, sealedEvent{dst: events[k], ev: evs[k]})
		}
		// Put rather than Insert: no other writer makes this key (the writer ID and the
		// counter are this store's alone, and a run of the transaction again takes a fresh
		// key), so nothing can be overwritten, and a PostgreSQL transaction pipelines a Put
		// with its next statement instead of waiting for an answer of its own.
		if err := w.Put(bAuditPending, q.pendingKey(evs[i].TenantID, time.Now()), encodeBatch(records)); err != nil {
			return fmt.Errorf("writing unsealed audit events of tenant %s: %w", evs[i].TenantID, err)
		}
		i = j
	}
	w.pending = true
	return nil
}

// sealAll seals every pending event of every tenant, batch by batch, and returns how many it
// sealed.
func (s *Store) sealAll(ctx context.Context) (int, error) {
	total := 0
	var after []byte
	for {
		tenant, ok, err := s.nextPendingTenant(ctx, after)
		if err != nil || !ok {
			return total, err
		}
		n, err := s.sealTenant(ctx, tenant)
		total += n
		if err != nil {
			return total, err
		}
		after = prefixEnd(prefix(tenant, 0))
	}
}

// nextPendingTenant returns the first tenant with pending events whose prefix is at or after
// start.
func (s *Store) nextPendingTenant(ctx context.Context, start []byte) (string, bool, error) {
	var (
		tenant string
		found  bool
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		return tx.Scan(bAuditPending, kv.Span{Start: start, KeysOnly: true}, func(k, _ []byte) (bool, error) {
			owner, rest, ok := splitOwner(k)
			if !ok || len(rest) != pendingSuffix {
				return false, fmt.Errorf("pending audit event key %x: malformed", k)
			}
			tenant, found = owner, true
			return false, nil
		})
	})
	if err != nil {
		return "", false, fmt.Errorf("looking for unsealed audit events: %w", err)
	}
	return tenant, found, nil
}

// prefixEnd returns the smallest key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: nothing after it (a tenant ID of that shape cannot occur)
}

// sealTenant seals the tenant's pending events in batches of sealBatch, one transaction
// each, until none is left, and returns how many it sealed.
func (s *Store) sealTenant(ctx context.Context, tenant string) (int, error) {
	total := 0
	for {
		var stamps []time.Time
		err := s.updateInternal(ctx, func(w *wtx) error {
			var err error
			stamps, err = w.sealBatch(tenant)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sealing audit events of tenant %s: %w", tenant, err)
		}
		total += len(stamps)
		if o := s.sealObs.Load(); o != nil {
			sealed := time.Now()
			for _, t := range stamps {
				(*o).AuditSealed(sealed.Sub(t))
			}
		}
		if len(stamps) < sealBatch {
			return total, nil
		}
	}
}

// sealBatch seals the tenant's pending events after its chain head, read under lock first:
// the pending records in key order until they hold sealBatch events or more. It returns,
// for each event it sealed, when the transaction that appended it wrote it (the stamp in
// its pending key).
//
// The chain records are written with Put, which a PostgreSQL transaction pipelines (a batch
// costs a handful of round trips, not one per event), instead of Insert: every writer of a
// tenant's chain records holds its head lock, so after checking under that lock that no
// record follows the head (one scan), no Put can overwrite an event. The events go into
// one chain record per retention segment they fall in (auditbatch.go): a batch writes a
// record per segment it reaches (one or two for 512 events), not one per event.
func (w *wtx) sealBatch(tenant string) ([]time.Time, error) {
	headRaw, err := lockOrCreate(w, bAuditHead, []byte(tenant), zeroAnchor[:])
	head, err := readAnchor(headRaw, err)
	if err != nil {
		return nil, fmt.Errorf("reading the audit chain head: %w", err)
	}
	keys, evs, stamps, err := w.readPending(tenant)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	pre := prefix(tenant, 0)
	var beyond []byte
	err = w.Scan(bAudit, kv.Span{Prefix: pre, Start: seqKey(tenant, head.Seq+1), KeysOnly: true}, func(k, _ []byte) (bool, error) {
		beyond = bytes.Clone(k)
		return false, nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading the audit chain after its head: %w", err)
	case beyond != nil:
		return nil, fmt.Errorf("audit event %x stored after the chain head %d: %w", beyond[len(pre):], head.Seq, store.ErrConflict)
	}
	var (
		recs    eventRecords
		records [][]byte
	)
	for i := range evs {
		ev := &evs[i]
		if err := audit.SealAfter(head, ev); err != nil {
			return nil, fmt.Errorf("sealing audit event %s: %w", ev.ID, err)
		}
		head = ev.Head()
		rec, err := recs.encode(ev)
		if err != nil {
			return nil, err
		}
		records = append(records, rec)
		if i == len(evs)-1 || segmentOf(ev.Seq) != segmentOf(ev.Seq+1) {
			if err := w.Put(bAudit, seqKey(tenant, ev.Seq), encodeBatch(records)); err != nil {
				return nil, fmt.Errorf("writing audit events up to %d: %w", ev.Seq, err)
			}
			records = nil
		}
	}
	for _, k := range keys {
		if err := w.Delete(bAuditPending, k); err != nil {
			return nil, fmt.Errorf("deleting sealed events from the pending ones: %w", err)
		}
	}
	if err := w.Put(bAuditHead, []byte(tenant), anchorValue(head)); err != nil {
		return nil, fmt.Errorf("writing the audit chain head: %w", err)
	}
	if h := sealHook.Load(); h != nil {
		(*h)(w.seq.s) // tests: the batch is written, not committed
	}
	return stamps, nil
}

// readPending reads the tenant's pending records in key order until they hold sealBatch
// events or more, and returns their keys, their events and each event's stamp.
func (w *wtx) readPending(tenant string) (keys [][]byte, evs []audit.Event, stamps []time.Time, err error) {
	pre := prefix(tenant, 0)
	var records [][]byte
	err = w.Scan(bAuditPending, kv.Span{Prefix: pre}, func(k, v []byte) (bool, error) {
		if len(k) != len(pre)+pendingSuffix {
			return false, fmt.Errorf("pending audit event key %x: malformed", k)
		}
		var err error
		if records, err = splitRecords(v, records[:0]); err != nil {
			return false, fmt.Errorf("unsealed audit events %x: %w", k, err)
		}
		stamp := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(pre):])))
		for _, rec := range records {
			var ev audit.Event
			if err := decodeEvent(rec, &ev); err != nil {
				return false, fmt.Errorf("unsealed audit event %x: %w", k, err)
			}
			evs = append(evs, ev)
			stamps = append(stamps, stamp)
		}
		keys = append(keys, bytes.Clone(k))
		return len(evs) < sealBatch, nil
	})
	return keys, evs, stamps, err
}

// SealAudit seals, in this process and whether or not it holds the sequencer lease, every
// audit event whose transaction committed before the call; it returns how many it sealed.
// On a backend that seals inline (bbolt) there is never anything to seal. Tools and tests
// use it to wait for sealing; readers of a tenant's log call sealTenant instead.
func (s *Store) SealAudit(ctx context.Context) (int, error) {
	if s.seq == nil {
		return 0, nil
	}
	return s.sealAll(ctx)
}

// SealsInline reports whether audit events are sealed in the transaction that appends them
// (bbolt) rather than by the sequencer after it commits (PostgreSQL).
func (s *Store) SealsInline() bool { return s.seq == nil }

// sealBeforeRead seals the tenant's pending events before its log is read, so that a reader
// sees, sealed, every event committed before it started (store/doc.go).
func (s *Store) sealBeforeRead(ctx context.Context, tenant string) error {
	if s.seq == nil || checkID("tenant id", tenant) != nil {
		return nil
	}
	_, err := s.sealTenant(ctx, tenant)
	return err
}

// AuditUnsealed returns the tenant's events committed but not sealed yet: their count and
// the Time of the oldest (audit.UnsealedReader).
func (s *Store) AuditUnsealed(ctx context.Context, tenantID string) (audit.Unsealed, error) {
	var u audit.Unsealed
	if s.seq == nil || checkID("tenant id", tenantID) != nil {
		return u, nil
	}
	err := s.view(ctx, func(tx kv.Tx) error {
		u = audit.Unsealed{}
		var records [][]byte
		return tx.Scan(bAuditPending, kv.Span{Prefix: prefix(tenantID, 0)}, func(k, v []byte) (bool, error) {
			var err error
			if records, err = splitRecords(v, records[:0]); err != nil {
				return false, fmt.Errorf("unsealed audit events %x: %w", k, err)
			}
			for _, rec := range records {
				var ev audit.Event
				if err := decodeEvent(rec, &ev); err != nil {
					return false, fmt.Errorf("unsealed audit event %x: %w", k, err)
				}
				u.Count++
				if u.Oldest.IsZero() || ev.Time.Before(u.Oldest) {
					u.Oldest = ev.Time
				}
			}
			return true, nil
		})
	})
	if err != nil {
		return audit.Unsealed{}, fmt.Errorf("reading unsealed audit events of tenant %s: %w", tenantID, err)
	}
	return u, nil
}

var _ store.AuditSealer = (*Store)(nil)
