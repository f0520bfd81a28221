package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
)

func openTemp(t testing.TB) *core.Store {
	t.Helper()
	db, err := core.OpenBolt(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	db, err := core.OpenBolt(path, bolt.Options{})
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
	db, err := core.OpenBolt(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = core.OpenBolt(path, bolt.Options{Timeout: 50 * time.Millisecond})
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
	db, err := core.OpenBolt(path, bolt.Options{})
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

	db, err = core.OpenBolt(path, bolt.Options{})
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
