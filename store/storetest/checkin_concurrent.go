package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// testCheckinConcurrent runs check-ins of 50 devices in parallel, every fifth failing after
// its writes, and checks that exactly the others committed, with one linear audit chain.
func testCheckinConcurrent(t *testing.T, open opener) {
	const devices = 50
	s := open(t)
	for i := range devices {
		_, err := s.RegisterDevice(t.Context(), device("t1", name("dev", i), fmt.Sprintf("%04X", i)))
		must(t, "RegisterDevice", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, devices)
	for i := range devices {
		wg.Go(func() {
			id := name("dev", i)
			errs[i] = s.Checkin(t.Context(), id, func(tx store.DeviceTx) error {
				if _, err := tx.Device(); err != nil {
					return err
				}
				if _, err := tx.Session("1"); !isNotFound(err) {
					return fmt.Errorf("Session: %v", err)
				}
				if p, err := tx.HasPending(); err != nil || p {
					return fmt.Errorf("HasPending = %v, %v", p, err)
				}
				if err := tx.PutSession(store.Session{SessionID: "1", ClientMsgID: 1, StartedAt: t0}); err != nil {
					return err
				}
				if err := tx.Enqueue(command(id, "c-"+id)); err != nil {
					return err
				}
				if err := tx.Audit(event("t1", t0, id)); err != nil {
					return err
				}
				if i%5 == 0 {
					return errBoom
				}
				return nil
			})
		})
	}
	wg.Wait()
	committed := 0
	for i, err := range errs {
		id := name("dev", i)
		cmds, lerr := s.ListCommands(t.Context(), id)
		must(t, "ListCommands", lerr)
		if i%5 == 0 {
			mustErr(t, "Checkin "+id, err, errBoom)
			if len(cmds) != 0 {
				t.Errorf("%s: failed check-in left %d commands", id, len(cmds))
			}
			continue
		}
		if err != nil {
			t.Errorf("Checkin %s: %v", id, err)
			continue
		}
		committed++
		if len(cmds) != 1 || cmds[0].ID != "c-"+id {
			t.Errorf("%s: commands %v, want [c-%s]", id, commandIDs(cmds), id)
		}
	}
	evs := auditEvents(t, s, "t1", 0)
	if len(evs) != committed {
		t.Fatalf("%d audit events for %d committed check-ins", len(evs), committed)
	}
	verifyChain(t, audit.Anchor{}, evs)
}
