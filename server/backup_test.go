package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// GET /api/v1/backup streams a consistent bbolt copy while writes go on; restoring it (stop,
// replace hellomdm.db, start) brings back exactly the state at the backup.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, omadm.Config{})
	get := func(token string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, ts.base+"/api/v1/backup", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return ts.admin.Do(req)
	}
	if ts.pg.DSN != "" {
		resp, err := get(testToken)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Fatalf("backup on PostgreSQL: %d, want 501 (pg_dump)", resp.StatusCode)
		}
		return
	}
	var reader wire.CreatedToken
	ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "before backup", Role: "reader"}, &reader)
	if resp, err := get(reader.Secret); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a reader token downloads the backup: %v %v", resp, err)
	}
	ts.enroll("B5B954E81FBCB94EB79BD08BE625F4EE")

	// Writes go on while the copy streams.
	var wg sync.WaitGroup
	stopWriting := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stopWriting:
				return
			default:
			}
			_ = ts.app.Store.PutConfig(context.Background(), "backup-test-"+strconv.Itoa(i), []byte("x"))
		}
	})
	resp, err := get(testToken)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, resp.Body)
	resp.Body.Close()
	f.Close()
	close(stopWriting)
	wg.Wait()
	if err != nil || resp.StatusCode != http.StatusOK || n != resp.ContentLength || n == 0 {
		t.Fatalf("backup: %d, %d bytes of %d, %v", resp.StatusCode, n, resp.ContentLength, err)
	}
	var after wire.CreatedToken
	ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "after backup", Role: "reader"}, &after)

	// Restore: stop, put the copy in place of the database, start.
	ts.stop()
	raw, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DatabaseFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ts.start()
	if _, err := ts.app.Store.Device(context.Background(), "B5B954E81FBCB94EB79BD08BE625F4EE"); err != nil {
		t.Errorf("the device enrolled before the backup is gone after restore: %v", err)
	}
	if _, err := ts.app.Store.TokenByHash(context.Background(), adminapi.HashToken(reader.Secret)); err != nil {
		t.Errorf("the token made before the backup is gone after restore: %v", err)
	}
	if _, err := ts.app.Store.TokenByHash(context.Background(), adminapi.HashToken(after.Secret)); err == nil {
		t.Errorf("the token made after the backup survived the restore")
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}
