package bolt_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
	"github.com/hellomdm/hellomdm/store/kv/kvtest"
)

// openKV opens a KV on a fresh file.
func openKV(t testing.TB) *bolt.KV {
	t.Helper()
	k, err := bolt.OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("OpenKV: %v", err)
	}
	return k
}

func TestKVConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Backend { return openKV(t) })
}

// A file another process (here: another KV) holds open is store.ErrUnavailable after the
// timeout; a bad path is a plain error.
func TestKVOpenRefused(t *testing.T) {
	k := openKV(t)
	defer k.Close()
	_, err := bolt.OpenKV(k.Path(), bolt.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("second OpenKV: %v, want ErrUnavailable", err)
	}
	for _, path := range []string{"", filepath.Join(t.TempDir(), "missing", "hellomdm.db")} {
		if _, err := bolt.OpenKV(path, bolt.Options{}); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("OpenKV(%q): %v, want a plain error", path, err)
		}
	}
}

// Backup writes a complete bbolt file with the committed data, reports its size first,
// and fails with store.ErrUnavailable once the backend is closed.
func TestKVBackup(t *testing.T) {
	k := openKV(t)
	ctx := t.Context()
	if err := k.EnsureBuckets(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 100<<10)
	if err := k.Update(ctx, func(tx kv.Tx) error { return tx.Put("b", []byte("k"), value) }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var size int64 = -1
	n, err := k.Backup(ctx, &buf, func(s int64) {
		if buf.Len() != 0 {
			t.Error("size reported after the first byte")
		}
		size = s
	})
	if err != nil || n != int64(buf.Len()) || size != n {
		t.Fatalf("Backup: %d bytes written, %d in the buffer, size %d, %v", n, buf.Len(), size, err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := bolt.OpenKV(copyPath, bolt.Options{})
	if err != nil {
		t.Fatalf("opening the copy: %v", err)
	}
	defer restored.Close()
	err = restored.View(ctx, func(tx kv.Tx) error {
		v, err := tx.Get("b", []byte("k"))
		if !bytes.Equal(v, value) {
			t.Errorf("the copy holds %d bytes at k, want %d", len(v), len(value))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Backup(ctx, &buf, nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Backup after Close: %v, want ErrUnavailable", err)
	}
}
