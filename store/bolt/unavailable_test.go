package bolt_test

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// The file system refusing a write (as bbolt's commit reports it, an *fs.PathError around
// the errno) is store.ErrUnavailable, whichever transaction kind meets it, and the
// transaction leaves nothing; other errors are not.
func TestWriteFailuresUnavailable(t *testing.T) {
	cases := []struct {
		name        string
		errno       error
		unavailable bool
	}{
		{"ENOSPC no space left on device", syscall.ENOSPC, true},
		{"EDQUOT disk quota exceeded", syscall.EDQUOT, true},
		{"EFBIG file too large", syscall.EFBIG, true},
		{"EROFS read-only file system", syscall.EROFS, true},
		{"EIO input/output error", syscall.EIO, true},
		{"ENOMEM cannot allocate memory", syscall.ENOMEM, true},
		{"EINVAL is a bug, not an outage", syscall.EINVAL, false},
		{"a plain error", errors.New("boom"), false},
	}
	db := openTemp(t)
	defer db.Close()
	ctx := t.Context()
	if _, err := db.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", CertSerial: "01", State: store.DeviceEnrolled}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			injected := &fs.PathError{Op: "write", Path: db.Path(), Err: tc.errno}
			for _, w := range []struct {
				kind string
				run  func() error
			}{
				// UpdateDevice runs in a transaction of its own (bbolt Update).
				{"update", func() error {
					return db.UpdateDevice(ctx, "d1", func(d *store.Device) error {
						d.CertSerial = "02"
						return injected
					})
				}},
				// A check-in shares its commit with others (bbolt Batch).
				{"batch", func() error {
					return db.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
						if err := tx.PutSession(store.Session{SessionID: "s1"}); err != nil {
							return err
						}
						return injected
					})
				}},
			} {
				err := w.run()
				if !errors.Is(err, tc.errno) {
					t.Fatalf("%s: %v does not carry the injected %v", w.kind, err, tc.errno)
				}
				if got := errors.Is(err, store.ErrUnavailable); got != tc.unavailable {
					t.Fatalf("%s: %v: ErrUnavailable %v, want %v", w.kind, err, got, tc.unavailable)
				}
			}
			d, err := db.Device(ctx, "d1")
			if err != nil || d.CertSerial != "01" {
				t.Fatalf("device after the failed writes: %+v %v", d, err)
			}
			err = db.Checkin(ctx, "d1", func(tx store.DeviceTx) error { _, err := tx.Session("s1"); return err })
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("session of the failed check-in: %v, want ErrNotFound", err)
			}
		})
	}
}
