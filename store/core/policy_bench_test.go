package core

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
)

// countingKV counts the keys written (Put, Insert, Delete) through a backend.
type countingKV struct {
	kv.Backend
	writes atomic.Int64
}

func (c *countingKV) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return c.Backend.Update(ctx, func(tx kv.Tx) error { return fn(countingTx{tx, &c.writes}) })
}

func (c *countingKV) Batch(ctx context.Context, fn func(kv.Tx) error) error {
	return c.Backend.Batch(ctx, func(tx kv.Tx) error { return fn(countingTx{tx, &c.writes}) })
}

type countingTx struct {
	kv.Tx
	n *atomic.Int64
}

func (t countingTx) Put(b kv.Bucket, key, value []byte) error {
	t.n.Add(1)
	return t.Tx.Put(b, key, value)
}

func (t countingTx) Insert(b kv.Bucket, key, value []byte) error {
	t.n.Add(1)
	return t.Tx.Insert(b, key, value)
}

func (t countingTx) Delete(b kv.Bucket, key []byte) error {
	t.n.Add(1)
	return t.Tx.Delete(b, key)
}

// BenchmarkAssign100kGroup assigns a profile to a group of 100,000 devices through the store
// core on bbolt (the store/bolt benchmark of the same name, ported). The work must not grow
// with the group: it writes the assignment record and the tenant's policy version, nothing
// per device. writes/op is the keys written per assignment.
func BenchmarkAssign100kGroup(b *testing.B) {
	ctx := context.Background()
	back, err := bolt.OpenKV(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ck := &countingKV{Backend: back}
	s, err := New(ctx, ck, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const tenant = "t1"
	if err := s.CreateTenant(ctx, store.Tenant{ID: tenant, AuthPolicy: store.AuthOnPremise}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateGroup(ctx, store.Group{TenantID: tenant, ID: "all-pcs", DisplayName: "All PCs"}); err != nil {
		b.Fatal(err)
	}
	// Bulk load: 100,000 devices and their memberships in a few transactions.
	const n, chunk = 100000, 20000
	for start := 0; start < n; start += chunk {
		var members []store.Member
		err := s.update(ctx, func(w *wtx) error {
			members = members[:0]
			for i := start; i < start+chunk; i++ {
				id := fmt.Sprintf("dev-%06d", i)
				dev := store.Device{ID: id, TenantID: tenant, State: store.DeviceEnrolled, CertSerial: fmt.Sprintf("%06X", i)}
				if err := writeDevice(w, nil, dev); err != nil {
					return err
				}
				members = append(members, store.Member{Kind: store.MemberDevice, ID: id})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.AddMembers(ctx, tenant, "all-pcs", members...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.CreateProfile(ctx, store.Profile{TenantID: tenant, ID: "pin-recovery", Name: "PIN recovery"}); err != nil {
		b.Fatal(err)
	}
	v0, _ := s.PolicyVersion(ctx, tenant)
	w0 := ck.writes.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.SetAssignments(ctx, tenant, "pin-recovery", []store.Assignment{{Target: store.TargetGroup, GroupID: "all-pcs"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	v1, _ := s.PolicyVersion(ctx, tenant)
	ops := v1 - v0
	b.ReportMetric(float64(ck.writes.Load()-w0)/float64(ops), "writes/op")
}
