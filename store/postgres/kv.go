package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store/kv"
)

// KV is a kv.Backend on a PostgreSQL database: each bucket is a table of its own,
// kv_<bucket in snake case> (k bytea PRIMARY KEY, v bytea NOT NULL), in the schema the
// connection's search_path names first. The prefix keeps its tables apart from the tables of
// DB, which may live in the same schema.
//
// View is a REPEATABLE READ READ ONLY transaction (one snapshot for every query in it),
// Update and Batch are READ COMMITTED; GetForUpdate is SELECT … FOR UPDATE, Insert is
// INSERT … ON CONFLICT DO NOTHING, a SkipLocked scan is FOR UPDATE SKIP LOCKED. Batch runs fn
// again (after a short random pause) when the transaction lost a deadlock or a serialization
// check (SQLSTATE 40P01, 40001), up to Options.MaxRetries times.
//
// Round trips: BEGIN goes with the first statement of a transaction; Get, GetForUpdate,
// GetMany and Insert take one each; Put and Delete none of their own (they go with the next
// statement that needs an answer, or with COMMIT, which takes one); a scan takes one per page
// of rows (16, 64, then 256). A View with one Get is 2, an Update that reads a record with
// GetForUpdate and writes it back is 2, a transaction that sends nothing is none. The first
// use of a statement on a connection adds one (pgx prepares it). Reads queued with Prefetch
// (kv.Prefetcher, kvprefetch.go) take none of their own: they go with the next statement and
// answer the reads they cover, so a check-in reads its device's lock, session and open set in
// the round trip of its BEGIN.
//
// Keys are at most kv.MaxKeyLen bytes, the longest a B-tree index entry of the k column takes
// whatever the bytes (kv.CheckKey refuses a longer one before it reaches the server).
type KV struct {
	pool    *pool
	log     *slog.Logger
	retries int
	tables  sync.Map     // kv.Bucket → *table
	schema  atomic.Value // string: the connections' current schema, read once (channelName)

	mu      sync.Mutex
	idle    *sync.Cond // signalled when running drops to 0
	running int        // transactions under way
	closed  bool
}

var _ kv.Backend = (*KV)(nil)

// OpenKV connects to the database named by dsn (a postgres:// URL or key=value string) with
// the pool settings of opts (EncryptionKey and Now are not used: the store core seals and
// stamps). It fails with a wrapped store.ErrUnavailable when the server cannot be reached.
func OpenKV(ctx context.Context, dsn string, opts Options) (*KV, error) {
	ps, err := newPoolSettings(dsn, opts)
	if err != nil {
		return nil, fmt.Errorf("opening postgres kv store: %w", err)
	}
	return openKV(ctx, ps)
}

// openKV opens the KV with the settings of OpenKV.
func openKV(ctx context.Context, ps poolSettings) (*KV, error) {
	k := &KV{pool: newPool(ps.cfg, ps.maxConns), log: ps.log, retries: ps.retries}
	k.idle = sync.NewCond(&k.mu)
	c, err := k.pool.acquire(ctx)
	if err != nil {
		k.pool.close()
		return nil, fmt.Errorf("opening postgres kv store: %w", mapErr(err))
	}
	k.pool.release(c)
	ps.log.Debug("opened kv", "host", ps.cfg.Host, "database", ps.cfg.Database)
	return k, nil
}

// Name returns "postgres".
func (k *KV) Name() string { return "postgres" }

// Close waits for the running transactions and closes the connections. Calls after Close
// fail with store.ErrUnavailable; closing again does nothing.
func (k *KV) Close() error {
	k.mu.Lock()
	k.closed = true
	for k.running > 0 {
		k.idle.Wait()
	}
	k.mu.Unlock()
	k.pool.close()
	k.log.Debug("closed kv")
	return nil
}

// enter counts a transaction in, unless the backend is closed.
func (k *KV) enter() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return mapErr(errPoolClosed)
	}
	k.running++
	return nil
}

// leave counts a transaction out.
func (k *KV) leave() {
	k.mu.Lock()
	k.running--
	if k.running == 0 {
		k.idle.Broadcast()
	}
	k.mu.Unlock()
}

// ensureLock is the key of the transaction-scoped advisory lock EnsureBuckets holds, one per
// schema: replicas starting together create each table once instead of failing on a race in
// the catalog.
const ensureLock = `hashtextextended('hellomdm.kv.' || coalesce(current_schema(), ''), 0)`

// EnsureBuckets creates the tables of the buckets that have none yet, in one transaction
// under an advisory lock; existing tables keep their rows. A bucket name that cannot name a
// table (see table) is refused and nothing is created.
func (k *KV) EnsureBuckets(ctx context.Context, buckets ...kv.Bucket) error {
	stmts := []string{`BEGIN`, `SELECT pg_advisory_xact_lock(` + ensureLock + `)`}
	for _, b := range buckets {
		t, err := k.table(b)
		if err != nil {
			return fmt.Errorf("creating buckets: %w", err)
		}
		stmts = append(stmts, t.create)
	}
	stmts = append(stmts, `COMMIT`)
	return k.withConn(ctx, func(c *pgx.Conn) error {
		// No arguments: one simple-protocol round trip for every statement.
		if _, err := c.Exec(ctx, strings.Join(stmts, ";\n")); err != nil {
			rollback(ctx, c)
			return connErr(c, fmt.Errorf("creating buckets: %w", err))
		}
		return nil
	})
}

// View runs fn in a REPEATABLE READ READ ONLY transaction.
func (k *KV) View(ctx context.Context, fn func(kv.Tx) error) error {
	return k.run(ctx, false, fn)
}

// Update runs fn once in a READ COMMITTED transaction.
func (k *KV) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return k.run(ctx, true, fn)
}

// Batch is Update, run again in a fresh transaction when it lost a deadlock or a
// serialization check, after a random pause that grows with each attempt.
func (k *KV) Batch(ctx context.Context, fn func(kv.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := k.run(ctx, true, fn)
		if attempt >= k.retries || !retryable(err) {
			return err
		}
		k.log.Debug("retrying transaction", "attempt", attempt+1, "err", err)
		pause := time.Millisecond + rand.N(5*time.Millisecond<<attempt)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// run runs fn in a transaction on a pooled connection and commits it when fn returns nil;
// otherwise it rolls back and returns fn's error as it is. Its own failures (no connection,
// COMMIT) are mapped: store.ErrUnavailable when the server cannot be reached.
func (k *KV) run(ctx context.Context, writable bool, fn func(kv.Tx) error) error {
	return k.withConn(ctx, func(c *pgx.Conn) error {
		t := newTx(k, c, ctx, writable)
		if err := fn(t); err != nil {
			rollback(ctx, c)
			return err
		}
		if err := t.commit(); err != nil {
			rollback(ctx, c)
			return err
		}
		return nil
	})
}

// withConn runs fn on a pooled connection, counted as a running transaction (see Close).
func (k *KV) withConn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := k.enter(); err != nil {
		return err
	}
	defer k.leave()
	c, err := k.pool.acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer k.pool.release(c)
	return fn(c)
}

// rollback ends the transaction open on c, if any (a failed one included), even when ctx
// is done; a connection it cannot bring back to idle is closed by the pool.
func rollback(ctx context.Context, c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_, _ = c.Exec(rctx, "rollback")
	cancel()
}
