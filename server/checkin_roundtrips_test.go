package server

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/syncml"
)

// The round trips to PostgreSQL of each message of the sessions the scale-out harness runs
// (issue 23), through the whole server: a session that applies one queued command (its first
// message sends the command, its second carries the device's Status), and an idle check-in (one
// message, nothing queued). On the harness's machine the database's CPU per message is what
// limits three replicas, and each round trip costs a replica a write and a wake-up and the
// database a protocol exchange, so their number is held here: a change that adds one fails.
//
// The server reaches PostgreSQL through a counting relay (testpg.Proxy). Another store on the
// same schema holds the audit sequencer's lease, so the measured server seals nothing (sealing
// is batched across messages, and timed, not per message) and its only background work is a
// lease probe every 0.5 s; each figure is the median of its rounds. The server runs its
// services (Services: the policy engine reads the device's policy state at each Final
// message), as hellomdm serve does.
func TestCheckinRoundTripsPostgres(t *testing.T) {
	pg := testpg.NewStore(t) // skips without HELLOMDM_TEST_POSTGRES
	ctx := t.Context()
	holder, err := core.OpenPostgres(ctx, pg.DSN, postgres.Options{EncryptionKey: pg.Key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Close() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var leases int
		if err := testpg.QueryRow(pg.DSN, `SELECT count(*) FROM kv_audit_lease`, &leases); err != nil {
			t.Fatal(err)
		}
		if leases == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the holder store did not take the sequencer lease")
		}
	}
	proxy, dsn := testpg.NewProxy(t, pg.DSN)
	measured := testpg.Store{DSN: dsn, Key: pg.Key}
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir, pg: pg, extra: Services} // with the policy engine, as served
	ts.opts = Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken,
		OpenStore: func(ctx context.Context, _ string) (store.Store, error) { return measured.Open(ctx, dir) }}
	ts.start()
	t.Cleanup(ts.stop)

	cmdDev, idleDev := ts.enroll("A1B2C3D4E5F60718293A4B5C6D7E8F90"), ts.enroll("0F1E2D3C4B5A69788796A5B4C3D2E1F0")
	const warm, rounds = 4, 15
	var first, second, idle []testpg.Traffic
	for i := range warm + rounds {
		ts.queue(cmdDev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: fmt.Sprint(i%2 == 0)})
		t0 := proxy.Traffic()
		reply := cmdDev.send(cmdDev.first())
		t1 := proxy.Traffic()
		cmds := commandsOf(reply)
		if len(cmds) != 1 {
			t.Fatalf("round %d: the first message's reply carries %d commands, want the queued one", i, len(cmds))
		}
		b := cmdDev.next()
		b.Status(reply.Header.MsgID, cmds[0], syncml.StatusOK)
		if end := cmdDev.send(b); len(commandsOf(end)) != 0 || !end.Final {
			t.Fatalf("round %d: the second message's reply is not the session's end", i)
		}
		t2 := proxy.Traffic()
		if end := idleDev.send(idleDev.first()); len(commandsOf(end)) != 0 || !end.Final {
			t.Fatalf("round %d: the idle check-in's reply is not the session's end", i)
		}
		t3 := proxy.Traffic()
		if i >= warm { // statements are prepared on each connection at its first use of them
			first, second, idle = append(first, t1.Sub(t0)), append(second, t2.Sub(t1)), append(idle, t3.Sub(t2))
		}
	}
	for _, m := range []struct {
		name    string
		traffic []testpg.Traffic
		// At most this many round trips (median).
		want int64
	}{
		// The device's lock, the session, the open set (and the device's policy record and
		// its tenant's policy version at a Final message, as the policy engine reads them);
		// the command; the writes and COMMIT. The device's sessions (to evict the oldest)
		// come with the command.
		{"command session, message 1 (sends the command)", first, 3},
		// The lock, the session, the open set; the command's index entry, with its record;
		// the writes and COMMIT.
		{"command session, message 2 (the command's Status)", second, 3},
		// The lock, the session, the open set; COMMIT.
		{"idle check-in", idle, 2},
	} {
		rt, st := median(m.traffic, func(x testpg.Traffic) int64 { return x.RoundTrips }), median(m.traffic, func(x testpg.Traffic) int64 { return x.Statements })
		t.Logf("%s: %d round trips, %d statements (medians of %d; all: %v)", m.name, rt, st, len(m.traffic), m.traffic)
		if rt > m.want {
			t.Errorf("%s: %d round trips to PostgreSQL, want at most %d", m.name, rt, m.want)
		}
	}
}

func median(xs []testpg.Traffic, f func(testpg.Traffic) int64) int64 {
	v := make([]int64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}
