package bolt

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"time"

	bberrors "go.etcd.io/bbolt/errors"

	"github.com/hellomdm/hellomdm/store"
)

// Defaults of Options.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxBatchDelay = 2 * time.Millisecond
	DefaultMaxBatchSize  = 1000
)

// Options configures OpenKV (and core.OpenBolt). The zero value is usable.
type Options struct {
	// Logger receives open/close, migration and retention messages; discarded when nil.
	Logger *slog.Logger
	// Now is the clock used for timestamps the store sets (CreatedAt, UpdatedAt, revocation
	// times); time.Now when nil. Only core.OpenBolt uses it (the store core stamps records).
	Now func() time.Time
	// Timeout bounds the wait for the file lock held by another process; DefaultTimeout when 0.
	Timeout time.Duration
	// MaxBatchDelay is how long the first check-in of a batch waits for others to share its
	// commit (calls that arrive while the commit before runs join it too: KV.Batch);
	// DefaultMaxBatchDelay when 0.
	MaxBatchDelay time.Duration
	// MaxBatchSize caps the check-ins grouped into one commit; DefaultMaxBatchSize when 0.
	MaxBatchSize int
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
