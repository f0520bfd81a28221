package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// cutStore is the test's store (bbolt or PostgreSQL, by HELLOMDM_TEST_BACKEND) with a switch
// that loses the database connection in the middle of a check-in: the check-in's writes run,
// then the transaction fails with store.ErrUnavailable, as a pg_terminate_backend between the
// writes and the commit makes the PostgreSQL backend do (store/postgres TestConnectionLost).
type cutStore struct {
	store.Store
	cut  atomic.Bool
	cuts atomic.Int32
}

func (c *cutStore) Checkin(ctx context.Context, deviceID string, fn func(tx store.DeviceTx) error) error {
	if !c.cut.Load() {
		return c.Store.Checkin(ctx, deviceID, fn)
	}
	return c.Store.Checkin(ctx, deviceID, func(tx store.DeviceTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		c.cuts.Add(1)
		return fmt.Errorf("connection lost before the commit: %w", store.ErrUnavailable)
	})
}

// A check-in whose database connection is lost mid-request gets 503 with Retry-After, leaves
// no trace (the command is still pending and unsent, the session not recorded), and the
// device's retry of the session then succeeds.
func TestCheckinStoreUnavailable(t *testing.T) {
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir}
	open, pg := testBackend(t)
	if open == nil {
		open = openBolt
	}
	cs := &cutStore{}
	ts.pg = pg
	ts.opts = Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken, Engine: omadm.Config{NoBackoff: true},
		OpenStore: func(ctx context.Context, dir string) (store.Store, error) {
			st, err := open(ctx, dir)
			if err != nil {
				return nil, err
			}
			cs.Store = st
			return cs, nil
		}}
	ts.start()
	t.Cleanup(ts.stop)
	dev := ts.enroll("C0FFEE00C0FFEE00C0FFEE00C0FFEE00")
	id := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})

	cs.cut.Store(true)
	first := dev.first()
	raw, err := first.Bytes(true)
	if err != nil {
		t.Fatal(err)
	}
	resp := dev.postResp(raw)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("check-in with the connection cut: HTTP %d, want 503", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Fatalf("Retry-After = %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
	}
	if cs.cuts.Load() == 0 {
		t.Fatal("the check-in never reached the store")
	}
	if v := ts.command(dev.id, id); v.State != string(store.CommandQueued) || v.SentCount != 0 {
		t.Fatalf("after the cut check-in the command is %s sent %d times, want queued and unsent", v.State, v.SentCount)
	}
	if d, err := ts.app.Store.Device(context.Background(), dev.id); err != nil || !d.LastSeenAt.IsZero() {
		t.Fatalf("after the cut check-in the device was recorded as seen: %+v %v", d.LastSeenAt, err)
	}

	// The device retries the session (same package 1): it goes through.
	cs.cut.Store(false)
	reply := dev.send(first)
	if c := reply.Body[0]; c.Verb != syncml.VerbStatus || c.CmdRef != "0" || c.Data != "200" {
		t.Fatalf("retried session: SyncHdr status %+v", c)
	}
	cmds := commandsOf(reply)
	if len(cmds) != 1 || cmds[0].Verb != syncml.VerbReplace {
		t.Fatalf("retried session carried %d commands, want the Replace", len(cmds))
	}
	b := dev.next()
	b.Status("1", cmds[0], 200)
	dev.send(b)
	if v := ts.command(dev.id, id); v.State != string(store.CommandSucceeded) || v.SentCount != 1 {
		t.Fatalf("after the retry the command is %s sent %d times, want succeeded once", v.State, v.SentCount)
	}
}

// postResp posts raw SyncML and returns the whole response (the caller closes its body).
func (d *testDevice) postResp(body []byte) *http.Response {
	d.ts.t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.ts.base+ManagementPath+"?mode=Maintenance&Platform=WoA", bytes.NewReader(body))
	if err != nil {
		d.ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", syncml.ContentType)
	resp, err := d.client.Do(req)
	if err != nil {
		d.ts.t.Fatalf("posting SyncML: %v", err)
	}
	return resp
}
