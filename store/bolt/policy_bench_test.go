package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// BenchmarkAssign100kGroup assigns a profile to a group of 100,000 devices through the store.
// The work must not grow with the group: it writes the assignment record and the tenant's
// policy version, nothing per device. pages/op is the bbolt pages written per assignment.
func BenchmarkAssign100kGroup(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const tenant = "t1"
	if err := db.CreateTenant(ctx, store.Tenant{ID: tenant, AuthPolicy: store.AuthOnPremise}); err != nil {
		b.Fatal(err)
	}
	if err := db.CreateGroup(ctx, store.Group{TenantID: tenant, ID: "all-pcs", DisplayName: "All PCs"}); err != nil {
		b.Fatal(err)
	}
	// Bulk load: 100,000 devices and their memberships in a few transactions.
	const n, chunk = 100000, 20000
	for start := 0; start < n; start += chunk {
		var members []store.Member
		err := db.db.Update(func(tx *bbolt.Tx) error {
			for i := start; i < start+chunk; i++ {
				id := fmt.Sprintf("dev-%06d", i)
				dev := store.Device{ID: id, TenantID: tenant, State: store.DeviceEnrolled, CertSerial: fmt.Sprintf("%06X", i)}
				if err := writeDevice(tx, nil, dev, db.now()); err != nil {
					return err
				}
				members = append(members, store.Member{Kind: store.MemberDevice, ID: id})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.AddMembers(ctx, tenant, "all-pcs", members...); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.CreateProfile(ctx, store.Profile{TenantID: tenant, ID: "pin-recovery", Name: "PIN recovery"}); err != nil {
		b.Fatal(err)
	}
	v0, _ := db.PolicyVersion(ctx, tenant)
	st0 := db.db.Stats()
	w0 := st0.TxStats.GetWrite()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := db.SetAssignments(ctx, tenant, "pin-recovery", []store.Assignment{{Target: store.TargetGroup, GroupID: "all-pcs"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	v1, _ := db.PolicyVersion(ctx, tenant)
	ops := v1 - v0
	st1 := db.db.Stats()
	b.ReportMetric(float64(st1.TxStats.GetWrite()-w0)/float64(ops), "pages/op")
}
