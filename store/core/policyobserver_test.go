package core_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

type policyRecorder struct {
	mu      sync.Mutex
	tenants []string
}

func (r *policyRecorder) PolicyChanged(t string) {
	r.mu.Lock()
	r.tenants = append(r.tenants, t)
	r.mu.Unlock()
}

func (r *policyRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.tenants
	r.tenants = nil
	return out
}

// TestPolicyObserver: every committed policy write reports its tenant once, after the
// commit; a write that changes no policy, and one that rolls back, report nothing.
func TestPolicyObserver(t *testing.T) {
	s := openBolt(t)
	ctx := context.Background()
	rec := &policyRecorder{}
	s.SetPolicyObserver(rec)
	for _, id := range []string{"t1", "t2"} {
		if err := s.CreateTenant(ctx, store.Tenant{ID: id, DisplayName: id, VerifiedDomains: []string{id + ".example"}, AuthPolicy: store.AuthOnPremise}); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("creating tenants reported %v", got)
	}
	if err := s.CreateGroup(ctx, store.Group{ID: "g1", TenantID: "t1", DisplayName: "G"}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("a group creation reported %v, want [t1]", got)
	}
	boom := errors.New("boom")
	err := s.Write(ctx, func(w store.Writer) error {
		if _, err := w.CreateGroup(store.Group{ID: "g2", TenantID: "t2", DisplayName: "G2"}); err != nil {
			return err
		}
		if _, err := w.CreateGroup(store.Group{ID: "g3", TenantID: "t2", DisplayName: "G3"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("a rolled-back write reported %v", got)
	}
	err = s.Write(ctx, func(w store.Writer) error {
		for _, g := range []store.Group{{ID: "g2", TenantID: "t2", DisplayName: "G2"}, {ID: "g3", TenantID: "t2", DisplayName: "G3"}, {ID: "g4", TenantID: "t1", DisplayName: "G4"}} {
			if _, err := w.CreateGroup(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"t2", "t1"}) {
		t.Fatalf("one write of three groups in two tenants reported %v, want [t2 t1] (each tenant once)", got)
	}
}

// TestNotifierPostgres: a notification reaches a listener of another store on the same
// schema, and not one on another schema of the same database.
func TestNotifierPostgres(t *testing.T) {
	dsn := testpg.Schema(t)
	other := testpg.Schema(t)
	key := testpg.Key(t)
	a, b, c := openPostgres(t, dsn, key), openPostgres(t, dsn, key), openPostgres(t, other, key)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listen := func(s interface{ KV() kv.Backend }) (chan string, chan struct{}) {
		got, ready := make(chan string, 4), make(chan struct{}, 4)
		go s.KV().(kv.Notifier).Listen(ctx, "hm_test", func() { ready <- struct{}{} }, func(p string) { got <- p })
		return got, ready
	}
	gotB, readyB := listen(b)
	gotC, readyC := listen(c)
	<-readyB
	<-readyC
	if err := a.KV().(kv.Notifier).Notify(ctx, "hm_test", "wake t1 d1"); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-gotB:
		if p != "wake t1 d1" {
			t.Fatalf("payload %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification on the same schema")
	}
	// c is on another schema: a notification sent there arrives, the first one did not.
	if err := c.KV().(kv.Notifier).Notify(ctx, "hm_test", "other"); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-gotC:
		if p != "other" {
			t.Fatalf("the listener of another schema heard %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification on the other schema")
	}
}
