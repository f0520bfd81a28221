package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/kv"
)

// readCountingKV counts the reads of the transactions of View.
type readCountingKV struct {
	kv.Backend
	gets, getManys atomic.Int64
}

func (c *readCountingKV) View(ctx context.Context, fn func(kv.Tx) error) error {
	return c.Backend.View(ctx, func(tx kv.Tx) error { return fn(readCountingTx{tx, c}) })
}

type readCountingTx struct {
	kv.Tx
	c *readCountingKV
}

func (t readCountingTx) Get(b kv.Bucket, key []byte) ([]byte, error) {
	t.c.gets.Add(1)
	return t.Tx.Get(b, key)
}

func (t readCountingTx) GetMany(b kv.Bucket, keys [][]byte) ([][]byte, error) {
	t.c.getManys.Add(1)
	return t.Tx.GetMany(b, keys)
}

// ListDevices reads a tenant's devices from its index in chunks, one GetMany (one round trip
// on PostgreSQL) per chunk of 256, not one read per device, and returns them all in ID order
// across chunk boundaries.
func TestListDevicesInChunks(t *testing.T) {
	back, err := bolt.OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ck := &readCountingKV{Backend: back}
	s, err := core.New(t.Context(), ck, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const n = 2*256 + 37
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("d%04d", i))
	}
	register := func(tenant string, ids []string) {
		var wg sync.WaitGroup
		errs := make(chan error, len(ids))
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < len(ids); i += 8 {
					_, err := s.RegisterDevice(t.Context(), store.Device{ID: ids[i], TenantID: tenant, State: store.DeviceEnrolled})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	register("t1", want)
	register("t2", []string{"a", "zz"})
	ck.gets.Store(0)
	ck.getManys.Store(0)
	list, err := s.ListDevices(t.Context(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range list {
		if d.TenantID != "t1" {
			t.Fatalf("device %s of tenant %s listed for t1", d.ID, d.TenantID)
		}
		got = append(got, d.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListDevices returned %d devices, want %d in ID order", len(got), len(want))
	}
	if g, m := ck.gets.Load(), ck.getManys.Load(); g != 0 || m != 3 {
		t.Fatalf("ListDevices of %d devices read with %d Get and %d GetMany, want 0 and 3", n, g, m)
	}
}
