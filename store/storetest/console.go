package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// testConsoleSessions: the web console's sessions are created once, found while live (idle
// and absolute end), moved forward by use, ended by sign-out, and pruned after their end.
func testConsoleSessions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	sess := func(id string, at time.Time) store.ConsoleSession {
		return store.ConsoleSession{ID: id, Kind: store.ConsoleUser, TenantID: "t1", UserID: "u1", UPN: "ada@contoso.com", CSRF: "c-" + id,
			CreatedAt: at, LastSeenAt: at, IdleExpiresAt: at.Add(30 * time.Minute), ExpiresAt: at.Add(8 * time.Hour)}
	}
	a := sess("sess-a", t0)
	if err := s.CreateConsoleSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConsoleSession(ctx, a); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create of one ID: %v, want ErrExists", err)
	}
	got, err := s.ConsoleSession(ctx, a.ID, t0.Add(time.Minute))
	if err != nil || got.UPN != a.UPN || got.CSRF != a.CSRF || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("ConsoleSession = %+v, %v", got, err)
	}
	// Idle for 30 minutes: over. Used at 20 minutes: lives to 50.
	if _, err := s.ConsoleSession(ctx, a.ID, t0.Add(30*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the idle end: %v, want ErrNotFound", err)
	}
	if err := s.TouchConsoleSession(ctx, a.ID, t0.Add(20*time.Minute), t0.Add(50*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ConsoleSession(ctx, a.ID, t0.Add(45*time.Minute)); err != nil || !got.LastSeenAt.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("after a touch: %+v, %v", got, err)
	}
	// The absolute end holds whatever the use.
	if err := s.TouchConsoleSession(ctx, a.ID, t0.Add(8*time.Hour), t0.Add(9*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch after the absolute end: %v, want ErrNotFound", err)
	}
	if err := s.DeleteConsoleSession(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsoleSession(ctx, a.ID, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after sign-out: %v, want ErrNotFound", err)
	}
	if err := s.DeleteConsoleSession(ctx, a.ID); err != nil {
		t.Fatalf("second sign-out: %v", err)
	}
	if err := s.TouchConsoleSession(ctx, a.ID, t0, t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch after sign-out: %v, want ErrNotFound", err)
	}
	for _, bad := range []store.ConsoleSession{{}, {ID: "x", CreatedAt: t0, ExpiresAt: t0}} {
		if err := s.CreateConsoleSession(ctx, bad); err == nil {
			t.Errorf("CreateConsoleSession(%+v) accepted", bad)
		}
	}
	// Sessions past their end are pruned as new ones are created: a later session's creation
	// removes old ones (checked through a fresh read: they are gone, not just expired).
	for i := range 3 {
		if err := s.CreateConsoleSession(ctx, sess(fmt.Sprintf("old-%d", i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateConsoleSession(ctx, sess("new", t0.Add(9*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConsoleSession(ctx, sess("old-0", t0.Add(9*time.Hour))); err != nil {
		t.Fatalf("the ID of a pruned session is free again: %v", err)
	}
}
