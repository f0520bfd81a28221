package bolt

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A commit the file system refuses (as bbolt reports it: an *fs.PathError around the errno,
// or the text of a failed growth of the file) is store.ErrUnavailable, for Update and Batch
// alike, and leaves nothing; other failures are not. An error of fn itself comes back as it
// is, whatever it carries.
func TestKVCommitFailuresUnavailable(t *testing.T) {
	k, err := OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := t.Context()
	if err := k.EnsureBuckets(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"ENOSPC no space left on device", syscall.ENOSPC, true},
		{"EDQUOT disk quota exceeded", syscall.EDQUOT, true},
		{"EFBIG file too large", syscall.EFBIG, true},
		{"EROFS read-only file system", syscall.EROFS, true},
		{"EIO input/output error", syscall.EIO, true},
		{"ENOMEM cannot allocate memory", syscall.ENOMEM, true},
		{"file resize error", errors.New("file resize error: truncate hellomdm.db: file too large"), true},
		{"EINVAL is a bug, not an outage", syscall.EINVAL, false},
		{"a plain error", errors.New("boom"), false},
	}
	write := func(tx kv.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			injected := &fs.PathError{Op: "write", Path: k.Path(), Err: tc.err}
			for kind, through := range map[string]func(func(*bbolt.Tx) error) error{"update": k.db.Update, "batch": k.batch.do} {
				// The transaction function of bbolt whose commit fails: fn ran and wrote,
				// bbolt rolls back and reports the file system's error.
				failing := func(fn func(*bbolt.Tx) error) error {
					return through(func(tx *bbolt.Tx) error {
						if err := fn(tx); err != nil {
							return err
						}
						return injected
					})
				}
				err := k.run(failing, write)
				if !errors.Is(err, tc.err) {
					t.Fatalf("%s: %v does not carry the injected %v", kind, err, tc.err)
				}
				if got := errors.Is(err, store.ErrUnavailable); got != tc.unavailable {
					t.Fatalf("%s: %v: ErrUnavailable %v, want %v", kind, err, got, tc.unavailable)
				}
				err = k.run(through, func(kv.Tx) error { return injected })
				if err != injected {
					t.Fatalf("%s: fn's own error came back as %v", kind, err)
				}
			}
			err := k.View(ctx, func(tx kv.Tx) error {
				if v, err := tx.Get("b", []byte("k")); v != nil || err != nil {
					t.Errorf("the refused write: %q %v, want nothing", v, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
