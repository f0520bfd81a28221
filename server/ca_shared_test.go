package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/internal/testpki"
)

// Replicas starting at once over one PostgreSQL store agree on one CA, kept in the store (its
// key encrypted there, not in the data directories); each still writes DATA/ca.pem; a device
// certificate issued by one replica verifies on the others; a restart keeps the CA.
func TestSharedCA(t *testing.T) {
	pg := testpg.NewStore(t)
	const replicas = 3
	apps := make([]*App, replicas)
	dirs := make([]string, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		dirs[i] = t.TempDir()
		wg.Go(func() {
			apps[i], errs[i] = Open(context.Background(), Options{DataDir: dirs[i], Addr: "127.0.0.1:0", Hostname: "localhost", OpenStore: pg.Open}, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	closeAll := func() {
		for _, a := range apps {
			a.listener.Close()
			a.Store.Close()
		}
	}
	want := apps[0].CA.CertPEM()
	for i, a := range apps {
		if !bytes.Equal(a.CA.CertPEM(), want) {
			t.Errorf("replica %d has another CA", i)
		}
		if got, err := os.ReadFile(filepath.Join(dirs[i], CAFile)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("replica %d: %s is not the shared CA (%v)", i, CAFile, err)
		}
		if _, err := os.Stat(filepath.Join(dirs[i], CAKeyFile)); !os.IsNotExist(err) {
			t.Errorf("replica %d wrote the CA key to its data directory (%v)", i, err)
		}
	}
	key := testpki.Key(t)
	cert, err := apps[1].CA.IssueDevice(ca.DeviceCertRequest{PublicKey: &key.PublicKey, DeviceID: "D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1", NotBefore: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := apps[2].CA.VerifyDevice(cert, time.Now()); err != nil || id != "D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1" {
		t.Errorf("replica 2 refused replica 1's device certificate: %q %v", id, err)
	}
	closeAll()

	again, err := Open(context.Background(), Options{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Hostname: "localhost", OpenStore: pg.Open}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { again.listener.Close(); again.Store.Close() }()
	if !bytes.Equal(again.CA.CertPEM(), want) {
		t.Error("a new replica made another CA")
	}
}

// A data directory that already holds a CA (a PostgreSQL deployment from before the CA moved
// into the store) seeds the store with it, so its enrolled devices keep working.
func TestSharedCASeededFromDataDir(t *testing.T) {
	pg := testpg.NewStore(t)
	dir := t.TempDir()
	old, err := loadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	app, err := Open(context.Background(), Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", OpenStore: pg.Open}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { app.listener.Close(); app.Store.Close() }()
	if !bytes.Equal(app.CA.CertPEM(), old.CertPEM()) {
		t.Fatal("the data directory's CA was not the one stored")
	}
	if stored, err := app.Store.GetConfig(context.Background(), ConfigCACert); err != nil || !bytes.Equal(stored, old.CertPEM()) {
		t.Fatalf("%s in the store: %v", ConfigCACert, err)
	}
}
