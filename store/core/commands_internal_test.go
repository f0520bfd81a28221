package core

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// A command record whose Seq field disagrees with its key (the previous release's PostgreSQL
// schema kept the Seq in a column and wrote records back with Seq 0) reads with the key's
// Seq everywhere, and writes back at its place.
func TestCommandSeqFromKey(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", HWDevID: "hw", State: store.DeviceEnrolled, CertSerial: "AA"}); err != nil {
		t.Fatal(err)
	}
	cmd := func(id string) store.Command {
		return store.Command{ID: id, DeviceID: "d1", Payload: store.Payload{Verb: "Get", Items: []store.Item{{Target: "./DevDetail/SwV"}}}}
	}
	if err := s.Enqueue(ctx, cmd("c1"), cmd("c2")); err != nil {
		t.Fatal(err)
	}
	err := s.update(ctx, func(w *wtx) error {
		k := seqKey("d1", 2)
		raw, err := w.Get(bCommands, k)
		if err != nil {
			return err
		}
		zeroed := bytes.Replace(raw, []byte(`"seq":2`), []byte(`"seq":0`), 1)
		if bytes.Equal(zeroed, raw) {
			return fmt.Errorf("no seq field in %s", raw)
		}
		return w.Put(bCommands, k, zeroed)
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, c store.Command, err error) {
		t.Helper()
		if err != nil || c.ID != "c2" || c.Seq != 2 {
			t.Fatalf("%s: %s Seq %d, %v; want c2 Seq 2", what, c.ID, c.Seq, err)
		}
	}
	c, err := s.Command(ctx, "d1", "c2")
	check("Command", c, err)
	list, err := s.ListCommands(ctx, "d1")
	if len(list) != 2 {
		t.Fatalf("ListCommands: %d commands, %v", len(list), err)
	}
	check("ListCommands", list[1], err)
	err = s.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		open, err := tx.Open()
		if len(open) != 2 {
			return fmt.Errorf("Open: %d commands, %v", len(open), err)
		}
		check("Open", open[1], err)
		c, err := tx.Command("c2")
		check("DeviceTx.Command", c, err)
		c.State = store.CommandSucceeded
		return tx.PutCommand(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err = s.Command(ctx, "d1", "c2")
	check("Command after PutCommand", c, err)
	if c.State != store.CommandSucceeded {
		t.Fatalf("state %s after PutCommand", c.State)
	}
}
