package core_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
)

// testQueueReplicas runs the rules of the cmd area that concurrent writers must keep, with
// the writers spread over a and b: two servers on one database (PostgreSQL), or the same
// store twice (bbolt, one process).
func testQueueReplicas(t *testing.T, a, b *core.Store) {
	ctx := t.Context()
	if err := a.CreateTenant(ctx, store.Tenant{ID: "t1", DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	dev := store.Device{ID: "d1", TenantID: "t1", HWDevID: "hw", State: store.DeviceEnrolled, CertSerial: "AA01"}
	if _, err := a.RegisterDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	t.Run("CheckinsAndEnqueuesOfOneDevice", func(t *testing.T) { oneDeviceSerialised(t, []*core.Store{a, b, a, b}) })
}

// Check-ins of one device on every store, each a read-modify-write of one session and an
// Enqueue, race with Enqueues from outside: no session update is lost (the check-ins ran
// one after the other) and every command got its own Seq, in one gapless sequence.
func oneDeviceSerialised(t *testing.T, stores []*core.Store) {
	const each = 10
	cmd := func(id string) store.Command {
		return store.Command{ID: id, DeviceID: "d1", Payload: store.Payload{Verb: "Get", Items: []store.Item{{Target: "./DevDetail/SwV"}}}}
	}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for j := range each {
				err := s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
					sess, err := tx.Session("1")
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					sess.SessionID = "1"
					sess.ClientMsgID++
					if err := tx.PutSession(sess); err != nil {
						return err
					}
					return tx.Enqueue(cmd(fmt.Sprintf("in-%d-%d", i, j)))
				})
				if err != nil {
					t.Errorf("Checkin: %v", err)
					return
				}
			}
		})
		wg.Go(func() {
			for j := range each {
				if err := s.Enqueue(t.Context(), cmd(fmt.Sprintf("out-%d-%d", i, j))); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var sess store.Session
	err := stores[0].Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		var err error
		sess, err = tx.Session("1")
		return err
	})
	if err != nil || sess.ClientMsgID != len(stores)*each {
		t.Errorf("session after %d check-ins: ClientMsgID %d, %v", len(stores)*each, sess.ClientMsgID, err)
	}
	cmds, err := stores[1].ListCommands(t.Context(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(cmds))
	for i, c := range cmds {
		seqs[i] = c.Seq
	}
	want := make([]uint64, 2*len(stores)*each)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("Seqs of %d enqueued commands: %v", len(want), seqs)
	}
	qs, err := stores[0].QueueStats(t.Context())
	if err != nil || qs.Open != len(want) {
		t.Fatalf("QueueStats = %+v, %v; want %d open", qs, err, len(want))
	}
}

func TestQueueReplicasBolt(t *testing.T) {
	s := openBolt(t)
	testQueueReplicas(t, s, s)
}

// TestQueueReplicasPostgres runs testQueueReplicas on two stores over one PostgreSQL schema,
// as two servers share a database: the check-ins' device-record locks and the enqueues'
// seq-counter locks are what keeps the rules there.
func TestQueueReplicasPostgres(t *testing.T) {
	dsn, key := testpg.Schema(t), testpg.Key(t)
	testQueueReplicas(t, openPostgres(t, dsn, key), openPostgres(t, dsn, key))
}
