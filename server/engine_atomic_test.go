package server

import (
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/syncml"
)

// An Atomic's outcome is recorded per nested command whatever the order of the Statuses:
// the Atomic's own first and its children's after it (Windows, and hellomdm's agent), the
// children's first, or the Atomic's in one message of the session and its children's in the
// next. A failed Atomic (507) shows which command failed and which were rolled back.
func TestAtomicChildStatusesInAnyOrder(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true})
	const other = "./Device/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/UsePassportForWork"
	tests := []struct {
		name   string
		parent int
		kids   []int
		order  string // "parentFirst", "childrenFirst", "split": parent in one message, children in the next
		state  string
		kidSt  []string
	}{
		{"Windows order, success", 200, []int{200, 200}, "parentFirst", "succeeded", []string{"succeeded", "succeeded"}},
		{"children first, success", 200, []int{200, 200}, "childrenFirst", "succeeded", []string{"succeeded", "succeeded"}},
		{"Windows order, 507", 507, []int{216, 404}, "parentFirst", "retry", []string{"rolledBack", "failed"}},
		{"children first, 507", 507, []int{216, 404}, "childrenFirst", "retry", []string{"rolledBack", "failed"}},
		{"parent and children in two messages, 507", 507, []int{500, 216}, "split", "retry", []string{"failed", "rolledBack"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := ts.enroll("A70E1C00000000000000000000000" + string(rune('0'+i)) + "00")
			id := ts.queue(dev.id, wire.CommandRequest{Verb: "Atomic", Commands: []wire.CommandRequest{
				{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"},
				{Verb: "Replace", LocURI: other, Format: "bool", Data: "true"},
			}})
			reply := dev.send(dev.first())
			cmds := commandsOf(reply)
			if len(cmds) != 1 || cmds[0].Verb != syncml.VerbAtomic || len(cmds[0].Commands) != 2 {
				t.Fatalf("reply commands = %+v", cmds)
			}
			atomic := cmds[0]
			msgRef := reply.Header.MsgID
			b := dev.next()
			kids := func() {
				for j, c := range atomic.Commands {
					b.Status(msgRef, c, tc.kids[j])
				}
			}
			switch tc.order {
			case "parentFirst":
				b.Status(msgRef, atomic, tc.parent)
				kids()
			case "childrenFirst":
				kids()
				b.Status(msgRef, atomic, tc.parent)
			case "split":
				b.Status(msgRef, atomic, tc.parent)
				raw, err := b.Bytes(false) // the client's package continues in its next message
				if err != nil {
					t.Fatal(err)
				}
				if st, body := dev.post(raw); st != 200 {
					t.Fatalf("HTTP %d: %s", st, body)
				}
				b = dev.next()
				kids()
			}
			if end := dev.send(b); len(commandsOf(end)) != 0 {
				t.Fatalf("closing message carries commands")
			}

			v := ts.command(dev.id, id)
			if v.State != tc.state || v.StatusCode != tc.parent {
				t.Fatalf("atomic: state %s code %d; want %s %d", v.State, v.StatusCode, tc.state, tc.parent)
			}
			if len(v.ChildStatus) != 2 || v.ChildStatus[0] != tc.kids[0] || v.ChildStatus[1] != tc.kids[1] {
				t.Fatalf("childStatus = %v, want %v", v.ChildStatus, tc.kids)
			}
			for j, c := range v.Commands {
				if c.State != tc.kidSt[j] || c.StatusCode != tc.kids[j] || c.StatusText == "" {
					t.Errorf("child %d (%s): state %q code %d text %q; want %s %d", j, c.LocURI, c.State, c.StatusCode, c.StatusText, tc.kidSt[j], tc.kids[j])
				}
			}
			// The audit log names the command that failed.
			failed := ""
			for _, e := range ts.events(testTenant) {
				if e.Kind == audit.KindCommandFailed && e.Subject.ID == id && e.Action == "childStatus" {
					failed = string(e.Details)
				}
			}
			if tc.parent == 507 {
				want := pinRecovery
				if tc.kids[1] == 404 {
					want = other
				}
				if !strings.Contains(failed, want) {
					t.Errorf("no audit event names the failed child %s: %q", want, failed)
				}
			} else if failed != "" {
				t.Errorf("a successful Atomic has a failed child event: %s", failed)
			}
		})
	}
}

// A repeated child Status, or one for a send of another session, changes nothing.
func TestAtomicChildStatusRecordedOnce(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true})
	dev := ts.enroll("A70E1C000000000000000000000001FF")
	id := ts.queue(dev.id, wire.CommandRequest{Verb: "Atomic", Commands: []wire.CommandRequest{
		{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"},
	}})
	reply := dev.send(dev.first())
	atomic := commandsOf(reply)[0]
	b := dev.next()
	b.Status(reply.Header.MsgID, atomic, 200)
	b.Status(reply.Header.MsgID, atomic.Commands[0], 200)
	b.Status(reply.Header.MsgID, atomic.Commands[0], 500) // a second Status for the same child
	dev.send(b)
	if v := ts.command(dev.id, id); v.State != "succeeded" || len(v.ChildStatus) != 1 || v.ChildStatus[0] != 200 || v.Commands[0].State != "succeeded" {
		t.Fatalf("command = %+v", v)
	}
}
