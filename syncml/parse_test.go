package syncml

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const okHdr = `<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>` +
	`<MsgID>1</MsgID><Target><LocURI>https://s</LocURI></Target><Source><LocURI>dev</LocURI></Source></SyncHdr>`

// doc wraps a SyncHdr and a SyncBody's content in a SyncML 1.2 root.
func doc(hdr, body string) string {
	return `<SyncML xmlns="SYNCML:SYNCML1.2">` + hdr + `<SyncBody>` + body + `</SyncBody></SyncML>`
}

// hdrWith returns okHdr with one piece replaced.
func hdrWith(old, repl string) string { return strings.Replace(okHdr, old, repl, 1) }

// nested returns n levels of <a> around a text.
func nested(n int) string {
	return strings.Repeat("<a>", n) + "x" + strings.Repeat("</a>", n)
}

// dataDepth wraps nested elements in SyncML/SyncBody/Replace/Item/Data (depth 5), so the
// deepest element sits at depth 5+n.
func dataDepth(n int) string {
	return doc(okHdr, `<Replace><CmdID>1</CmdID><Item><Data>`+nested(n)+`</Data></Item></Replace>`)
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE SyncML [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr + `<SyncBody><Alert><CmdID>1</CmdID><Data>&lol9;</Data></Alert></SyncBody></SyncML>`

const externalEntity = `<!DOCTYPE SyncML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr + `<SyncBody><Alert><CmdID>1</CmdID><Data>&xxe;</Data></Alert></SyncBody></SyncML>`

func TestParseRejects(t *testing.T) {
	alert := `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`
	tests := []struct {
		name   string
		in     string
		limits Limits
		want   ErrorKind
	}{
		{"empty body", "", Limits{}, KindMalformed},
		{"whitespace only", " \n\t ", Limits{}, KindMalformed},
		{"not XML", "hello", Limits{}, KindMalformed},
		{"unclosed root", `<SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr, Limits{}, KindMalformed},
		{"mismatched tags", doc(okHdr, `<Alert><CmdID>1</Data></Alert>`), Limits{}, KindMalformed},
		{"two roots", doc(okHdr, alert) + doc(okHdr, alert), Limits{}, KindMalformed},
		{"text after root", doc(okHdr, alert) + "junk", Limits{}, KindMalformed},
		{"wrong root element", `<SyncMLx xmlns="SYNCML:SYNCML1.2"/>`, Limits{}, KindMalformed},
		{"only SyncML, no namespace", `<SyncML/>`, Limits{}, KindWrongNamespace},
		{"only SyncML with namespace", `<SyncML xmlns="SYNCML:SYNCML1.2"/>`, Limits{}, KindMissingField},
		{"namespace 1.1", strings.Replace(doc(okHdr, alert), "SYNCML1.2", "SYNCML1.1", 1), Limits{}, KindWrongNamespace},
		{"no namespace", strings.Replace(doc(okHdr, alert), ` xmlns="SYNCML:SYNCML1.2"`, "", 1), Limits{}, KindWrongNamespace},
		{"VerDTD 1.1", doc(hdrWith("<VerDTD>1.2", "<VerDTD>1.1"), alert), Limits{}, KindWrongVersion},
		{"VerProto DM/1.1", doc(hdrWith("DM/1.2", "DM/1.1"), alert), Limits{}, KindWrongVersion},
		{"no VerDTD", doc(hdrWith("<VerDTD>1.2</VerDTD>", ""), alert), Limits{}, KindMissingField},
		{"no VerProto", doc(hdrWith("<VerProto>DM/1.2</VerProto>", ""), alert), Limits{}, KindMissingField},
		{"no SyncHdr", doc("", alert), Limits{}, KindMissingField},
		{"no SyncBody", `<SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr + `</SyncML>`, Limits{}, KindMissingField},
		{"no SessionID", doc(hdrWith("<SessionID>1</SessionID>", ""), alert), Limits{}, KindMissingField},
		{"empty SessionID", doc(hdrWith("<SessionID>1</SessionID>", "<SessionID> </SessionID>"), alert), Limits{}, KindMissingField},
		{"no MsgID", doc(hdrWith("<MsgID>1</MsgID>", ""), alert), Limits{}, KindMissingField},
		{"no Target", doc(hdrWith("<Target><LocURI>https://s</LocURI></Target>", ""), alert), Limits{}, KindMissingField},
		{"Target without LocURI", doc(hdrWith("<LocURI>https://s</LocURI>", ""), alert), Limits{}, KindMissingField},
		{"no Source", doc(hdrWith("<Source><LocURI>dev</LocURI></Source>", ""), alert), Limits{}, KindMissingField},
		{"no CmdID", doc(okHdr, `<Alert><Data>1201</Data></Alert>`), Limits{}, KindMissingField},
		{"empty CmdID", doc(okHdr, `<Get><CmdID></CmdID><Item><Target><LocURI>./a</LocURI></Target></Item></Get>`), Limits{}, KindMissingField},
		{"nested command without CmdID", doc(okHdr, `<Atomic><CmdID>1</CmdID><Replace><Item/></Replace></Atomic>`), Limits{}, KindMissingField},
		{"Status without CmdRef", doc(okHdr, `<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><Cmd>Get</Cmd><Data>200</Data></Status>`), Limits{}, KindMissingField},
		{"Status without Cmd", doc(okHdr, `<Status><CmdID>1</CmdID><CmdRef>1</CmdRef><Data>200</Data></Status>`), Limits{}, KindMissingField},
		{"Status without Data", doc(okHdr, `<Status><CmdID>1</CmdID><CmdRef>1</CmdRef><Cmd>Get</Cmd></Status>`), Limits{}, KindMissingField},
		{"Results without CmdRef", doc(okHdr, `<Results><CmdID>1</CmdID><Item><Data>x</Data></Item></Results>`), Limits{}, KindMissingField},
		{"Alert without Data", doc(okHdr, `<Alert><CmdID>1</CmdID></Alert>`), Limits{}, KindMissingField},
		{"over MaxBytes", doc(okHdr, alert), Limits{MaxBytes: 100}, KindTooLarge},
		{"over default 1 MiB", doc(okHdr, alert) + strings.Repeat(" ", DefaultMaxMessageBytes), Limits{}, KindTooLarge},
		{"over limit even if malformed", strings.Repeat("<", 101), Limits{MaxBytes: 100}, KindTooLarge},
		{"depth 33", dataDepth(28), Limits{}, KindTooDeep},
		{"depth over custom limit", dataDepth(3), Limits{MaxDepth: 7}, KindTooDeep},
		{"deep and unclosed", strings.Repeat("<a>", 100000), Limits{}, KindTooDeep},
		{"deep self-closing leaf", doc(okHdr, `<Replace><CmdID>1</CmdID><Item><Data>`+strings.Repeat("<a>", 27)+"<b/>"+strings.Repeat("</a>", 27)+`</Data></Item></Replace>`), Limits{}, KindTooDeep},
		{"duplicate CmdID", doc(okHdr, alert+alert), Limits{}, KindDuplicateCmdID},
		{"duplicate CmdID, whitespace", doc(okHdr, alert+`<Alert><CmdID> 1 </CmdID><Data>1201</Data></Alert>`), Limits{}, KindDuplicateCmdID},
		{"duplicate CmdID nested in Atomic", doc(okHdr, alert+`<Atomic><CmdID>2</CmdID><Delete><CmdID>1</CmdID><Item/></Delete></Atomic>`), Limits{}, KindDuplicateCmdID},
		{"duplicate CmdID parent and child", doc(okHdr, `<Sequence><CmdID>2</CmdID><Delete><CmdID>2</CmdID><Item/></Delete></Sequence>`), Limits{}, KindDuplicateCmdID},
		{"duplicate CmdID Sequence in Atomic", doc(okHdr, `<Atomic><CmdID>1</CmdID><Sequence><CmdID>2</CmdID><Get><CmdID>3</CmdID></Get><Get><CmdID>3</CmdID></Get></Sequence></Atomic>`), Limits{}, KindDuplicateCmdID},
		{"unknown element in SyncBody", doc(okHdr, `<Copy><CmdID>1</CmdID></Copy>`), Limits{}, KindBadCommand},
		{"Item directly in Atomic", doc(okHdr, `<Atomic><CmdID>1</CmdID><Item/></Atomic>`), Limits{}, KindBadCommand},
		{"Final in Sequence", doc(okHdr, `<Sequence><CmdID>1</CmdID><Final/></Sequence>`), Limits{}, KindBadCommand},
		{"MaxMsgSize not a number", doc(hdrWith("</SyncHdr>", `<Meta><MaxMsgSize xmlns="syncml:metinf">big</MaxMsgSize></Meta></SyncHdr>`), alert), Limits{}, KindBadValue},
		{"MaxMsgSize negative", doc(hdrWith("</SyncHdr>", `<Meta><MaxMsgSize>-1</MaxMsgSize></Meta></SyncHdr>`), alert), Limits{}, KindBadValue},
		{"MaxObjSize overflows int", doc(hdrWith("</SyncHdr>", `<Meta><MaxObjSize>99999999999999999999999</MaxObjSize></Meta></SyncHdr>`), alert), Limits{}, KindBadValue},
		{"Item Size fractional", doc(okHdr, `<Add><CmdID>1</CmdID><Item><Meta><Size>1.5</Size></Meta></Item></Add>`), Limits{}, KindBadValue},
		{"billion laughs", billionLaughs, Limits{}, KindMalformed},
		{"external entity", externalEntity, Limits{}, KindMalformed},
		{"undefined entity", doc(okHdr, `<Alert><CmdID>1</CmdID><Data>&nope;</Data></Alert>`), Limits{}, KindMalformed},
		{"declared ISO-8859-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + doc(okHdr, alert), Limits{}, KindUnsupportedEncoding},
		{"declared UTF-16", `<?xml version="1.0" encoding="UTF-16"?>` + doc(okHdr, alert), Limits{}, KindUnsupportedEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseWithLimits([]byte(tc.in), tc.limits)
			if err == nil {
				t.Fatalf("parsed %q, want %v error", tc.in, tc.want)
			}
			if m != nil {
				t.Errorf("got a message with the error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Kind != tc.want {
				t.Errorf("kind = %v (%v), want %v", pe.Kind, err, tc.want)
			}
			if !errors.Is(err, tc.want.sentinel()) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.want.sentinel())
			}
			if pe.Msg == "" || !strings.HasPrefix(err.Error(), "syncml: ") {
				t.Errorf("unhelpful message %q", err.Error())
			}
		})
	}
}

func TestParseErrorStatusCode(t *testing.T) {
	tests := []struct {
		kind ErrorKind
		want int
	}{
		{KindTooLarge, StatusRequestTooLarge},
		{KindMalformed, StatusBadRequest},
		{KindDuplicateCmdID, StatusBadRequest},
		{KindUnsupportedEncoding, StatusUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			if got := (&ParseError{Kind: tc.kind}).StatusCode(); got != tc.want {
				t.Errorf("StatusCode() = %d, want %d", got, tc.want)
			}
		})
	}
	if s := ErrorKind(99).String(); s != "ErrorKind(99)" {
		t.Errorf("unknown kind String() = %q", s)
	}
}

func TestParseAccepts(t *testing.T) {
	base := func() *Message {
		return &Message{Header: Header{VerDTD: VerDTD, VerProto: VerProto, SessionID: "1", MsgID: "1",
			Target: "https://s", Source: "dev"}}
	}
	with := func(cmds ...Command) *Message {
		m := base()
		m.Body = cmds
		return m
	}
	tests := []struct {
		name   string
		in     string
		limits Limits
		want   *Message
	}{
		{
			name: "lower-case namespace and XML declaration",
			in: `<?xml version="1.0" encoding="UTF-8"?>` + strings.Replace(doc(okHdr, `<Final/>`),
				"SYNCML:SYNCML1.2", "syncml:syncml1.2", 1),
			want: func() *Message { m := base(); m.Final = true; return m }(),
		},
		{
			name: "prefixed root and children",
			in: `<s:SyncML xmlns:s="SYNCML:SYNCML1.2"><s:SyncHdr><s:VerDTD>1.2</s:VerDTD><s:VerProto>DM/1.2</s:VerProto>` +
				`<s:SessionID>1</s:SessionID><s:MsgID>1</s:MsgID><s:Target><s:LocURI>https://s</s:LocURI></s:Target>` +
				`<s:Source><s:LocURI>dev</s:LocURI></s:Source></s:SyncHdr><s:SyncBody/></s:SyncML>`,
			want: base(),
		},
		{
			name: "whitespace around values",
			in: "\n" + `<SyncML xmlns="SYNCML:SYNCML1.2">
  <SyncHdr>
    <VerDTD> 1.2 </VerDTD><VerProto>
      DM/1.2
    </VerProto><SessionID> 1 </SessionID><MsgID>1
    </MsgID><Target> <LocURI> https://s </LocURI> </Target><Source><LocURI>dev</LocURI></Source>
  </SyncHdr>
  <SyncBody>
    <Alert> <CmdID> 2 </CmdID> <Data> 1201 </Data> </Alert>
  </SyncBody>
</SyncML>` + "\n",
			want: with(Command{Verb: VerbAlert, CmdID: "2", Data: "1201"}),
		},
		{
			name: "unknown elements in header, command, Item and Meta are ignored",
			in: doc(hdrWith("</SyncHdr>", `<Extra>1</Extra></SyncHdr>`),
				`<Alert><CmdID>2</CmdID><Correlator>c</Correlator><Data>1226</Data><Item><Source><LocURI>./x</LocURI><LocName>n</LocName></Source>`+
					`<Meta><Type xmlns="syncml:metinf">t</Type><Anchor xmlns="syncml:metinf"><Last>1</Last></Anchor><EMI>e</EMI></Meta>`+
					`<Unknown>u</Unknown><Data>1</Data></Item></Alert>`),
			want: with(Command{Verb: VerbAlert, CmdID: "2", Data: "1226",
				Items: []Item{{Source: "./x", Meta: &Meta{Type: "t"}, Data: "1"}}}),
		},
		{
			name: "Meta children without namespace",
			in:   doc(okHdr, `<Replace><CmdID>2</CmdID><Item><Meta><Format>int</Format><Type>text/plain</Type></Meta><Data>5</Data></Item></Replace>`),
			want: with(Command{Verb: VerbReplace, CmdID: "2",
				Items: []Item{{Meta: &Meta{Format: "int", Type: "text/plain"}, Data: "5"}}}),
		},
		{
			name: "CDATA in Data is text, kept verbatim",
			in:   doc(okHdr, `<Replace><CmdID>2</CmdID><Item><Data> <![CDATA[<wap-provisioningdoc/> & ]]> </Data></Item></Replace>`),
			want: with(Command{Verb: VerbReplace, CmdID: "2",
				Items: []Item{{Data: " <wap-provisioningdoc/> &  "}}}),
		},
		{
			name: "Data with elements becomes DataXML",
			in:   doc(okHdr, `<Replace><CmdID>2</CmdID><Item><Data> <a x='1'>t<!--c--><b/></a></Data></Item></Replace>`),
			want: with(Command{Verb: VerbReplace, CmdID: "2",
				Items: []Item{{DataXML: ` <a x="1">t<!--c--><b/></a>`}}}),
		},
		{
			name: "header Meta and Cred",
			in: doc(hdrWith("</SyncHdr>", `<Cred><Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-md5</Type></Meta><Data>ZGln</Data></Cred>`+
				`<Meta><MaxMsgSize xmlns="syncml:metinf"> 65536 </MaxMsgSize><MaxObjSize xmlns="syncml:metinf">0</MaxObjSize></Meta></SyncHdr>`), ``),
			want: func() *Message {
				m := base()
				m.Header.Cred = &Cred{Format: "b64", Type: "syncml:auth-md5", Data: "ZGln"}
				m.Header.Meta = &Meta{MaxMsgSize: 65536}
				return m
			}(),
		},
		{
			name: "DOCTYPE without entity use",
			in:   `<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" "http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V1_2.dtd">` + doc(okHdr, ``),
			want: base(),
		},
		{
			name: "depth 32 is allowed",
			in:   dataDepth(27),
			want: with(Command{Verb: VerbReplace, CmdID: "1",
				Items: []Item{{DataXML: nested(27)}}}),
		},
		{
			name:   "exactly MaxBytes",
			in:     doc(okHdr, ``),
			limits: Limits{MaxBytes: len(doc(okHdr, ``))},
			want:   base(),
		},
		{
			name: "comments and processing instructions around commands",
			in:   doc(okHdr, `<!-- hi --><?pi x?><Get><CmdID>2</CmdID><Item><Target><LocURI>./a</LocURI></Target></Item></Get>`),
			want: with(Command{Verb: VerbGet, CmdID: "2", Items: []Item{{Target: "./a"}}}),
		},
		{
			name: "nested Atomic is parsed, the receiver decides",
			in:   doc(okHdr, `<Atomic><CmdID>1</CmdID><NoResp/><Atomic><CmdID>2</CmdID><Get><CmdID>3</CmdID></Get></Atomic></Atomic>`),
			want: with(Command{Verb: VerbAtomic, CmdID: "1", NoResp: true, Commands: []Command{
				{Verb: VerbAtomic, CmdID: "2", Commands: []Command{{Verb: VerbGet, CmdID: "3"}}}}}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWithLimits([]byte(tc.in), tc.limits)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			assertRoundTrip(t, got)
		})
	}
}

// assertRoundTrip checks that m survives Marshal → Parse and MarshalIndent → Parse.
func assertRoundTrip(t *testing.T, m *Message) {
	t.Helper()
	for _, indent := range []string{"", "\t"} {
		out, err := m.MarshalIndent(indent)
		if err != nil {
			t.Fatalf("MarshalIndent(%q): %v", indent, err)
		}
		back, err := ParseWithLimits(out, Limits{MaxBytes: len(out) + 1})
		if err != nil {
			t.Fatalf("Parse(MarshalIndent(%q)): %v\n%s", indent, err, out)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip with indent %q changed the message:\n got %#v\nwant %#v\n%s", indent, back, m, out)
		}
	}
}

func TestMaxDepthScan(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"flat", `<a/>`, 1},
		{"nested", `<a><b><c/></b></a>`, 3},
		{"siblings", `<a><b/><b><c></c></b></a>`, 3},
		{"comment with tags", `<a><!-- <b><c><d> --></a>`, 1},
		{"CDATA with tags", `<a><![CDATA[<b><c>]]></a>`, 1},
		{"attribute with >", `<a x="1>2" y='<'><b/></a>`, 2},
		{"processing instruction", `<?xml version="1.0"?><?pi <b>?><a/>`, 1},
		{"DOCTYPE with internal subset", `<!DOCTYPE a [<!ENTITY e "<b>"><!ELEMENT a ANY>]><a><c/></a>`, 2},
		{"empty-element with space", `<a><b /></a>`, 2},
		{"text with >", `<a>x > y<b/></a>`, 2},
		{"trailing <", `<a><`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := maxDepth([]byte(tc.in), 100); got != tc.want {
				t.Errorf("maxDepth = %d, want %d", got, tc.want)
			}
		})
	}
	if got := maxDepth([]byte(nested(50)), 10); got != 11 {
		t.Errorf("maxDepth stops at limit+1: got %d, want 11", got)
	}
}
