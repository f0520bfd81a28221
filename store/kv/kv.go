// Package kv is the storage primitive layer under the store core (store/core): ordered
// buckets of byte keys and byte values, read and written inside transactions given as
// closures, the way bbolt's DB.View and DB.Update work. A backend (store/bolt on one bbolt
// file, store/postgres on PostgreSQL) implements Backend and nothing else: it knows no record
// type, no key layout and no business rule. Every rule (uniqueness, revocation, audit
// chaining, queue bookkeeping, policy versions) is written once, in store/core, over Tx.
//
// The conformance suite of this contract is package kvtest; every backend runs it.
package kv

import (
	"context"
	"errors"
	"fmt"
)

// Bucket names an ordered set of keys. Backends create the buckets they are asked for
// (Backend.EnsureBuckets) before use: a bbolt bucket, a PostgreSQL table.
type Bucket string

// Backend is a storage engine.
type Backend interface {
	// Name names the engine for health reports ("bbolt", "postgres").
	Name() string
	// EnsureBuckets creates the buckets that do not exist yet; existing ones keep their data.
	EnsureBuckets(ctx context.Context, buckets ...Bucket) error
	// View runs fn in a read-only transaction over one consistent snapshot of every bucket.
	// A write through the Tx of a View fails with ErrReadOnly.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Update runs fn in a read-write transaction of its own, exactly once; the writes commit
	// when fn returns nil and are durable when Update returns nil. An error from fn rolls
	// everything back and is returned as is.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Batch is Update whose commit may be shared with concurrent callers (bbolt DB.Batch),
	// or retried after a transient conflict between concurrent writers (a PostgreSQL
	// deadlock or serialization failure): fn may run more than once, each run in a fresh
	// transaction, so it must have no effect outside the transaction except on values it
	// overwrites on every run.
	Batch(ctx context.Context, fn func(tx Tx) error) error
	// Close waits for running transactions and releases the engine. Calls after Close fail
	// with an error wrapping store.ErrUnavailable.
	Close() error
}

// Tx is one transaction. Keys are at most MaxKeyLen bytes and not empty. Byte slices
// returned by a Tx are valid until the transaction ends and must not be modified; callers
// that keep one copy it. The key and value slices passed to Put, Insert and Delete belong to
// the Tx until the transaction ends: the backend may keep them, without a copy, until it
// commits (bbolt keeps them in its dirty pages, PostgreSQL in its queued statements), so the
// caller must not modify them after the call (a caller that reuses a buffer passes a copy). A
// slice the Tx returned may be passed back to it (written under another key, for one). Slices
// passed to the reads (Get, GetMany, Scan) may be reused once the call returns.
//
// Errors: a backend that cannot be reached (closed, disk full, connection lost) returns an
// error wrapping store.ErrUnavailable; Insert on an existing key returns an error wrapping
// store.ErrExists.
type Tx interface {
	// Writable reports whether the transaction can write (Update, Batch).
	Writable() bool
	// Get returns the value at key, or nil (and no error) when the key is absent.
	Get(b Bucket, key []byte) ([]byte, error)
	// GetForUpdate is Get that, in a writable transaction on a backend with concurrent
	// writers, locks the key until the transaction ends (PostgreSQL SELECT … FOR UPDATE), so
	// a read-modify-write of it is not lost to a concurrent one. A key that is absent is not
	// locked: create records with Insert to detect a concurrent creation. bbolt has one
	// writer at a time, so there it is Get.
	GetForUpdate(b Bucket, key []byte) ([]byte, error)
	// GetMany returns the values at keys, in the order of keys, nil for an absent key: one
	// round trip on backends behind a network.
	GetMany(b Bucket, keys [][]byte) ([][]byte, error)
	// Put writes value at key, replacing any value there.
	Put(b Bucket, key, value []byte) error
	// Insert writes value at key unless the key exists (an error wrapping store.ErrExists,
	// and nothing written).
	Insert(b Bucket, key, value []byte) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(b Bucket, key []byte) error
	// Scan calls fn for the keys of b in ascending byte order within span, until fn returns
	// false or an error (returned as is). fn may read any bucket through the same Tx and
	// write to other buckets, but must not write to b: collect the keys and write after the
	// scan.
	Scan(b Bucket, span Span, fn func(key, value []byte) (more bool, err error)) error
}

// Counter is implemented by transactions that count a span's keys where they are stored
// (PostgreSQL: one COUNT statement instead of every key sent to the client a page at a
// time). Count takes Prefix and Start as Scan does; KeysOnly and SkipLocked do not apply.
type Counter interface {
	Count(b Bucket, span Span) (int, error)
}

// Count counts the keys of span in b: through tx's Counter when it has one, else by
// scanning the keys.
func Count(tx Tx, b Bucket, span Span) (int, error) {
	if c, ok := tx.(Counter); ok {
		return c.Count(b, span)
	}
	span.KeysOnly, span.SkipLocked = true, false
	n := 0
	err := tx.Scan(b, span, func([]byte, []byte) (bool, error) { n++; return true, nil })
	return n, err
}

// Span selects a range of keys for Scan.
type Span struct {
	// Prefix limits the scan to keys that start with it (nil: every key).
	Prefix []byte
	// Start, when set, is the first key to consider (inclusive): the scan starts at the
	// first key >= Start. It should start with Prefix.
	Start []byte
	// KeysOnly tells the backend the values are not needed (fn receives nil values).
	KeysOnly bool
	// SkipLocked, in a writable transaction, locks each key it passes to fn and skips keys
	// another transaction holds locked (PostgreSQL FOR UPDATE SKIP LOCKED): concurrent
	// pruners on several servers then share the work instead of waiting on each other.
	SkipLocked bool
}

// MaxKeyLen bounds keys, on every backend: the longest key PostgreSQL's B-tree index on a
// bucket table's key column (its only indexed column) takes whatever the bytes. An index
// entry of a B-tree of version 4 (PostgreSQL 12 and later, 8 kB pages) is at most 2,704
// bytes: a third of a page less its headers, less a heap TID kept for suffix truncation
// (BTMaxItemSize). The entry is an 8-byte IndexTupleData header and the bytea key with its
// 4-byte varlena header, padded to 8 bytes, so 2,692 bytes of key fit and 2,693 do not
// (SQLSTATE 54000, "index row size 2712 exceeds btree version 4 maximum 2704"). A longer
// key that compresses would pass on PostgreSQL, but not reliably, and bbolt (32 kB keys)
// would take it: CheckKey refuses it on both, with the same error.
const MaxKeyLen = 2692

// CheckKey rejects a key a Tx does not write: an empty one, or one longer than MaxKeyLen.
// Backends call it before every write, so that a bad key fails the same way everywhere and
// writes nothing.
func CheckKey(key []byte) error {
	switch {
	case len(key) == 0:
		return errors.New("kv: empty key")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("kv: key of %d bytes, longer than %d", len(key), MaxKeyLen)
	}
	return nil
}

// ErrReadOnly is returned by a write through the Tx of a View.
var ErrReadOnly = errors.New("kv: write in a read-only transaction")

// Prefetcher is implemented by the Tx of backends behind a network (PostgreSQL), where each
// read that waits for its answer costs a round trip. Prefetch queues reads without waiting:
// they go to the server with the transaction's next statement that needs an answer (or with a
// flush of queued writes), in the same round trip, after everything queued before them, and
// the reads of the transaction that they cover are then answered from what they read:
//
//   - Get of a key of a prefetched Read's Keys (GetForUpdate only when the Read locked it),
//     GetMany when every key is covered;
//   - Scan of a prefetched Read's Prefix from its start, without SkipLocked: the first
//     ScanAhead keys come from the prefetch (their values too, unless the Read had KeysOnly),
//     the rest, if any, from the server.
//
// A prefetched read answers as the server did when it ran: a later Get in a READ COMMITTED
// transaction could see rows other transactions committed since, so a caller prefetches what
// it holds locked (a check-in: its device's own rows, under the device's lock, queued first).
// A write of the transaction to a bucket (Put, Insert, Delete) drops every prefetched answer
// of that bucket, whether it came yet or not, so no read returns what the transaction
// overwrote. A prefetch that nothing used costs a statement in a round trip that was made
// anyway; prefetched reads still queued when the transaction commits are not sent, unless a
// queued write follows them (so a lock queued first is taken before the writes after it).
type Prefetcher interface {
	Prefetch(reads ...Read)
}

// ScanAhead is how many keys a prefetched scan reads.
const ScanAhead = 16

// Read is one read for Prefetch: the values at Keys of Bucket (locked, when Lock is set, as
// GetForUpdate locks them), or, when Prefix is set, the first ScanAhead keys of Bucket that
// start with it (and their values unless KeysOnly). Then, when set, is called with what the
// read found (the present keys and their values, in key order for a scan) once it has been
// answered; the reads it returns are queued in turn, so a read that depends on another's
// answer goes with the transaction's next statement instead of a round trip of its own.
type Read struct {
	Bucket   Bucket
	Keys     [][]byte
	Lock     bool
	Prefix   []byte
	KeysOnly bool
	Then     func(keys, values [][]byte) []Read
}

// Packer is implemented by backends that can store densely the buckets whose keys are only
// ever written in ascending order within each prefix (logs): bbolt splits their pages
// nearly full instead of half full. The store core calls it once, before use.
type Packer interface {
	PackBuckets(buckets ...Bucket)
}

// Serial is implemented by backends that run one write transaction at a time (bbolt): a
// record every writer locks costs them no waiting, since writers never overlap anyway. The
// store core seals audit events inline on such a backend instead of through its sequencer
// (store/doc.go, "Audit sequencer").
type Serial interface {
	// Serial reports whether write transactions run one at a time.
	Serial() bool
}

// Notifier is implemented by backends several processes share that can carry small
// messages between them (PostgreSQL's LISTEN/NOTIFY): the push hub's wake-ups reach the
// replica holding a device's channel through it, with no other infrastructure.
type Notifier interface {
	// Notify sends payload (at most 7,999 bytes) on channel to every process listening on
	// it; delivery is at most once and only to listeners connected at that moment.
	Notify(ctx context.Context, channel, payload string) error
	// Listen calls fn with each payload sent on channel, on a connection of its own, until
	// ctx is done. It reconnects after the connection is lost (with back-off) and calls
	// connected each time it listens again, the first time included: messages sent while
	// it was not listening are lost, and connected lets the caller make up for them.
	Listen(ctx context.Context, channel string, connected func(), fn func(payload string))
}
