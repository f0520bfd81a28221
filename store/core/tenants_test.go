package core_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
)

func TestDeleteTenantRetiresItsDevices(t *testing.T) {
	// store.Tenants.DeleteTenant keeps the tenant's device records, every one retired: a
	// device left unenrolled is retired by the deletion (its certificate stays revoked);
	// another tenant's device is untouched.
	s := openBolt(t)
	ctx := t.Context()
	for _, tn := range []string{"t1", "t2"} {
		if err := s.CreateTenant(ctx, store.Tenant{ID: tn, VerifiedDomains: []string{tn + ".example"}}); err != nil {
			t.Fatal(err)
		}
	}
	states := map[string]string{"d-unenrolled": store.DeviceUnenrolled, "d-retired": store.DeviceRetired, "d-other": store.DeviceUnenrolled}
	for id, state := range states {
		tn := "t1"
		if id == "d-other" {
			tn = "t2"
		}
		d := store.Device{ID: id, TenantID: tn, State: store.DeviceEnrolled, CertSerial: "0A" + fmt.Sprint(len(id))}
		if _, err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateDevice(ctx, id, func(d *store.Device) error { d.State = state; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteTenant(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"d-unenrolled": store.DeviceRetired, "d-retired": store.DeviceRetired, "d-other": store.DeviceUnenrolled} {
		d, err := s.Device(ctx, id)
		if err != nil || d.State != want {
			t.Fatalf("device %s after the delete: %q, %v; want %s", id, d.State, err, want)
		}
		if revoked, err := s.CertRevoked(ctx, d.CertSerial); err != nil || !revoked {
			t.Fatalf("device %s's certificate: revoked %v, %v", id, revoked, err)
		}
	}
}

// testDirReplicas runs the rules of the dir area that concurrent writers must keep, with the
// writers spread over a and b: two servers on one database (PostgreSQL), or the same store
// twice (bbolt, one process).
func testDirReplicas(t *testing.T, a, b *core.Store) {
	stores := []*core.Store{a, b, a, b}
	t.Run("ClaimsOneWinner", func(t *testing.T) { claimsOneWinner(t, stores) })
	t.Run("DeleteTenantRacingEnrollment", func(t *testing.T) { deleteRacingEnrollment(t, stores) })
}

func TestDirReplicasBolt(t *testing.T) {
	s := openBolt(t)
	testDirReplicas(t, s, s)
}

// TestDirReplicasPostgres runs them with two servers on one PostgreSQL database.
func TestDirReplicasPostgres(t *testing.T) {
	dsn, key := testpg.Schema(t), testpg.Key(t)
	testDirReplicas(t, openPostgres(t, dsn, key), openPostgres(t, dsn, key))
}

// Tenants claiming one domain, users claiming one UPN and tokens one hash, all at once:
// exactly one of each wins, the others get ErrExists and store nothing.
func claimsOneWinner(t *testing.T, stores []*core.Store) {
	ctx := t.Context()
	n := len(stores)
	run := func(what string, create func(s *core.Store, i int) error, exists func(i int) bool) {
		t.Helper()
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = create(s, i) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if !exists(i) {
					t.Fatalf("%s %d won but is not stored", what, i)
				}
			case errors.Is(err, store.ErrExists):
				if exists(i) {
					t.Fatalf("%s %d lost (%v) but is stored", what, i, err)
				}
			default:
				t.Fatalf("%s %d: %v", what, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d %ss won, want 1", won, what)
		}
	}
	s := stores[0]
	run("tenant", func(s *core.Store, i int) error {
		return s.CreateTenant(ctx, store.Tenant{ID: fmt.Sprint("t", i), VerifiedDomains: []string{fmt.Sprint("own", i, ".example"), "Shared.example"}})
	}, func(i int) bool { _, err := s.Tenant(ctx, fmt.Sprint("t", i)); return err == nil })
	run("user", func(s *core.Store, i int) error {
		return s.CreateUser(ctx, store.User{TenantID: "t", ID: fmt.Sprint("u", i), UPN: "Alice@x.example", CreatedAt: time.Now()})
	}, func(i int) bool { _, err := s.User(ctx, "t", fmt.Sprint("u", i)); return err == nil })
	run("token", func(s *core.Store, i int) error {
		return s.CreateToken(ctx, store.AdminToken{ID: fmt.Sprint("tok", i), Hash: "AB12", Role: store.RoleAdmin})
	}, func(i int) bool {
		ts, err := s.ListTokens(ctx)
		return err == nil && len(ts) == 1 && ts[0].ID == fmt.Sprint("tok", i)
	})
	// The losers left no index entry behind: their own domains are free.
	winner, err := s.TenantByDomain(ctx, "shared.example")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if tn, err := s.TenantByDomain(ctx, fmt.Sprint("own", i, ".example")); err == nil && tn.ID != winner.ID {
			t.Fatalf("own%d.example belongs to %s, shared.example to %s", i, tn.ID, winner.ID)
		}
	}
}

// An enrollment racing the deletion of its tenant, as the server runs it (register, then
// retire the device when the tenant is gone): either the deletion sees the device enrolled
// and is refused, or the device ends retired. No device stays enrolled in a deleted tenant.
func deleteRacingEnrollment(t *testing.T, stores []*core.Store) {
	ctx := t.Context()
	for round := range 20 {
		tn, id := fmt.Sprint("race", round), fmt.Sprint("d-race", round)
		enroll, del := stores[round%len(stores)], stores[(round+1)%len(stores)]
		if err := del.CreateTenant(ctx, store.Tenant{ID: tn}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := enroll.RegisterDevice(ctx, store.Device{ID: id, TenantID: tn, State: store.DeviceEnrolled, CertSerial: fmt.Sprintf("0B%02d", round)})
			if err != nil {
				t.Errorf("RegisterDevice: %v", err)
				return
			}
			if _, err := enroll.Tenant(ctx, tn); errors.Is(err, store.ErrNotFound) {
				err = enroll.UpdateDevice(ctx, id, func(d *store.Device) error { d.State = store.DeviceRetired; return nil })
				if err != nil {
					t.Errorf("retiring: %v", err)
				}
			}
		})
		wg.Go(func() {
			if _, err := del.DeleteTenant(ctx, tn); err != nil && !errors.Is(err, store.ErrConflict) {
				t.Errorf("DeleteTenant: %v", err)
			}
		})
		wg.Wait()
		if _, err := del.Tenant(ctx, tn); !errors.Is(err, store.ErrNotFound) {
			continue
		}
		if d, err := del.Device(ctx, id); err != nil || d.State != store.DeviceRetired {
			t.Fatalf("round %d: the deleted tenant's device: %q, %v; want retired", round, d.State, err)
		}
	}
}
