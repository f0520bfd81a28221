//go:build linux

package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
)

// envFsizeChild makes the test binary run the child half of TestFileFull.
const envFsizeChild = "HELLOMDM_TEST_FSIZE_CHILD"

// A real refused write: the file may not grow past a limit (RLIMIT_FSIZE, which the kernel
// enforces like a full disk: the write or the growth fails, here with EFBIG). The commit
// that meets it fails with store.ErrUnavailable and leaves nothing, earlier commits stay,
// and the store still reads. The limit is set in a child process, so that it binds nothing
// else.
func TestFileFull(t *testing.T) {
	dir := os.Getenv(envFsizeChild)
	if dir == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileFull$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), envFsizeChild+"="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestFileFull") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	path := filepath.Join(dir, "hellomdm.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	limit := uint64(st.Size()) + 256<<10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Skipf("setting RLIMIT_FSIZE: %v", err)
	}
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
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, syscall.EFBIG) && !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("write past the limit: %v, want ErrUnavailable for EFBIG", err)
	}
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
