package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// testCheckinPrefetch checks that DeviceTx.Prefetch changes no answer (on a backend that
// reads ahead, PostgreSQL, the reads it queues answer later ones): a check-in of a device
// still waits for the one holding the device, and its reads see the transaction's own writes
// made after the prefetch (sessions, queue, open set), and evicting old sessions still keeps
// the newest store.MaxSessions.
func testCheckinPrefetch(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	for _, id := range []string{"pf-lock", "pf-own", "pf-evict"} {
		_, err := s.RegisterDevice(ctx, device("t1", id, "S-"+id))
		must(t, "RegisterDevice", err)
	}

	t.Run("waits for the device's lock", func(t *testing.T) { prefetchWaitsForLock(t, s) })
	t.Run("reads see the transaction's writes", func(t *testing.T) { prefetchSeesWrites(t, s) })
	t.Run("eviction keeps the newest sessions", func(t *testing.T) { prefetchEviction(t, s) })
}

func prefetchWaitsForLock(t *testing.T, s store.Store) {
	ctx := t.Context()
	started, first := make(chan struct{}), make(chan error, 1)
	go func() {
		first <- s.Checkin(ctx, "pf-lock", func(tx store.DeviceTx) error {
			tx.Prefetch(store.Prefetch{SessionID: "s1", Policy: true, TenantID: "t1"})
			if _, err := tx.Device(); err != nil {
				return err
			}
			select {
			case <-started:
			default:
				close(started)
			}
			time.Sleep(200 * time.Millisecond)
			if err := tx.PutSession(store.Session{SessionID: "s1", ClientMsgID: 1, StartedAt: t0}); err != nil {
				return err
			}
			return tx.Enqueue(command("pf-lock", "c-lock"))
		})
	}()
	<-started
	err := s.Checkin(ctx, "pf-lock", func(tx store.DeviceTx) error {
		tx.Prefetch(store.Prefetch{SessionID: "s1", Policy: true, TenantID: "t1"})
		sess, err := tx.Session("s1")
		if err != nil || sess.ClientMsgID != 1 {
			return fmt.Errorf("the session the first check-in stored: %+v, %v", sess, err)
		}
		cmds, err := tx.Open()
		if err != nil || !slices.Equal(commandIDs(cmds), []string{"c-lock"}) {
			return fmt.Errorf("open commands %v (%v), want the first check-in's c-lock", commandIDs(cmds), err)
		}
		return nil
	})
	must(t, "second Checkin", err)
	must(t, "first Checkin", <-first)
}

func prefetchSeesWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "Enqueue", s.Enqueue(ctx, command("pf-own", "c0")))
	err := s.Checkin(ctx, "pf-own", func(tx store.DeviceTx) error {
		tx.Prefetch(store.Prefetch{SessionID: "s2", Policy: true, TenantID: "t1"})
		if _, err := tx.Session("s2"); !isNotFound(err) {
			return fmt.Errorf("Session before PutSession: %v, want not found", err)
		}
		if cmds, err := tx.OpenDue(t0, nil); err != nil || !slices.Equal(commandIDs(cmds), []string{"c0"}) {
			return fmt.Errorf("OpenDue %v (%v), want [c0]", commandIDs(cmds), err)
		}
		c0, err := tx.Command("c0")
		if err != nil {
			return err
		}
		c0.State = store.CommandSucceeded
		if err := tx.PutCommand(c0); err != nil {
			return err
		}
		if err := tx.Enqueue(command("pf-own", "c1")); err != nil {
			return err
		}
		if cmds, err := tx.Open(); err != nil || !slices.Equal(commandIDs(cmds), []string{"c1"}) {
			return fmt.Errorf("Open after c0 succeeded and c1 was queued: %v (%v), want [c1]", commandIDs(cmds), err)
		}
		if err := tx.PutSession(store.Session{SessionID: "s2", ClientMsgID: 3, StartedAt: t0}); err != nil {
			return err
		}
		if sess, err := tx.Session("s2"); err != nil || sess.ClientMsgID != 3 {
			return fmt.Errorf("Session after PutSession: %+v, %v", sess, err)
		}
		return nil
	})
	must(t, "Checkin", err)
}

func prefetchEviction(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.Checkin(ctx, "pf-evict", func(tx store.DeviceTx) error {
		for i := range store.MaxSessions {
			err := tx.PutSession(store.Session{SessionID: fmt.Sprint("old", i), StartedAt: t0, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)})
			if err != nil {
				return err
			}
		}
		return tx.Enqueue(command("pf-evict", "c-evict")) // an open command: the sessions are prefetched
	})
	must(t, "Checkin (old sessions)", err)
	err = s.Checkin(ctx, "pf-evict", func(tx store.DeviceTx) error {
		tx.Prefetch(store.Prefetch{SessionID: "new", Policy: true, TenantID: "t1"})
		if _, err := tx.Session("new"); !isNotFound(err) {
			return fmt.Errorf("Session new: %v, want not found", err)
		}
		if _, err := tx.Open(); err != nil {
			return err
		}
		return tx.PutSession(store.Session{SessionID: "new", StartedAt: t0, UpdatedAt: t0.Add(time.Hour)})
	})
	must(t, "Checkin (new session)", err)
	err = s.Checkin(ctx, "pf-evict", func(tx store.DeviceTx) error {
		for i := range store.MaxSessions {
			_, err := tx.Session(fmt.Sprint("old", i))
			if kept := !isNotFound(err); kept != (i > 0) {
				return fmt.Errorf("session old%d kept %v (%v): want only the oldest evicted", i, kept, err)
			}
		}
		_, err := tx.Session("new")
		return err
	})
	must(t, "Checkin (reading)", err)
}
