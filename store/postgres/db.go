package postgres

import (
	"context"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hellomdm/hellomdm/store"
)

// Defaults of Options.
const (
	DefaultConnectTimeout = 5 * time.Second
	// DefaultMaxRetries is how often a transaction that lost a deadlock or serialization
	// check is run again.
	DefaultMaxRetries = 3
)

// maxIDLen bounds every ID used as a key, as in the bbolt backend.
const maxIDLen = store.MaxIDLen

// Options configures Open.
type Options struct {
	// EncryptionKey is the 32-byte AES-256-GCM key for config values under "tenant/",
	// "secret/" and "ca/". Required: Open refuses to run without it.
	EncryptionKey []byte
	// Logger receives open/close, migration and retention messages; discarded when nil.
	Logger *slog.Logger
	// Now is the clock for timestamps the store sets; time.Now when nil.
	Now func() time.Time
	// MaxConns bounds the connections to PostgreSQL; 4×GOMAXPROCS (at least 8) when 0.
	MaxConns int
	// ConnectTimeout bounds each dial when the DSN sets no connect_timeout;
	// DefaultConnectTimeout when 0.
	ConnectTimeout time.Duration
	// MaxRetries bounds the re-runs of a transaction that failed with a serialization failure
	// or deadlock (SQLSTATE 40001, 40P01); DefaultMaxRetries when 0, none when negative.
	MaxRetries int
}

// DB is a store.Store on a PostgreSQL database.
type DB struct {
	pool    *pool
	log     *slog.Logger
	now     func() time.Time
	aead    cipher.AEAD
	retries int
	obs     store.Observer // nil: nobody listens
}

var _ store.Store = (*DB)(nil)

// Open connects to the database named by dsn (a postgres:// URL or key=value string),
// applies pending schema migrations, and returns the store. It fails with a wrapped
// store.ErrUnavailable when the server cannot be reached, and refuses to start without a
// 32-byte EncryptionKey or on a schema newer than this binary knows.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	aead, err := newAEAD(opts.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	ps, err := newPoolSettings(dsn, opts)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	d := &DB{pool: newPool(ps.cfg, ps.maxConns), log: ps.log, now: now, aead: aead, retries: ps.retries}
	if err := d.migrate(ctx); err != nil {
		d.pool.close()
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	ps.log.Debug("opened", "host", ps.cfg.Host, "database", ps.cfg.Database)
	return d, nil
}

// poolSettings are the connection settings Open and OpenKV derive from the DSN and Options.
type poolSettings struct {
	cfg      *pgx.ConnConfig
	log      *slog.Logger
	maxConns int
	retries  int
}

// newPoolSettings parses dsn and applies the defaults of Options: the connect timeout (when
// the DSN sets none), application_name "hellomdm" (when the DSN sets none), the pool size and
// the retries.
func newPoolSettings(dsn string, opts Options) (poolSettings, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return poolSettings{}, fmt.Errorf("parsing DSN: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = opts.ConnectTimeout
		if cfg.ConnectTimeout <= 0 {
			cfg.ConnectTimeout = DefaultConnectTimeout
		}
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "hellomdm"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	return poolSettings{cfg: cfg, log: log.With("component", "store.postgres"), maxConns: maxConns, retries: retries}, nil
}

// Backend returns "postgres".
func (d *DB) Backend() string { return "postgres" }

// Close closes idle connections; connections in use close when their call returns. Calls
// after Close fail with store.ErrUnavailable.
func (d *DB) Close() error {
	d.pool.close()
	d.log.Debug("closed")
	return nil
}

// querier is what pgx.Conn and pgx.Tx share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// withConn runs fn on a pooled connection outside any explicit transaction.
func (d *DB) withConn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := d.pool.acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	err = fn(c)
	d.pool.release(c)
	return mapErr(err)
}

// txOptions says how a transaction runs.
type txOptions struct {
	retry    bool // re-run fn on 40001/40P01
	readOnly bool // REPEATABLE READ, READ ONLY: one snapshot for consistent multi-query reads
}

// tx runs fn in a READ COMMITTED transaction (or a read-only snapshot) and commits it. An
// error from fn rolls back and is returned with database errors mapped; with retry set, a
// serialization failure or deadlock runs fn again, up to the configured retries.
func (d *DB) tx(ctx context.Context, o txOptions, fn func(tx pgx.Tx) error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := d.tx1(ctx, o, fn)
		if o.retry && attempt < d.retries && retryable(err) {
			d.log.Debug("retrying transaction", "attempt", attempt+1, "err", err)
			continue
		}
		if !o.readOnly {
			d.observeTx(start, err)
		}
		return err
	}
}

func (d *DB) tx1(ctx context.Context, o txOptions, fn func(tx pgx.Tx) error) error {
	c, err := d.pool.acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer d.pool.release(c)
	txo := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if o.readOnly {
		txo = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	tx, err := c.BeginTx(ctx, txo)
	if err != nil {
		return connErr(c, err)
	}
	if err := fn(tx); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = tx.Rollback(rctx)
		cancel()
		return connErr(c, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return connErr(c, fmt.Errorf("committing: %w", err))
	}
	return nil
}

// connErr maps err, and marks it store.ErrUnavailable when the connection died with it.
func connErr(c *pgx.Conn, err error) error {
	err = mapErr(err)
	if c.IsClosed() && !errors.Is(err, store.ErrUnavailable) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// retryable reports a serialization failure or deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// mapErr turns database errors into the store's sentinels: a unique violation into
// store.ErrExists, lost or refused connections into store.ErrUnavailable.
func mapErr(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrExists) {
		return err
	}
	var (
		pe *pgconn.PgError
		ce *pgconn.ConnectError
		ne net.Error
	)
	switch {
	case errors.As(err, &ce):
		// Whatever stopped a new connection (55000 "database is not accepting
		// connections", 57P03 "the database system is starting up", 53300 "too many
		// connections", a refused login, the connect timeout): this replica cannot reach
		// its store now.
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &pe):
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %w", store.ErrExists, err)
		case unavailableCode(pe.Code):
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	case errors.Is(err, errPoolClosed), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), pgconn.SafeToRetry(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unavailableCode reports the SQLSTATEs (PostgreSQL manual, Appendix A "PostgreSQL Error
// Codes") that mean the database cannot take requests now rather than that a request is
// wrong: class 08 connection exceptions; class 53 insufficient resources (53100 disk full,
// 53200 out of memory, 53300 too many connections, 53400 configuration limit exceeded);
// 55000 object not in prerequisite state, which is how "database is not accepting
// connections" arrives; 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
// now, 57P05 idle session timeout; 25006 read-only SQL transaction (a standby, or a primary
// set read-only during a failover); 58030 I/O error (the server could not read or write
// its files).
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	}
	switch code {
	case "55000", "57P01", "57P02", "57P03", "57P05", "25006", "58030":
		return true
	}
	return false
}

// checkID rejects IDs that cannot be keys.
func checkID(what, id string) error { return store.CheckID(what, id) }

// encode returns the JSON of a record.
func encode(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	return raw, nil
}

// decode decodes a stored record.
func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	return nil
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
