package server

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// testClock is a settable clock for the engine.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countEvents counts a tenant's audit events of one kind about one subject.
func (ts *testServer) countEvents(kind audit.Kind, subjectID string) int {
	ts.t.Helper()
	n := 0
	for _, e := range ts.events(testTenant) {
		if e.Kind == kind && e.Subject.ID == subjectID {
			n++
		}
	}
	return n
}

// storedSession reads a device's session record as the engine will find it, in a check-in
// transaction that is rolled back.
func (ts *testServer) storedSession(deviceID, sessionID string) store.Session {
	ts.t.Helper()
	sess, ok := ts.findSession(deviceID, sessionID)
	if !ok {
		ts.t.Fatalf("reading session %s of %s: %v", sessionID, deviceID, store.ErrNotFound)
	}
	return sess
}

// findSession is storedSession, reporting whether the record exists.
func (ts *testServer) findSession(deviceID, sessionID string) (store.Session, bool) {
	ts.t.Helper()
	var sess store.Session
	errRead := errors.New("read only")
	err := ts.app.Store.Checkin(context.Background(), deviceID, func(tx store.DeviceTx) error {
		var err error
		if sess, err = tx.Session(sessionID); err != nil {
			return err
		}
		return errRead
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, false
	}
	if !errors.Is(err, errRead) {
		ts.t.Fatalf("reading session %s of %s: %v", sessionID, deviceID, err)
	}
	return sess, true
}

// postRaw posts bytes the test built once (a client that sends the same bytes again) and
// parses the reply.
func (d *testDevice) postRaw(raw []byte) ([]byte, *syncml.Message) {
	d.ts.t.Helper()
	st, body := d.post(raw)
	if st != 200 {
		d.ts.t.Fatalf("check-in: HTTP %d: %s", st, body)
	}
	m, err := syncml.Parse(body)
	if err != nil {
		d.ts.t.Fatalf("parsing reply: %v\n%s", err, body)
	}
	if code, _ := statusFor(m, "0"); code != syncml.StatusOK {
		d.ts.t.Fatalf("SyncHdr status %d: %s", code, body)
	}
	return body, m
}

// A client that starts every session with SessionID "0" and MsgID 1, and whose first message
// is byte-identical each time (same DevInfo, nothing to report): each of those messages after
// a session that ended (a reply of only Statuses and Final) opens a new session, which gets
// the commands queued in between, on that check-in and on every later identical one.
func TestReusedSessionIDIdenticalFirstMessageIsNewSession(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true})
	dev := ts.enroll("5E55104D000000000000000000000000")
	dev.session = -1
	first, err := dev.first().Bytes(true) // SessionID "0", MsgID 1
	if err != nil {
		t.Fatal(err)
	}

	if _, m := dev.postRaw(first); len(commandsOf(m)) != 0 || !m.Final {
		t.Fatalf("first session: %d commands, final %v", len(commandsOf(m)), m.Final)
	}
	// A session that ended at its first message can never be answered from the store
	// (retransmission's rule): under a SessionID with no record it leaves none; an open one
	// keeps its reply.
	if s, ok := ts.findSession(dev.id, "0"); ok {
		t.Fatalf("idle session under a new SessionID stored (ended %v, %d-byte reply)", s.Ended, len(s.LastReply))
	}
	for round := 1; round <= 2; round++ {
		id := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})
		reply, m := dev.postRaw(first)
		if s := ts.storedSession(dev.id, "0"); s.Ended || !bytes.Equal(s.LastReply, reply) || s.LastRequestHash == "" {
			t.Fatalf("round %d: open session stored as ended %v, reply kept %v", round, s.Ended, bytes.Equal(s.LastReply, reply))
		}
		cmds := commandsOf(m)
		if len(cmds) != 1 || m.Header.SessionID != "0" {
			t.Fatalf("round %d: the identical first message of a new session got %d commands (session %q), want the command queued since",
				round, len(cmds), m.Header.SessionID)
		}
		dev.msgID = 1
		b := dev.next()
		b.Status(m.Header.MsgID, cmds[0], syncml.StatusOK)
		if end := dev.send(b); len(commandsOf(end)) != 0 || !end.Final {
			t.Fatalf("round %d: closing message has commands", round)
		}
		if v := ts.command(dev.id, id); v.State != "succeeded" || v.SentCount != 1 {
			t.Fatalf("round %d: command %+v", round, v)
		}
		// Nothing queued: the identical first message gets an empty session, which replaces
		// the stored record of its SessionID with one that keeps no reply.
		if _, m := dev.postRaw(first); len(commandsOf(m)) != 0 {
			t.Fatalf("round %d: an empty session got %d commands", round, len(commandsOf(m)))
		}
		if s := ts.storedSession(dev.id, "0"); !s.Ended || s.LastReply != nil || s.LastRequestHash != "" {
			t.Fatalf("round %d: idle session stored as ended %v with a %d-byte reply, hash %q", round, s.Ended, len(s.LastReply), s.LastRequestHash)
		}
	}
}

// A genuine retransmission (the reply was lost) of the last message of an open session is
// answered from the stored reply and recorded once: the first message whose reply carried a
// command, and the message of Statuses whose reply ended the session. A MsgID-1 message that
// repeats an open session's first message after the claim lease is a new session.
func TestRetransmissionAnsweredFromStoredReply(t *testing.T) {
	clk := &testClock{t: time.Now().UTC()}
	const lease = 30 * time.Second
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true, ClaimLease: lease, Now: clk.Now})
	dev := ts.enroll("5E55104D000000000000000000000001")
	dev.session = -1
	first, err := dev.first().Bytes(true)
	if err != nil {
		t.Fatal(err)
	}
	id := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})

	r1, m1 := dev.postRaw(first)
	if len(commandsOf(m1)) != 1 {
		t.Fatalf("got %d commands", len(commandsOf(m1)))
	}
	// The reply is lost; the client sends the same message again a few seconds later. A
	// command queued meanwhile does not change the stored answer (it goes in the next
	// message of this session).
	other := ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
	clk.Add(5 * time.Second)
	if again, _ := dev.postRaw(first); !bytes.Equal(again, r1) {
		t.Fatalf("a retransmitted first message got a different reply:\n%s\n%s", r1, again)
	}
	if v := ts.command(dev.id, id); v.SentCount != 1 {
		t.Fatalf("command sent %d times, want 1", v.SentCount)
	}
	if n := ts.countEvents(audit.KindCommandSent, id); n != 1 {
		t.Fatalf("%d send events, want 1", n)
	}

	dev.msgID = 1
	b := dev.next()
	b.Status(m1.Header.MsgID, commandsOf(m1)[0], syncml.StatusOK)
	msg2, err := b.Bytes(true)
	if err != nil {
		t.Fatal(err)
	}
	_, m2 := dev.postRaw(msg2)
	if cmds := commandsOf(m2); len(cmds) != 1 || cmds[0].Verb != syncml.VerbGet {
		t.Fatalf("second message: %d commands", len(cmds))
	}
	dev.msgID = 2
	b = dev.next()
	b.Status(m2.Header.MsgID, commandsOf(m2)[0], syncml.StatusOK)
	b.Results(m2.Header.MsgID, commandsOf(m2)[0], []syncml.Item{{Source: "./DevDetail/SwV", Data: "10.0.22631.2428"}})
	msg3, err := b.Bytes(true)
	if err != nil {
		t.Fatal(err)
	}
	r3, m3 := dev.postRaw(msg3)
	if len(commandsOf(m3)) != 0 || !m3.Final {
		t.Fatalf("closing message has %d commands", len(commandsOf(m3)))
	}
	// The closing reply is lost too: the same MsgID 3 is answered from the stored reply, and
	// its Status and Results are recorded once, even though that reply ended the session.
	clk.Add(2 * time.Second)
	if again, _ := dev.postRaw(msg3); !bytes.Equal(again, r3) {
		t.Fatalf("a retransmitted closing message got a different reply")
	}
	if v := ts.command(dev.id, other); v.State != "succeeded" || len(v.Results) != 1 || v.SentCount != 1 {
		t.Fatalf("Get after retransmissions: %+v", v)
	}
	for _, c := range []string{id, other} {
		if n := ts.countEvents(audit.KindCommandDelivered, c); n != 1 {
			t.Fatalf("command %s: %d delivered events, want 1", c, n)
		}
	}

	// An open session that the client abandoned: its first message repeated after the claim
	// lease is a new session, which sends the lapsed command again with the one queued since.
	clk.Add(time.Minute)
	third := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "false"})
	if _, m := dev.postRaw(first); len(commandsOf(m)) != 1 {
		t.Fatalf("got %d commands", len(commandsOf(m)))
	}
	clk.Add(lease)
	fourth := ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
	if _, m := dev.postRaw(first); len(commandsOf(m)) != 2 {
		t.Fatalf("the first message after the lease got %d commands, want the lapsed one and the new one", len(commandsOf(m)))
	}
	if v := ts.command(dev.id, third); v.SentCount != 2 {
		t.Fatalf("lapsed command sent %d times, want 2", v.SentCount)
	}
	if v := ts.command(dev.id, fourth); v.SentCount != 1 {
		t.Fatalf("new command sent %d times, want 1", v.SentCount)
	}
}
