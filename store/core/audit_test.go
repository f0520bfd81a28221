package core_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
)

// TestDropAuditSegments checks the audit.Retainer path: drop and retention event in one
// transaction, then audit.VerifyTenant through AuditReader.
func TestDropAuditSegments(t *testing.T) {
	db := openBolt(t)
	ctx := t.Context()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []*audit.Event
	for i := range 2*core.SegmentSize + 10 {
		evs = append(evs, &audit.Event{ID: fmt.Sprint("e", i), Time: base.Add(time.Duration(i) * time.Second),
			TenantID: "t1", Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice}})
	}
	if err := db.AppendAudit(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	cut := base.Add(time.Duration(core.SegmentSize+500) * time.Second)
	calls := 0
	anchor, err := db.DropAuditSegments(ctx, "t1", cut, func(dropped uint64, upTo audit.Anchor) (*audit.Event, error) {
		calls++
		if dropped != core.SegmentSize || upTo.Seq != core.SegmentSize {
			return nil, fmt.Errorf("record(%d, %+v)", dropped, upTo)
		}
		e, err := audit.RetentionEvent("t1", dropped, upTo, cut, audit.Actor{Type: audit.ActorSystem})
		e.ID, e.Time = "retention", cut
		return &e, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || anchor.Seq != core.SegmentSize || anchor.Hash != evs[core.SegmentSize-1].Hash {
		t.Fatalf("anchor %+v after %d record calls", anchor, calls)
	}
	rep, err := audit.VerifyTenant(ctx, db.AuditReader(), "t1")
	if err != nil {
		t.Fatalf("VerifyTenant: %v", err)
	}
	if want := uint64(core.SegmentSize + 10 + 1); rep.Checked != want {
		t.Fatalf("verified %d events, want %d", rep.Checked, want)
	}
	anchor2, err := db.DropAuditSegments(ctx, "t1", cut, func(uint64, audit.Anchor) (*audit.Event, error) {
		return nil, fmt.Errorf("record called with nothing to drop")
	})
	if err != nil || anchor2 != anchor {
		t.Fatalf("second DropAuditSegments: %+v, %v", anchor2, err)
	}
}

// TestAuditPagesFilled appends events one commit at a time for two tenants, as check-ins
// do, and checks the log's leaf pages end up nearly full: each chain only grows at its end,
// so half-full pages (bbolt's default split) would double the file's growth.
func TestAuditPagesFilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	b, err := bolt.OpenKV(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := core.New(t.Context(), b, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 { // concurrent appends share commits, as check-ins do
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 3000; i += 8 {
				ev := &audit.Event{ID: fmt.Sprint("e", i), Time: base.Add(time.Duration(i) * time.Second),
					TenantID: []string{"tenant-a", "tenant-b"}[i%2], Kind: audit.KindCommandSent, Actor: audit.Actor{Type: audit.ActorDevice, ID: "DEVICE"},
					Action: "send", Details: []byte(`{"target":"./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"}`)}
				if err := db.AppendAudit(t.Context(), ev); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.View(func(tx *bbolt.Tx) error {
		st := tx.Bucket([]byte("audit")).Stats()
		if st.KeyN != 3000 {
			return fmt.Errorf("audit bucket holds %d keys, want 3000", st.KeyN)
		}
		if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.7 {
			return fmt.Errorf("audit leaf pages %.0f%% full (%d of %d bytes), want at least 70%%", 100*fill, st.LeafInuse, st.LeafAlloc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testAuditReplicas appends to chains that do not exist yet from writers spread over a and
// b (two servers on one database, or the same bbolt store twice), each append touching two
// tenants in opposite orders: every append succeeds and every chain stays linear.
func testAuditReplicas(t *testing.T, a, b *core.Store) {
	stores := []*core.Store{a, b, a, b}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 3 {
		tenants := []string{fmt.Sprint("ta", round), fmt.Sprint("tb", round)}
		const each = 10
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				for j := range each {
					x, y := tenants[(i+j)%2], tenants[(i+j+1)%2]
					evs := []*audit.Event{
						{ID: fmt.Sprint(i, j, "x"), Time: base, TenantID: x, Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice}},
						{ID: fmt.Sprint(i, j, "y"), Time: base, TenantID: y, Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice}},
					}
					if err := s.AppendAudit(t.Context(), evs...); err != nil {
						t.Errorf("AppendAudit: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, tn := range tenants {
			rep, err := audit.VerifyTenant(t.Context(), a.AuditReader(), tn)
			if err != nil || rep.Checked != uint64(len(stores)*each) {
				t.Fatalf("round %d, tenant %s: verified %+v, %v; want %d events", round, tn, rep, err, len(stores)*each)
			}
		}
	}
}

func TestAuditReplicasBolt(t *testing.T) {
	s := openBolt(t)
	testAuditReplicas(t, s, s)
}

func TestAuditReplicasPostgres(t *testing.T) {
	dsn, key := testpg.Schema(t), testpg.Key(t)
	testAuditReplicas(t, openPostgres(t, dsn, key), openPostgres(t, dsn, key))
}
