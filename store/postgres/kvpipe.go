package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hellomdm/hellomdm/store/kv"
)

// pgTx is a kv.Tx on a transaction of one connection. It saves round trips by pipelining:
// BEGIN goes to the server with the transaction's first statement, and Put and Delete,
// whose answers nobody waits for, are queued and go with the next statement that needs an
// answer (a read, an Insert) or with COMMIT. A queued write that fails therefore fails that
// later call (or the commit) instead of its own; the transaction fails either way and
// commits nothing. A transaction that sent nothing costs no round trip at all.
type pgTx struct {
	k        *KV
	c        *pgx.Conn
	ctx      context.Context
	writable bool
	begin    string // the BEGIN statement, until it is sent
	pending  []queued
	ahead    []*prefetch // every prefetched read of the transaction (kvprefetch.go)
}

// queued is a write waiting to be sent, or a prefetched read (pf set: kvprefetch.go).
type queued struct {
	op   string // for errors: "writing", "deleting from"
	b    kv.Bucket
	sql  string
	args []any
	pf   *prefetch
}

// maxPending bounds the queued writes: more are sent at once, so that a transaction that
// writes many keys never builds one huge pipeline.
const maxPending = 256

// Statements that begin a transaction: READ COMMITTED for writes, one read-only snapshot
// for Views.
const (
	beginWrite = "begin isolation level read committed"
	beginView  = "begin isolation level repeatable read read only"
)

func newTx(k *KV, c *pgx.Conn, ctx context.Context, writable bool) *pgTx {
	begin := beginView
	if writable {
		begin = beginWrite
	}
	return &pgTx{k: k, c: c, ctx: ctx, writable: writable, begin: begin}
}

// fail wraps a failed statement's error, mapped (store.ErrUnavailable when the server could
// not be reached or the connection died).
func (t *pgTx) fail(op string, b kv.Bucket, err error) error {
	if b == "" {
		return fmt.Errorf("%s: %w", op, connErr(t.c, err))
	}
	return fmt.Errorf("%s bucket %s: %w", op, b, connErr(t.c, err))
}

// queue adds a write to the pipeline (its arguments must not be the caller's buffers), and
// sends the pipeline when it is full.
func (t *pgTx) queue(op string, b kv.Bucket, sql string, args ...any) error {
	t.pending = append(t.pending, queued{op: op, b: b, sql: sql, args: args})
	if len(t.pending) < maxPending {
		return nil
	}
	br, err := t.send(nil)
	if err != nil {
		return err
	}
	return t.close(br)
}

// send sends what is waiting (BEGIN, queued writes), then last unless it is nil, and reads
// the results of all but last, which the caller reads from br (and then calls close). An
// error is the first failed statement's, mapped; br is then closed.
func (t *pgTx) send(last *queued) (pgx.BatchResults, error) {
	var b pgx.Batch
	if t.begin != "" {
		b.Queue(t.begin)
	}
	for _, q := range t.pending {
		b.Queue(q.sql, q.args...)
	}
	if last != nil {
		b.Queue(last.sql, last.args...)
	}
	br := t.c.SendBatch(t.ctx, &b)
	if t.begin != "" {
		t.begin = ""
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("beginning a transaction: %w", connErr(t.c, err))
		}
	}
	pending := t.pending
	t.pending = t.pending[:0]
	var then []kv.Read
	for _, q := range pending {
		var err error
		if q.pf != nil {
			then, err = q.pf.receive(br, then)
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			_ = br.Close()
			return nil, t.fail(q.op, q.b, err)
		}
	}
	// Queued after the loop: t.pending shares pending's array.
	t.Prefetch(then...)
	return br, nil
}

// close closes the results of a pipeline.
func (t *pgTx) close(br pgx.BatchResults) error {
	if err := br.Close(); err != nil {
		return connErr(t.c, err)
	}
	return nil
}

// exec runs q (after what is waiting) and returns its command tag.
func (t *pgTx) exec(q queued) (pgconn.CommandTag, error) {
	if t.begin == "" && len(t.pending) == 0 {
		tag, err := t.c.Exec(t.ctx, q.sql, q.args...)
		if err != nil {
			return tag, t.fail(q.op, q.b, err)
		}
		return tag, nil
	}
	br, err := t.send(&q)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if err != nil {
		_ = br.Close()
		return tag, t.fail(q.op, q.b, err)
	}
	return tag, t.close(br)
}

// query runs q (after what is waiting) and calls each for each row of its result, read to
// the end before query returns.
func (t *pgTx) query(q queued, each func(rows pgx.Rows) error) error {
	var (
		br   pgx.BatchResults
		rows pgx.Rows
		err  error
	)
	if t.begin == "" && len(t.pending) == 0 {
		rows, err = t.c.Query(t.ctx, q.sql, q.args...)
	} else if br, err = t.send(&q); err == nil {
		rows, err = br.Query()
	}
	if err == nil {
		for err == nil && rows.Next() {
			err = each(rows)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if br != nil {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return t.fail(q.op, q.b, err)
	}
	return nil
}

// errCommitRollback is the answer to a COMMIT of a transaction a statement had failed in.
var errCommitRollback = errors.New("the transaction had failed: COMMIT rolled it back")

// commit sends what is waiting with COMMIT. A transaction that sent nothing has nothing on
// the server to commit.
func (t *pgTx) commit() error {
	t.trimAhead()
	if t.begin != "" && len(t.pending) == 0 {
		return nil
	}
	tag, err := t.exec(queued{op: "committing", sql: "commit"})
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return errCommitRollback
	}
	return nil
}
