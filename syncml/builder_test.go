package syncml

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func replyHeader() Header {
	return ReplyHeader(Header{SessionID: "7", MsgID: "3", Target: "https://s", Source: "dev"}, "4")
}

func TestReplyHeader(t *testing.T) {
	req := Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: "D", MsgID: "3",
		Target: "https://s", Source: "dev", Cred: &Cred{Data: "x"}, Meta: &Meta{MaxMsgSize: 1}}
	want := Header{VerDTD: VerDTD, VerProto: VerProto, SessionID: "D", MsgID: "1",
		Target: "dev", Source: "https://s"}
	if got := ReplyHeader(req, "1"); !reflect.DeepEqual(got, want) {
		t.Errorf("ReplyHeader = %#v, want %#v", got, want)
	}
}

func TestBuilderAssignsCmdIDs(t *testing.T) {
	tests := []struct {
		name    string
		first   int
		add     func(b *Builder) []string
		wantRet []string
		wantIDs [][]string // per top-level command: its ID then its children's, depth-first
	}{
		{
			name:  "server starts at 1",
			first: 1,
			add: func(b *Builder) []string {
				return []string{
					b.StatusSyncHdr("3", StatusOK, nil),
					b.Alert(AlertNextMessage),
					b.Command(Command{Verb: VerbGet, CmdID: "99", Items: []Item{{Target: "./a"}}}),
				}
			},
			wantRet: []string{"1", "2", "3"},
			wantIDs: [][]string{{"1"}, {"2"}, {"3"}},
		},
		{
			name:  "client starts at 2",
			first: 2,
			add: func(b *Builder) []string {
				return []string{b.Alert(AlertClientInitiated), b.Alert(AlertClientEvent)}
			},
			wantRet: []string{"2", "3"},
			wantIDs: [][]string{{"2"}, {"3"}},
		},
		{
			name:  "nested depth-first",
			first: 5,
			add: func(b *Builder) []string {
				return []string{
					b.Command(Command{Verb: VerbAtomic, Commands: []Command{
						{Verb: VerbReplace, Items: []Item{{Target: "./a"}}},
						{Verb: VerbSequence, Commands: []Command{
							{Verb: VerbDelete, Items: []Item{{Target: "./b"}}},
							{Verb: VerbAdd, Items: []Item{{Target: "./c"}}},
						}},
						{Verb: VerbReplace, Items: []Item{{Target: "./d"}}},
					}}),
					b.Command(Command{Verb: VerbGet, Items: []Item{{Target: "./e"}}}),
				}
			},
			wantRet: []string{"5", "11"},
			wantIDs: [][]string{{"5", "6", "7", "8", "9", "10"}, {"11"}},
		},
		{
			name:    "below 1 means 1",
			first:   0,
			add:     func(b *Builder) []string { return []string{b.Alert(AlertSessionAbort)} },
			wantRet: []string{"1"},
			wantIDs: [][]string{{"1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(replyHeader(), tc.first)
			if got := tc.add(b); !reflect.DeepEqual(got, tc.wantRet) {
				t.Errorf("returned IDs %v, want %v", got, tc.wantRet)
			}
			m := b.Message(true)
			var got [][]string
			for _, c := range m.Body {
				got = append(got, flattenIDs(c, nil))
			}
			if !reflect.DeepEqual(got, tc.wantIDs) {
				t.Errorf("IDs in Message %v, want %v", got, tc.wantIDs)
			}
			if b.Len() != len(tc.wantIDs) {
				t.Errorf("Len = %d, want %d", b.Len(), len(tc.wantIDs))
			}
			out, err := b.Bytes(true)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Bytes): %v", err)
			}
			if !reflect.DeepEqual(back, m) {
				t.Errorf("Parse(Bytes) differs from Message:\n got %#v\nwant %#v", back, m)
			}
		})
	}
}

func flattenIDs(c Command, ids []string) []string {
	ids = append(ids, c.CmdID)
	for _, k := range c.Commands {
		ids = flattenIDs(k, ids)
	}
	return ids
}

func TestBuilderDoesNotModifyCallerCommands(t *testing.T) {
	kids := []Command{{Verb: VerbReplace, CmdID: "x", Items: []Item{{Target: "./a"}}}}
	b := NewBuilder(replyHeader(), 1)
	b.Command(Command{Verb: VerbAtomic, Commands: kids})
	if kids[0].CmdID != "x" {
		t.Errorf("caller's child CmdID changed to %q", kids[0].CmdID)
	}
}

func TestBuilderSizeIsExact(t *testing.T) {
	b := NewBuilder(replyHeader(), 1)
	check := func(step string) {
		t.Helper()
		for _, final := range []bool{false, true} {
			out, err := b.Bytes(final)
			if err != nil {
				t.Fatalf("%s: Bytes: %v", step, err)
			}
			if got := b.Size(final); got != len(out) {
				t.Errorf("%s: Size(%v) = %d, len(Bytes) = %d", step, final, got, len(out))
			}
			marshalled, err := b.Message(final).Marshal()
			if err != nil {
				t.Fatalf("%s: Marshal: %v", step, err)
			}
			if !bytes.Equal(marshalled, out) {
				t.Errorf("%s: Bytes differs from Message().Marshal():\n%s\n%s", step, out, marshalled)
			}
		}
	}
	check("empty")
	cmds := []Command{
		{Verb: VerbReplace, Items: []Item{{Target: "./a&b", Data: "<x>]]>", Meta: &Meta{Format: "chr"}}}},
		{Verb: VerbAtomic, Commands: []Command{{Verb: VerbAdd, Items: []Item{{Target: "./c", DataXML: "<p/>"}}}}},
	}
	for i := range 12 { // CmdIDs cross from one to two digits
		c := cmds[i%len(cmds)]
		before := b.Size(true)
		predicted := b.CommandSize(c)
		b.Command(c)
		if got := b.Size(true) - before; got != predicted {
			t.Errorf("command %d: CommandSize = %d, added %d", i, predicted, got)
		}
		check("after command " + b.Message(false).Body[b.Len()-1].CmdID)
	}
	b.StatusSyncHdr("1", StatusOK, &Chal{Type: "syncml:auth-md5", Format: "b64", NextNonce: "bg=="})
	b.Results("1", Command{Verb: VerbGet, CmdID: "4"}, []Item{{Source: "./a", Data: "v"}})
	check("after status and results")
}

// A NewBytesBuilder encodes exactly what a NewBuilder does, command by command, with the same
// CmdIDs, Len and Size; only its Message carries no commands.
func TestBytesBuilderEncodesAsBuilder(t *testing.T) {
	full, lean := NewBuilder(replyHeader(), 1), NewBytesBuilder(replyHeader(), 1)
	cmds := []Command{
		{Verb: VerbReplace, Items: []Item{{Target: "./a&b", Data: "<x>]]>", Meta: &Meta{Format: "chr"}}}},
		{Verb: VerbAtomic, Commands: []Command{{Verb: VerbAdd, Items: []Item{{Target: "./c", DataXML: "<p/>"}}}}},
		{Verb: VerbGet, Items: []Item{{Target: "./d\xff"}}},
	}
	for i := range 12 {
		c := cmds[i%len(cmds)]
		id1, err1 := full.TryCommand(c)
		id2, err2 := lean.TryCommand(c)
		if id1 != id2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("command %d: TryCommand = %q, %v and %q, %v", i, id1, err1, id2, err2)
		}
		if full.Len() != lean.Len() || full.Size(true) != lean.Size(true) {
			t.Fatalf("command %d: Len %d/%d, Size %d/%d", i, full.Len(), lean.Len(), full.Size(true), lean.Size(true))
		}
	}
	full.StatusSyncHdr("1", StatusOK, nil)
	lean.StatusSyncHdr("1", StatusOK, nil)
	for _, final := range []bool{false, true} {
		a, err := full.Bytes(final)
		if err != nil {
			t.Fatal(err)
		}
		b, err := lean.Bytes(final)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("Bytes(%v) differ:\n%s\n%s", final, a, b)
		}
	}
	if n := len(lean.Message(true).Body); n != 0 {
		t.Errorf("NewBytesBuilder's Message has %d commands", n)
	}
}

func TestBuilderStatusRefs(t *testing.T) {
	b := NewBuilder(replyHeader(), 1)
	ref := Command{Verb: VerbReplace, CmdID: "4", Items: []Item{
		{Target: "./t1"}, {Source: "./s1"}, {Target: "./t2", Source: "./s2"}, {Data: "x"},
	}}
	b.Status("3", ref, StatusNotFound, Item{Data: "detail"})
	b.Results("3", Command{Verb: VerbGet, CmdID: "5"}, []Item{{Source: "./v", Data: "1"}})
	got := b.Message(false).Body
	want := []Command{
		{Verb: VerbStatus, CmdID: "1", MsgRef: "3", CmdRef: "4", Cmd: VerbReplace, Data: "404",
			TargetRef: []string{"./t1", "./t2"}, SourceRef: []string{"./s1", "./s2"},
			Items: []Item{{Data: "detail"}}},
		{Verb: VerbResults, CmdID: "2", MsgRef: "3", CmdRef: "5", Items: []Item{{Source: "./v", Data: "1"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestBuilderErrors(t *testing.T) {
	t.Run("bad header sticks", func(t *testing.T) {
		b := NewBuilder(Header{MsgID: "1", Target: "a", Source: "b"}, 1)
		if b.Err() == nil {
			t.Fatal("Err() = nil for a header without SessionID")
		}
		if _, err := b.Bytes(true); err == nil {
			t.Error("Bytes succeeded with a bad header")
		}
	})
	t.Run("TryCommand leaves the builder usable", func(t *testing.T) {
		b := NewBuilder(replyHeader(), 1)
		b.Alert(AlertNextMessage)
		size := b.Size(true)
		id, err := b.TryCommand(Command{Verb: VerbReplace, Items: []Item{{Data: "\x00"}}})
		if err == nil || id != "" {
			t.Fatalf("TryCommand = %q, %v; want an error", id, err)
		}
		if b.Size(true) != size || b.Err() != nil {
			t.Errorf("failed TryCommand changed the builder (size %d→%d, err %v)", size, b.Size(true), b.Err())
		}
		if id := b.Alert(AlertSessionAbort); id != "2" {
			t.Errorf("next CmdID = %q, want 2 (failed command must not use one)", id)
		}
		if _, err := b.Bytes(true); err != nil {
			t.Errorf("Bytes: %v", err)
		}
	})
	t.Run("Command error sticks", func(t *testing.T) {
		b := NewBuilder(replyHeader(), 1)
		if id := b.Command(Command{Verb: "Bogus"}); id != "" {
			t.Errorf("Command returned %q for a bad command", id)
		}
		b.Alert(AlertNextMessage)
		if _, err := b.Bytes(false); err == nil || !strings.Contains(err.Error(), "Bogus") {
			t.Errorf("Bytes error = %v, want the kept Bogus error", err)
		}
	})
	t.Run("CommandSize of a bad command", func(t *testing.T) {
		b := NewBuilder(replyHeader(), 1)
		if n := b.CommandSize(Command{Verb: VerbAtomic, Data: "x"}); n != -1 {
			t.Errorf("CommandSize = %d, want -1", n)
		}
	})
}

func TestMessageHelpers(t *testing.T) {
	m := clientFirst()
	if got := len(m.Commands(VerbAlert)); got != 2 {
		t.Errorf("Commands(Alert) has %d, want 2", got)
	}
	if got := m.Commands(VerbGet); got != nil {
		t.Errorf("Commands(Get) = %v, want nil", got)
	}
	if m.MaxMsgSize() != 0 || m.MaxObjSize() != 0 {
		t.Errorf("sizes without Meta should be 0")
	}
	m.Header.Meta = &Meta{MaxMsgSize: 65536, MaxObjSize: 100}
	if m.MaxMsgSize() != 65536 || m.MaxObjSize() != 100 {
		t.Errorf("MaxMsgSize/MaxObjSize = %d/%d", m.MaxMsgSize(), m.MaxObjSize())
	}
	if got := m.Body[1].AlertType(); got != TypeLoginStatus {
		t.Errorf("AlertType = %q", got)
	}
	if got := m.Body[0].AlertType(); got != "" {
		t.Errorf("AlertType without items = %q", got)
	}

	codeTests := []struct {
		name    string
		cmd     Command
		status  bool
		want    int
		wantErr bool
	}{
		{"alert", Command{Verb: VerbAlert, Data: "1226"}, false, 1226, false},
		{"status", Command{Verb: VerbStatus, Data: "404"}, true, 404, false},
		{"alert asked for status", Command{Verb: VerbAlert, Data: "1226"}, true, 0, true},
		{"status asked for alert", Command{Verb: VerbStatus, Data: "200"}, false, 0, true},
		{"not a number", Command{Verb: VerbStatus, Data: "OK"}, true, 0, true},
		{"empty", Command{Verb: VerbAlert}, false, 0, true},
	}
	for _, tc := range codeTests {
		t.Run(tc.name, func(t *testing.T) {
			var got int
			var err error
			if tc.status {
				got, err = tc.cmd.StatusCode()
			} else {
				got, err = tc.cmd.AlertCode()
			}
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
