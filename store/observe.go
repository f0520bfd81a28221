package store

import (
	"context"
	"io"
	"time"

	"github.com/hellomdm/hellomdm/audit"
)

// QueueStats summarises the command queue of the whole store for metrics.
type QueueStats struct {
	// Open counts commands not yet delivered or finally failed, on every device.
	Open int
	// OldestOpen is when the oldest open command was queued (zero when none is open).
	OldestOpen time.Time
}

// QueueStatser reports QueueStats. Its cost grows with the number of open commands, never
// with the number of devices or of delivered commands: bbolt walks its index of open
// commands (reading an 8-byte stamp per command), PostgreSQL counts its partial index of
// open commands and reads the oldest stamp from a second one.
type QueueStatser interface {
	QueueStats(ctx context.Context) (QueueStats, error)
}

// Observer is told what a backend did, for metrics. Its methods are called on the hot path:
// they must be cheap, must not block and must be safe for concurrent use.
type Observer interface {
	// WriteTx reports one write transaction (a check-in, an admin write, an audit append):
	// how long it took until it committed or failed, retries included.
	WriteTx(d time.Duration, err error)
	// AuditAppended reports an audit event after the transaction that appended it committed
	// (events of a rolled-back transaction are never reported).
	AuditAppended(e *audit.Event)
}

// SealObserver is an Observer told about audit sealing by a store that seals events after
// their transactions commit (the PostgreSQL store's sequencer, store/doc.go): once per
// event, after its sealing transaction committed, with the time from its append (read on
// the appending server's clock, before the appending transaction committed) to that commit:
// the sealing delay proper, which starts at the append's commit, plus the rest of the
// appending transaction.
type SealObserver interface {
	AuditSealed(delay time.Duration)
}

// AuditSealer is a store that seals audit events after their transactions commit (a
// sequencer) or in them (SealsInline).
type AuditSealer interface {
	// SealsInline reports whether appends seal their events in their own transaction, so
	// the caller's events hold Seq, PrevHash and Hash once the append returns.
	SealsInline() bool
	// SealAudit seals every audit event whose transaction committed before the call, and
	// returns how many it sealed.
	SealAudit(ctx context.Context) (int, error)
}

// Observable is a backend that reports to an Observer. SetObserver must be called before the
// store is used concurrently; nil stops reporting.
type Observable interface {
	SetObserver(o Observer)
}

// PolicyObserver is told, once a write transaction has committed, of each tenant whose
// policy version it bumped (a change of its groups, members, profiles or assignments, or a
// user's removal from its groups): the push hub wakes the devices whose desired state the
// change alters. It is called on the writer's goroutine after the commit: it must be cheap
// and must not block. A rolled-back transaction reports nothing.
type PolicyObserver interface {
	PolicyChanged(tenantID string)
}

// PolicyObservable is a store that reports policy-version bumps to a PolicyObserver. Set it
// before the store is used concurrently; nil stops reporting.
type PolicyObservable interface {
	SetPolicyObserver(o PolicyObserver)
}

// Backuper is a store that can copy itself, consistently, while it serves: bbolt writes the
// whole file from one read transaction (a snapshot; writers go on meanwhile). A store whose
// backend cannot (PostgreSQL: back it up with pg_dump) returns an error wrapping
// errors.ErrUnsupported before writing anything.
type Backuper interface {
	// Backup writes a consistent copy of the store to w and returns the bytes written;
	// size is called with the copy's size before the first byte is written.
	Backup(ctx context.Context, w io.Writer, size func(n int64)) (int64, error)
}
