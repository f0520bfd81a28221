package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/storetest"
)

func openTemp(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if db.Backend() != "bbolt" {
		t.Fatalf("Backend() = %q", db.Backend())
	}
}

func TestLockedFileUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = bolt.Open(path, bolt.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("second Open: %v, want ErrUnavailable", err)
	}
}

func TestClosedUnavailable(t *testing.T) {
	db := openTemp(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Tenant(t.Context(), "t1"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Tenant after Close: %v, want ErrUnavailable", err)
	}
}

// TestDurability writes through every area, closes, reopens and reads it back.
func TestDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	ctx := t.Context()
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	steps := []error{
		db.CreateTenant(ctx, store.Tenant{ID: "t1", VerifiedDomains: []string{"contoso.com"}}),
		db.CreateUser(ctx, store.User{TenantID: "t1", ID: "u1", UPN: "a@contoso.com"}),
		db.CreateToken(ctx, store.AdminToken{ID: "k1", Hash: "ff"}),
		db.PutConfig(ctx, "ca.key", []byte("secret")),
	}
	_, err = db.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", CertSerial: "01"})
	steps = append(steps, err)
	_, err = db.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", CertSerial: "02"})
	steps = append(steps, err, db.Enqueue(ctx, store.Command{ID: "c1", DeviceID: "d1"}))
	ev := &audit.Event{ID: "e1", Time: now, TenantID: "t1", Kind: audit.KindEnrolled, Actor: audit.Actor{Type: audit.ActorDevice}}
	steps = append(steps, db.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		if err := tx.PutSession(store.Session{SessionID: "1", ClientMsgID: 3}); err != nil {
			return err
		}
		return tx.Audit(ev)
	}))
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checks := []struct {
		name string
		err  func() error
	}{
		{"tenant by domain", func() error { _, err := db.TenantByDomain(ctx, "CONTOSO.com"); return err }},
		{"user by upn", func() error { _, err := db.UserByUPN(ctx, "t1", "A@contoso.com"); return err }},
		{"token", func() error { _, err := db.TokenByHash(ctx, "ff"); return err }},
		{"config", func() error {
			v, err := db.GetConfig(ctx, "ca.key")
			if err == nil && string(v) != "secret" {
				err = fmt.Errorf("value %q", v)
			}
			return err
		}},
		{"device", func() error {
			d, err := db.Device(ctx, "d1")
			if err == nil && d.CertSerial != "02" {
				err = fmt.Errorf("serial %s", d.CertSerial)
			}
			return err
		}},
		{"revocation", func() error {
			r, err := db.CertRevoked(ctx, "01")
			if err == nil && !r {
				err = fmt.Errorf("serial 01 not revoked")
			}
			return err
		}},
		{"command", func() error { _, err := db.Command(ctx, "d1", "c1"); return err }},
		{"session and pending", func() error {
			return db.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
				s, err := tx.Session("1")
				if err == nil && s.ClientMsgID != 3 {
					err = fmt.Errorf("ClientMsgID %d", s.ClientMsgID)
				}
				if p, _ := tx.HasPending(); err == nil && !p {
					err = fmt.Errorf("no pending command")
				}
				return err
			})
		}},
		{"audit", func() error {
			var got []audit.Event
			err := db.AuditEvents(ctx, "t1", 0, func(e *audit.Event) (bool, error) { got = append(got, *e); return true, nil })
			if err == nil && (len(got) != 1 || got[0].Hash != ev.Hash || audit.ComputeHash(&got[0]) != ev.Hash) {
				err = fmt.Errorf("events %+v", got)
			}
			return err
		}},
	}
	for _, c := range checks {
		if err := c.err(); err != nil {
			t.Errorf("%s after reopen: %v", c.name, err)
		}
	}
}

// TestSessionEviction checks that a device keeps its MaxSessions most recent sessions.
func TestSessionEviction(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const n = bolt.MaxSessions + 4
	for i := range n {
		err := db.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
			return tx.PutSession(store.Session{SessionID: fmt.Sprint(i), UpdatedAt: base.Add(time.Duration(i) * time.Minute)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := db.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		for i := range n {
			_, err := tx.Session(fmt.Sprint(i))
			kept := i >= n-bolt.MaxSessions
			if kept != (err == nil) {
				return fmt.Errorf("session %d: kept=%v, err=%v", i, kept, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDropAuditSegments checks the audit.Retainer path: drop and retention event in one
// transaction, then audit.VerifyTenant through AuditReader.
func TestDropAuditSegments(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := t.Context()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []*audit.Event
	for i := range 2*bolt.SegmentSize + 10 {
		evs = append(evs, &audit.Event{ID: fmt.Sprint("e", i), Time: base.Add(time.Duration(i) * time.Second),
			TenantID: "t1", Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice}})
	}
	if err := db.AppendAudit(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	cut := base.Add(time.Duration(bolt.SegmentSize+500) * time.Second)
	calls := 0
	anchor, err := db.DropAuditSegments(ctx, "t1", cut, func(dropped uint64, upTo audit.Anchor) (*audit.Event, error) {
		calls++
		if dropped != bolt.SegmentSize || upTo.Seq != bolt.SegmentSize {
			return nil, fmt.Errorf("record(%d, %+v)", dropped, upTo)
		}
		e, err := audit.RetentionEvent("t1", dropped, upTo, cut, audit.Actor{Type: audit.ActorSystem})
		e.ID, e.Time = "retention", cut
		return &e, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || anchor.Seq != bolt.SegmentSize || anchor.Hash != evs[bolt.SegmentSize-1].Hash {
		t.Fatalf("anchor %+v after %d record calls", anchor, calls)
	}
	rep, err := audit.VerifyTenant(ctx, db.AuditReader(), "t1")
	if err != nil {
		t.Fatalf("VerifyTenant: %v", err)
	}
	if want := uint64(bolt.SegmentSize + 10 + 1); rep.Checked != want {
		t.Fatalf("verified %d events, want %d", rep.Checked, want)
	}
	anchor2, err := db.DropAuditSegments(ctx, "t1", cut, func(uint64, audit.Anchor) (*audit.Event, error) {
		return nil, fmt.Errorf("record called with nothing to drop")
	})
	if err != nil || anchor2 != anchor {
		t.Fatalf("second DropAuditSegments: %+v, %v", anchor2, err)
	}
}

// parallelism × GOMAXPROCS goroutines check in at once in BenchmarkCheckinParallel.
const parallelism = 128

func BenchmarkCheckinParallel(b *testing.B) {
	db := openTemp(b)
	defer db.Close()
	ctx := b.Context()
	const devices = 4096
	var wg sync.WaitGroup
	for i := range devices {
		wg.Go(func() {
			if _, err := db.RegisterDevice(ctx, store.Device{ID: fmt.Sprintf("dev-%04d", i), TenantID: "t1",
				CertSerial: fmt.Sprintf("%04X", i), Nodes: map[string]string{"./DevDetail/SwV": "10.0.26100.1"}}); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	var next atomic.Int64
	b.SetParallelism(parallelism) // many devices check in at once, as on a server
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("dev-%04d", next.Add(1)%devices)
			err := db.Checkin(ctx, id, func(tx store.DeviceTx) error {
				if _, err := tx.Device(); err != nil {
					return err
				}
				s, err := tx.Session("1")
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if _, err := tx.HasPending(); err != nil {
					return err
				}
				s.SessionID = "1"
				s.ClientMsgID++
				s.LastReply = make([]byte, 512)
				return tx.PutSession(s)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkins/s")
}

// TestAuditPagesFilled appends events one commit at a time for two tenants, as check-ins
// do, and checks the log's leaf pages end up nearly full: each chain only grows at its end,
// so half-full pages (bbolt's default split) would double the file's growth.
func TestAuditPagesFilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	db, err := bolt.Open(path, bolt.Options{})
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
