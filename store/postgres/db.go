package postgres

import (
	"context"
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
