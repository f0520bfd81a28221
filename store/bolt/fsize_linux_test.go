//go:build linux

package bolt_test

import (
	"errors"
	"fmt"
	"github.com/hellomdm/hellomdm/store/core"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
)

// envFsizeChild makes the test binary run the child half of a file size test (inFsizeChild).
const envFsizeChild = "HELLOMDM_TEST_FSIZE_CHILD"

// A real refused write: the file may not grow past a limit (RLIMIT_FSIZE, which the kernel
// enforces like a full disk: the write or the growth fails, here with EFBIG). The commit
// that meets it fails with store.ErrUnavailable and leaves nothing, earlier commits stay,
// and the store still reads. The limit is set in a child process, so that it binds nothing
// else.
func TestFileFull(t *testing.T) {
	dir := inFsizeChild(t)
	if dir == "" {
		return
	}
	path := filepath.Join(dir, "hellomdm.db")
	db, err := core.OpenBolt(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	limit := limitFileSize(t, path)
	ctx := t.Context()
	value := []byte(strings.Repeat("x", 16<<10))
	var stored int
	for ; stored < 1000; stored++ {
		err = db.PutConfig(ctx, fmt.Sprintf("k%04d", stored), value)
		if err != nil {
			break
		}
	}
	if err == nil {
		t.Fatalf("the file never reached its %d-byte limit", limit)
	}
	// bbolt reports a failed growth of the file as text ("file resize error: ... file too
	// large"), a failed page write as the *fs.PathError around EFBIG.
	wantFileTooLarge(t, err)
	if stored == 0 {
		t.Fatal("no write succeeded before the limit")
	}
	if _, err := db.GetConfig(ctx, fmt.Sprintf("k%04d", stored)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused value: %v, want ErrNotFound", err)
	}
	for i := 0; i < stored; i++ {
		if v, err := db.GetConfig(ctx, fmt.Sprintf("k%04d", i)); err != nil || len(v) != len(value) {
			t.Fatalf("value %d committed before the limit: %d bytes, %v", i, len(v), err)
		}
	}
	t.Logf("%d commits before the limit; then: %v", stored, err)
}

// inFsizeChild runs the calling test again in a child process and returns "" when called in
// the parent; in the child it returns the directory for the test's file.
func inFsizeChild(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(envFsizeChild); dir != "" {
		return dir
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envFsizeChild+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return ""
}

// limitFileSize lets the file at path grow by 256 KiB more, no further (RLIMIT_FSIZE of the
// child process); the test skips when the limit cannot be set.
func limitFileSize(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	limit := uint64(st.Size()) + 256<<10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Skipf("setting RLIMIT_FSIZE: %v", err)
	}
	return limit
}

// wantFileTooLarge fails unless err is store.ErrUnavailable for EFBIG. bbolt reports a failed
// growth of the file as text ("file resize error: ... file too large"), a failed page write
// as the *fs.PathError around EFBIG.
func wantFileTooLarge(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, syscall.EFBIG) && !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("write past the limit: %v, want ErrUnavailable for EFBIG", err)
	}
}

// The same real refused write through the kv backend: the commit past the limit fails with
// store.ErrUnavailable, for Update and Batch, and leaves nothing; earlier commits stay.
func TestKVFileFull(t *testing.T) {
	dir := inFsizeChild(t)
	if dir == "" {
		return
	}
	path := filepath.Join(dir, "hellomdm.db")
	k, err := bolt.OpenKV(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := t.Context()
	if err := k.EnsureBuckets(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	limit := limitFileSize(t, path)
	value := []byte(strings.Repeat("x", 16<<10))
	var stored int
	for ; stored < 1000; stored++ {
		run := k.Update
		if stored%2 == 1 {
			run = k.Batch
		}
		err = run(ctx, func(tx kv.Tx) error { return tx.Put("b", fmt.Appendf(nil, "k%04d", stored), value) })
		if err != nil {
			break
		}
	}
	if err == nil || stored == 0 {
		t.Fatalf("%d commits and then %v: the file never reached its %d-byte limit after a first commit", stored, err, limit)
	}
	wantFileTooLarge(t, err)
	refused := err
	err = k.View(ctx, func(tx kv.Tx) error {
		for i := 0; i <= stored; i++ {
			v, err := tx.Get("b", fmt.Appendf(nil, "k%04d", i))
			if err != nil || i < stored && len(v) != len(value) || i == stored && v != nil {
				return fmt.Errorf("value %d of %d committed: %d bytes, %v", i, stored, len(v), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d commits before the limit; then: %v", stored, refused)
}
