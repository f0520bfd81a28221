package server

import (
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/syncml"
)

// The server honours the client's MaxMsgSize: replies never exceed it, commands that do not
// fit go in the next message of the session, and a command too big for any message fails
// alone with 413 without holding up the rest of the queue.
func TestMaxMsgSize(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	dev := ts.enroll("5151515151515151515151515151515A")
	const limit = 1800
	var ids []string
	for i := 0; i < 8; i++ {
		ids = append(ids, ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: webSignIn, Format: "chr", Data: strings.Repeat("a", 150) + ".contoso.com"}))
	}
	huge := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: webSignIn, Format: "chr", Data: strings.Repeat("b", 4000) + ".contoso.com"})
	ids = append(ids, ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"}))

	b := dev.first()
	m := b.Message(true)
	m.Header.Meta = &syncml.Meta{MaxMsgSize: limit}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	messages := 0
	for {
		status, body := dev.post(raw)
		if status != 200 {
			t.Fatalf("HTTP %d: %s", status, body)
		}
		messages++
		if len(body) > limit {
			t.Fatalf("reply %d is %d bytes, over the device's MaxMsgSize of %d", messages, len(body), limit)
		}
		reply := mustParse(t, body)
		cmds := commandsOf(reply)
		if len(cmds) == 0 {
			break
		}
		got += len(cmds)
		nb := dev.next()
		for _, c := range cmds {
			nb.Status(reply.Header.MsgID, c, syncml.StatusOK)
		}
		next := nb.Message(true)
		next.Header.Meta = &syncml.Meta{MaxMsgSize: limit}
		if raw, err = next.Marshal(); err != nil {
			t.Fatal(err)
		}
		if messages > 20 {
			t.Fatal("the session does not end")
		}
	}
	if got != len(ids) || messages < 3 {
		t.Fatalf("%d commands over %d messages; want all %d fitting commands, split over several messages", got, messages, len(ids))
	}
	for _, id := range ids {
		if v := ts.command(dev.id, id); v.State != "succeeded" {
			t.Errorf("command %s: %s", id, v.State)
		}
	}
	if v := ts.command(dev.id, huge); v.State != "failed" || v.StatusCode != syncml.StatusRequestTooLarge || v.SentCount != 0 {
		t.Errorf("oversize command: state %s code %d sent %d; want failed 413 never sent", v.State, v.StatusCode, v.SentCount)
	}
}
