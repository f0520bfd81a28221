package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/hellomdm/hellomdm/store"
)

// Bucket names. Keys that combine an owner ID with something else start with the owner ID
// length-prefixed (see prefix), so one owner's keys never run into another's.
const (
	bTenants        = "tenants"        // tenant ID → Tenant JSON
	bTenantDomains  = "tenantDomains"  // lower-case domain → tenant ID
	bUsers          = "users"          // prefix(tenant)+user ID → User JSON
	bUserUPN        = "userUPN"        // prefix(tenant)+lower-case UPN → user ID
	bDevices        = "devices"        // device ID → Device JSON
	bDeviceTenant   = "deviceTenant"   // prefix(tenant)+device ID → nil
	bRevoked        = "revoked"        // upper-case serial → revocation JSON
	bCommands       = "commands"       // prefix(device)+seq → Command JSON
	bCmdIndex       = "cmdIndex"       // prefix(device)+command ID → seq
	bCmdSeq         = "cmdSeq"         // device ID → last assigned seq
	bOpen           = "open"           // prefix(device)+seq → nil, for every open command
	bSessions       = "sessions"       // prefix(device)+session ID → stamp(8) + Session JSON
	bAudit          = "audit"          // prefix(tenant)+seq → audit.Event JSON
	bAuditHead      = "auditHead"      // tenant ID → anchor (seq(8) + hash) of the last event
	bAuditAnchor    = "auditAnchor"    // tenant ID → anchor of the last dropped event
	bTokens         = "tokens"         // token hash → AdminToken JSON
	bTokenIDs       = "tokenIDs"       // token ID → token hash
	bConfig         = "config"         // key → value
	bSignInFailures = "signInFailures" // sign-in limit key → window end (8) + count (8)
	bSignInExpiry   = "signInExpiry"   // window end (8) + sign-in limit key → nil
	bRedeemed       = "redeemed"       // redemption ID → expiry (8) + holder
	bRedeemedExpiry = "redeemedExpiry" // expiry (8) + redemption ID → nil
	bIdempotency    = "idempotency"    // prefix(scope)+key → IdempotencyRecord JSON
	bIdemExpiry     = "idemExpiry"     // expiry (8) + record key → nil
)

func allBuckets() []string {
	return []string{
		bTenants, bTenantDomains, bUsers, bUserUPN, bDevices, bDeviceTenant, bRevoked,
		bCommands, bCmdIndex, bCmdSeq, bOpen, bSessions, bAudit, bAuditHead, bAuditAnchor,
		bTokens, bTokenIDs, bConfig, bSignInFailures, bSignInExpiry, bRedeemed, bRedeemedExpiry,
		bIdempotency, bIdemExpiry,
	}
}

// maxIDLen bounds every ID used in a key (tenant, user, device, command, session IDs).
const maxIDLen = store.MaxIDLen

// Defaults of Options.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxBatchDelay = 2 * time.Millisecond
	DefaultMaxBatchSize  = 1000
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives open/close and retention messages; discarded when nil.
	Logger *slog.Logger
	// Now is the clock used for timestamps the store sets (CreatedAt, UpdatedAt, revocation
	// times); time.Now when nil.
	Now func() time.Time
	// Timeout bounds the wait for the file lock held by another process; DefaultTimeout when 0.
	Timeout time.Duration
	// MaxBatchDelay is how long a check-in waits for others to share its commit (bbolt
	// DB.MaxBatchDelay); DefaultMaxBatchDelay when 0.
	MaxBatchDelay time.Duration
	// MaxBatchSize caps the check-ins grouped into one commit; DefaultMaxBatchSize when 0.
	MaxBatchSize int
}

// DB is a store.Store on one bbolt file.
type DB struct {
	db  *bbolt.DB
	log *slog.Logger
	now func() time.Time
	obs store.Observer // nil: nobody listens
}

var _ store.Store = (*DB)(nil)

// Open opens (creating when absent) the bbolt file at path with mode 0600 and fsync on
// every commit. A file locked by another process gives store.ErrUnavailable after
// Options.Timeout.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("opening bbolt store: empty path")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store.bolt")
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// A hashmap freelist allocates in O(1) on large files. The freelist is written with each
	// commit (unlike etcd's NoFreelistSync): without it, every open rebuilds the freelist by
	// reading the whole file, which touches every page of the mapping (a restart with 100,000
	// devices then started at 260 MB RSS instead of 38 MB) and grows with the file. Writing it
	// cost nothing measurable in the check-in load test (BENCHMARKS.md). A file written
	// without a freelist is scanned once and has one from the next commit on.
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, bberrors.ErrTimeout) {
			return nil, fmt.Errorf("opening bbolt store %s: %w: %w", path, store.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("opening bbolt store %s: %w", path, err)
	}
	bdb.NoSync = false
	bdb.MaxBatchDelay = opts.MaxBatchDelay
	if bdb.MaxBatchDelay <= 0 {
		bdb.MaxBatchDelay = DefaultMaxBatchDelay
	}
	bdb.MaxBatchSize = opts.MaxBatchSize
	if bdb.MaxBatchSize <= 0 {
		bdb.MaxBatchSize = DefaultMaxBatchSize
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("opening bbolt store %s: %w", path, err)
	}
	log.Debug("opened", "path", path)
	return &DB{db: bdb, log: log, now: now}, nil
}

// Backend returns "bbolt".
func (d *DB) Backend() string { return "bbolt" }

// Close waits for running transactions and closes the file.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("closing bbolt store: %w", err)
	}
	d.log.Debug("closed")
	return nil
}

// Path returns the file the store lives in.
func (d *DB) Path() string { return d.db.Path() }

// view runs fn in a read transaction, after checking ctx.
func (d *DB) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapErr(d.db.View(fn))
}

// update runs fn in a write transaction of its own, after checking ctx.
func (d *DB) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err := mapErr(d.db.Update(fn))
	d.observeTx(start, err)
	return err
}

// batch runs fn in a write transaction that may be shared with concurrent callers; fn may
// run more than once.
func (d *DB) batch(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err := mapErr(d.db.Batch(fn))
	d.observeTx(start, err)
	return err
}

// mapErr marks the errors that mean the store cannot take requests now as
// store.ErrUnavailable, so callers answer 503 and devices retry: the database closed or
// locked by another process (bbolt's lifecycle errors), and the file system refusing the
// write or the fsync of a commit: no space left (ENOSPC), the quota exhausted (EDQUOT), the
// file grown past the process's file size limit (EFBIG), a read-only file system (EROFS, as
// after an ext4 error remount), an I/O error (EIO) or no memory to map the grown file
// (ENOMEM). When the file has to grow for a commit, bbolt reports the failure as text
// ("file resize error: ...", the errno flattened with %s), so those messages, and its own
// size cap (ErrMaxSizeReached), count too. bbolt rolls back a commit whose write fails, so
// none of them leaves half a transaction.
func mapErr(err error) error {
	switch {
	case err == nil, errors.Is(err, store.ErrUnavailable):
		return err
	case errors.Is(err, bberrors.ErrDatabaseNotOpen), errors.Is(err, bberrors.ErrTimeout), errors.Is(err, bberrors.ErrMaxSizeReached),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG),
		errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENOMEM),
		growFailed(err.Error()):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// growFailed reports the messages of bbolt's failures to grow the file for a commit
// (bbolt v1.5 db.allocate and db.grow), which carry no error value to test.
func growFailed(msg string) bool {
	for _, m := range []string{"file resize error: ", "file sync error: ", "mmap allocate error: ", "mlock/munlock error: "} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// checkID rejects IDs that cannot be keys.
func checkID(what, id string) error { return store.CheckID(what, id) }

// prefix returns the key prefix of an owner: its length (2 bytes, big-endian) and bytes,
// with room for extra bytes after it.
func prefix(owner string, extra int) []byte {
	k := make([]byte, 0, 2+len(owner)+extra)
	k = binary.BigEndian.AppendUint16(k, uint16(len(owner)))
	return append(k, owner...)
}

// subKey is prefix(owner) followed by sub.
func subKey(owner, sub string) []byte {
	return append(prefix(owner, len(sub)), sub...)
}

// seqKey is prefix(owner) followed by seq, big-endian, so keys sort in seq order.
func seqKey(owner string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefix(owner, 8), seq)
}

// hasPrefix reports whether k starts with p.
func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

func bucket(tx *bbolt.Tx, name string) *bbolt.Bucket { return tx.Bucket([]byte(name)) }

// getJSON decodes the value at key into v; store.ErrNotFound when absent.
func getJSON(b *bbolt.Bucket, key []byte, v any) error {
	raw := b.Get(key)
	if raw == nil {
		return store.ErrNotFound
	}
	return unmarshal(raw, v)
}

// jsonUnmarshal decodes a stored record with encoding/json (see unmarshal for the fast
// decoders of the check-in records).
func jsonUnmarshal(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	return nil
}

// putJSON encodes v at key.
func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	return b.Put(key, raw)
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// jsonAppend appends the JSON encoding of v to dst.
func jsonAppend(dst []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	return append(dst, raw...), nil
}
