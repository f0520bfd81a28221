package syncml

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func validMessage() *Message {
	return &Message{
		Header: Header{SessionID: "1", MsgID: "1", Target: "dev", Source: "https://s"},
		Body: []Command{{Verb: VerbReplace, CmdID: "1",
			Items: []Item{{Target: "./a", Data: "v"}}}},
	}
}

func TestMarshalRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m *Message)
		want   string
	}{
		{"no SessionID", func(m *Message) { m.Header.SessionID = "" }, "no SessionID"},
		{"no MsgID", func(m *Message) { m.Header.MsgID = "" }, "no MsgID"},
		{"no Target", func(m *Message) { m.Header.Target = "" }, "no Target"},
		{"no Source", func(m *Message) { m.Header.Source = "" }, "no Source"},
		{"unknown verb", func(m *Message) { m.Body[0].Verb = "Copy" }, "unknown verb"},
		{"no CmdID", func(m *Message) { m.Body[0].CmdID = "" }, "no CmdID"},
		{"invalid UTF-8", func(m *Message) { m.Body[0].Items[0].Data = "a\xffb" }, "invalid UTF-8"},
		{"NUL byte", func(m *Message) { m.Body[0].Items[0].Data = "a\x00b" }, "not allowed in XML"},
		{"U+FFFE", func(m *Message) { m.Header.Source = "a\uFFFE" }, "not allowed in XML"},
		{"bad char in Meta", func(m *Message) { m.Body[0].Items[0].Meta = &Meta{Type: "\x01"} }, "Type"},
		{"Data and DataXML", func(m *Message) { m.Body[0].Items[0].DataXML = "<a/>" }, "both Data and DataXML"},
		{"unclosed DataXML", func(m *Message) { m.Body[0].Items[0] = Item{DataXML: "<a>"} }, "not well-formed"},
		{"DataXML closing Data", func(m *Message) { m.Body[0].Items[0] = Item{DataXML: "</x><x>"} }, "not well-formed"},
		{"DataXML with stray end tag", func(m *Message) { m.Body[0].Items[0] = Item{DataXML: "<a/></Data>"} }, "not well-formed"},
		{"DataXML undefined entity", func(m *Message) { m.Body[0].Items[0] = Item{DataXML: "<a>&x;</a>"} }, "not well-formed"},
		{"Atomic with Items", func(m *Message) { m.Body[0].Verb = VerbAtomic }, "only CmdID, NoResp, Meta and Commands"},
		{"Replace with children", func(m *Message) {
			m.Body[0].Commands = []Command{{Verb: VerbGet, CmdID: "2"}}
		}, "only Atomic and Sequence"},
		{"bad child", func(m *Message) {
			m.Body = []Command{{Verb: VerbSequence, CmdID: "1", Commands: []Command{{Verb: VerbGet}}}}
		}, "Get command has no CmdID"},
		{"negative Size", func(m *Message) { m.Body[0].Items[0].Meta = &Meta{Size: -1} }, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := validMessage()
			tc.modify(m)
			out, err := m.Marshal()
			if err == nil {
				t.Fatalf("Marshal succeeded: %s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := validMessage().Marshal(); err != nil {
		t.Fatalf("the unmodified message must marshal: %v", err)
	}
}

func TestMarshalEscapes(t *testing.T) {
	tricky := []struct {
		name, value string
	}{
		{"markup", `<Replace><CmdID>9</CmdID></Replace>`},
		{"ampersand and entities", `a & b &amp; &lt; &#x41;`},
		{"CDATA end", `x ]]> y <![CDATA[ z ]]>`},
		{"quotes", `"double" 'single'`},
		{"CR LF and tab", "line1\r\nline2\rline3\n\tend"},
		{"unicode", "Zürich ✓ 𝄞"},
		{"surrounding spaces", "  padded  "},
	}
	for _, tc := range tricky {
		t.Run(tc.name, func(t *testing.T) {
			m := validMessage()
			m.Body[0].Items[0].Data = tc.value
			m.Body[0].Items = append(m.Body[0].Items, Item{Target: "./b", Data: tc.value,
				Meta: &Meta{Type: "text/plain"}})
			out, err := m.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, out)
			}
			if got := back.Body[0].Items[0].Data; got != tc.value {
				t.Errorf("Data = %q, want %q\n%s", got, tc.value, out)
			}
			if len(back.Body) != 1 || len(back.Body[0].Items) != 2 {
				t.Errorf("value leaked into the structure:\n%s", out)
			}
			m.Header.VerDTD, m.Header.VerProto = VerDTD, VerProto
			if !reflect.DeepEqual(back, m) {
				t.Errorf("round trip changed the message:\n got %#v\nwant %#v", back, m)
			}
		})
	}
}

func TestMarshalScalarsTrimmedOnParse(t *testing.T) {
	m := validMessage()
	m.Body[0].Items[0].Target = "  ./a  "
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Body[0].Items[0].Target; got != "./a" {
		t.Errorf("Target = %q, want trimmed ./a", got)
	}
}

func TestMarshalDeterministic(t *testing.T) {
	m := serverChallenge()
	first, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := m.Marshal()
		if err != nil || string(again) != string(first) {
			t.Fatalf("Marshal not deterministic: %v\n%s\n%s", err, again, first)
		}
	}
	if strings.HasPrefix(string(first), "<?xml") || strings.Contains(string(first), "\n") {
		t.Errorf("wire form must be compact without declaration: %s", first)
	}
}

func TestEncodedSize(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want int
	}{
		{"get", Command{Verb: VerbGet, CmdID: "12", Items: []Item{{Target: "./a"}}},
			len(`<Get><CmdID>12</CmdID><Item><Target><LocURI>./a</LocURI></Target></Item></Get>`)},
		{"escaped", Command{Verb: VerbAlert, CmdID: "1", Data: "<"},
			len(`<Alert><CmdID>1</CmdID><Data>&lt;</Data></Alert>`)},
		{"unencodable", Command{Verb: VerbGet}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EncodedSize(tc.cmd); got != tc.want {
				t.Errorf("EncodedSize = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestMarshalErrorWrapsCause(t *testing.T) {
	m := validMessage()
	m.Body[0].Items[0].Data = "\xff"
	_, err := m.Marshal()
	if !errors.Is(err, errInvalidUTF8) {
		t.Errorf("error %v does not wrap errInvalidUTF8", err)
	}
	if !strings.HasPrefix(err.Error(), "marshalling SyncML message: ") {
		t.Errorf("error %q lacks context", err)
	}
}
