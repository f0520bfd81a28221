package syncml

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// diffSeeds are inputs written for FuzzParseStreamMatchesDOM: each exercises a rule where a
// streaming decoder could part from the tree-based one (first-wins versus last-wins
// elements, error precedence across the header and the body, text assembly, nested XML).
var diffSeeds = []string{
	// Body before header: the header's error wins over the body's, as in parseDOM.
	`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncBody><Foo/></SyncBody>` + hdrWith(`<VerDTD>1.2</VerDTD>`, `<VerDTD>1.1</VerDTD>`) + `</SyncML>`,
	`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncBody><Alert><CmdID>1</CmdID><Data>1</Data></Alert><Final/></SyncBody>` + okHdr + `</SyncML>`,
	// A semantic error, then a well-formedness error: malformed wins.
	doc(okHdr, `<Foo/>`) + `<`,
	doc(okHdr, `<Alert><CmdID>1</CmdID></Alert>`+`<Get><CmdID>2</CmdID></Got>`),
	// Wrong namespace together with a second root / text outside: malformed wins.
	`<SyncML xmlns="urn:x"/><SyncML/>`,
	`<SyncML xmlns="urn:x"/>x`,
	`<SyncML xmlns="urn:x" xmlns="SYNCML:SYNCML1.2"></SyncML>`,
	`<SyncML xmlns="SYNCML:SYNCML1.2" xmlns="urn:x"></SyncML>`,
	`<s:SyncML xmlns="urn:x" xmlns:s="syncml:syncml1.2">` + okHdr + `<SyncBody/></s:SyncML>`,
	`<s:SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr + `<SyncBody/></s:SyncML>`,
	"\ufeff" + doc(okHdr, `<Final/>`),
	`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + doc(okHdr, `<Final/>`),
	`<?xml version="1.0" encoding="ISO-8859-1"?>` + doc(okHdr, `<Final/>`),
	`<?xml version="1.0" encoding="utf-16"?><x`,
	`<!-- c --><?pi x?>` + doc(okHdr, `<Final/>`) + `<!-- after -->` + "\n",
	// Repeated elements: the first SyncHdr, SyncBody, VerDTD, CmdID, Meta, Data, Chal win;
	// Meta children, Cred/Data and TargetRef repeat.
	`<SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr + hdrWith(`<MsgID>1</MsgID>`, `<MsgID>9</MsgID>`) +
		`<SyncBody><Final/></SyncBody><SyncBody><Foo/></SyncBody></SyncML>`,
	doc(hdrWith(`<VerDTD>1.2</VerDTD>`, `<VerDTD> 1.2 </VerDTD><VerDTD>x</VerDTD>`), ``),
	doc(hdrWith(`<MsgID>1</MsgID>`, `<MsgID>1</MsgID><Cred><Meta><Format>b64</Format><Type>a</Type></Meta>`+
		`<Meta><Type>b</Type></Meta><Data>x</Data><Data> y </Data></Cred><Cred><Data>z</Data></Cred>`+
		`<Meta><MaxMsgSize>10</MaxMsgSize><MaxMsgSize>20</MaxMsgSize></Meta><Meta><Size>x</Size></Meta>`), ``),
	doc(hdrWith(`<MsgID>1</MsgID>`, `<MsgID>1</MsgID><Cred><Meta><Size>-1</Size></Meta><Meta><Size>x</Size></Meta></Cred><Meta><Size>y</Size></Meta>`), ``),
	doc(hdrWith(`<MsgID>1</MsgID>`, `<MsgID>1</MsgID><Meta><Size>y</Size></Meta>`), `<Foo/>`),
	doc(okHdr, `<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><CmdRef>9</CmdRef><Cmd>SyncHdr</Cmd>`+
		`<TargetRef>a</TargetRef><TargetRef> b </TargetRef><SourceRef>c</SourceRef>`+
		`<Chal><Meta><Format>b64</Format><NextNonce>n</NextNonce></Meta><Meta><Size>x</Size></Meta></Chal><Chal><Meta><Size>x</Size></Meta></Chal>`+
		`<Data>401</Data><Data>200</Data></Status>`),
	doc(okHdr, `<Status><CmdID>1</CmdID><CmdRef/><Cmd/><Data/></Status><Status><CmdID>2</CmdID><CmdRef>1</CmdRef><Cmd>Get</Cmd></Status>`),
	doc(okHdr, `<Status><CmdID>1</CmdID><CmdRef>1</CmdRef><Data>200</Data><Chal><Meta><Size>x</Size></Meta></Chal></Status>`),
	doc(okHdr, `<Results><CmdID>1</CmdID><Item><Meta><Size>1</Size></Meta><Meta><Size>x</Size></Meta></Item></Results>`),
	doc(okHdr, `<Results><CmdID>1</CmdID><CmdRef>2</CmdRef><Item><Meta><Size>x</Size></Meta></Item></Results><Foo/>`),
	doc(okHdr, `<Get><CmdID>1</CmdID><Meta><MaxObjSize>x</MaxObjSize></Meta></Get>`),
	doc(okHdr, `<Get><CmdID>1</CmdID><Meta><Type>a</Type><Type>b</Type></Meta><Meta><Size>x</Size></Meta><NoResp/><Unknown><CmdID>5</CmdID></Unknown></Get>`),
	doc(okHdr, `<Get><Meta><Size>x</Size></Meta></Get>`),
	doc(okHdr, `<Get><CmdID>1</CmdID></Get><Get><CmdID> 1 </CmdID></Get>`),
	doc(okHdr, `<Atomic><Get><CmdID>1</CmdID></Get><CmdID>1</CmdID></Atomic>`),
	doc(okHdr, `<Atomic><CmdID>1</CmdID><NoResp/><Meta/><Item/></Atomic>`),
	doc(okHdr, `<Sequence><CmdID>1</CmdID><Get><CmdID>2</CmdID></Get><Atomic><CmdID>3</CmdID><Final/></Atomic></Sequence>`),
	doc(okHdr, `<Sequence><Get/></Sequence>`),
	// Text: entities, character references, CDATA, comments between pieces.
	doc(okHdr, `<Alert><CmdID>&#x31;</CmdID><Data> 12<!--x-->01 </Data><Item><Data>&lt;a&gt;<![CDATA[ b ]]>&amp;<?p?> c </Data></Item></Alert>`),
	doc(okHdr, `<Alert><CmdID><x>1</x></CmdID><Data>1</Data></Alert>`),
	doc(okHdr, `<Alert><CmdID>1<x>2</x>3</CmdID><Data>1</Data></Alert>`),
	doc(okHdr, `<Alert><CmdID>1</CmdID><Data>1</Data><Item><Target><LocURI>a</LocURI><LocURI>b</LocURI></Target><Target><LocURI>c</LocURI></Target>`+
		`<Source><Foo>x</Foo></Source><Data>1</Data><Data>2</Data><MoreData/></Item></Alert>`),
	// Nested XML in Item Data, with prefixes, attributes, comments, CDATA and text around.
	doc(okHdr, `<Results><CmdID>1</CmdID><CmdRef>1</CmdRef><Item><Data> pre <p:a xmlns:p="u" p:b='&quot;"' c="1&#10;2">t&amp;<![CDATA[<>]]><b/><!--c--><?pi x?></p:a> post </Data></Item></Results>`),
	doc(okHdr, `<Results><CmdID>1</CmdID><CmdRef>1</CmdRef><Item><Data><MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>x</NodeName></Node></MgmtTree></Data></Item></Results>`),
	doc(okHdr, `<Replace><CmdID>1</CmdID><Item><Data><a b="1" b="2"/></Data></Item></Replace>`),
	// Prefixes on everything and on nothing; elements matched by local name.
	`<x:SyncML xmlns:x="SYNCML:SYNCML1.2"><y:SyncHdr><VerDTD>1.2</VerDTD><z:VerProto>DM/1.2</z:VerProto><SessionID>1</SessionID><MsgID>1</MsgID>` +
		`<Target><q:LocURI>a</q:LocURI></Target><Source><LocURI>b</LocURI></Source></y:SyncHdr><y:SyncBody><r:Alert><CmdID>1</CmdID><Data>1</Data></r:Alert></y:SyncBody></x:SyncML>`,
	doc(okHdr, `<Alert><CmdID>1</CmdID><Data>1</Data></a:Alert>`),
	doc(okHdr, `<Foo>`) + `</Foo>`,
	`<SyncML xmlns="SYNCML:SYNCML1.2">` + okHdr + `</SyncML>`,
	`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncBody/></SyncML>`,
	`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr/><SyncBody/></SyncML>`,
	doc(okHdr, `<Alert><CmdID>1</CmdID><Data>&unknown;</Data></Alert>`),
	doc(okHdr, "<Alert><CmdID>1</CmdID><Data>\xff</Data></Alert>"),
	doc(okHdr, "<Alert><CmdID>1</CmdID><Data>\x01</Data></Alert>"),
}

// FuzzParseStreamMatchesDOM is the differential test of the streaming decoder: on every
// input parseStream (and parseRawTokens, its RawToken path alone) and parseDOM both succeed with deep-equal messages, or both refuse with
// the same ErrorKind and the same text. It runs with the default limits and with a small MaxDepth, so the
// depth refusals are compared too. Its seeds are every SyncML file in testdata, the FuzzParse
// corpus and diffSeeds.
func FuzzParseStreamMatchesDOM(f *testing.F) {
	for _, in := range diffSeedCorpus(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, l := range []Limits{{}, {MaxDepth: 7}} {
			compareDecoders(t, in, l)
		}
	})
}

func compareDecoders(t *testing.T, in []byte, l Limits) {
	t.Helper()
	compareWith(t, parseStream, in, l)
	compareWith(t, parseRawTokens, in, l)
}

// compareWith holds one streaming decoder to parseDOM on one input.
func compareWith(t *testing.T, parse func([]byte, Limits) (*Message, error), in []byte, l Limits) {
	t.Helper()
	want, werr := parseDOM(in, l)
	got, gerr := parse(in, l)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("limits %+v: parseDOM error %v, parseStream error %v\ninput: %q", l, werr, gerr, in)
	}
	if werr != nil {
		var wpe, gpe *ParseError
		if !errors.As(werr, &wpe) || !errors.As(gerr, &gpe) {
			t.Fatalf("errors are not *ParseError: %T %T", werr, gerr)
		}
		// The text is compared too: the server answers with it (the badSyncML message).
		if wpe.Kind != gpe.Kind || werr.Error() != gerr.Error() {
			t.Fatalf("limits %+v: parseDOM refuses with %v, parseStream with %v\ninput: %q", l, werr, gerr, in)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("limits %+v: messages differ\nstream %#v\n   dom %#v\ninput: %q", l, got, want, in)
	}
}

// diffSeedCorpus gathers the differential seeds: testdata/*.xml, the FuzzParse corpus,
// extraSeeds and diffSeeds.
func diffSeedCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata/*.xml (%v)", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	corpus, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParse", "*"))
	if err != nil || len(corpus) == 0 {
		tb.Fatalf("no FuzzParse corpus (%v)", err)
	}
	for _, name := range corpus {
		out = append(out, readCorpusEntry(tb, name))
	}
	for _, s := range extraSeeds {
		out = append(out, []byte(s.in))
	}
	for _, s := range diffSeeds {
		out = append(out, []byte(s))
	}
	return out
}

// readCorpusEntry decodes a one-value []byte file in Go's fuzz corpus format.
func readCorpusEntry(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
		!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		tb.Fatalf("%s: not a one-value []byte corpus file", name)
	}
	v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return []byte(v)
}

// TestParseStreamMatchesDOMOnTestdata states the differential property on every seed by
// name, and checks that the seeds do reach both outcomes (some accepted, some refused).
func TestParseStreamMatchesDOMOnTestdata(t *testing.T) {
	accepted, refused := 0, 0
	for _, in := range diffSeedCorpus(t) {
		compareDecoders(t, in, Limits{})
		compareDecoders(t, in, Limits{MaxDepth: 7})
		if _, err := parseDOM(in, Limits{}); err != nil {
			refused++
		} else {
			accepted++
		}
	}
	if accepted < 10 || refused < 10 {
		t.Fatalf("seeds too one-sided: %d accepted, %d refused", accepted, refused)
	}
}

// TestParseStreamDataXML pins the nested-XML case, where the streaming decoder re-reads
// the Data element: DataXML is the reference's serialisation, not the raw bytes.
func TestParseStreamDataXML(t *testing.T) {
	in := doc(okHdr, `<Results><CmdID>1</CmdID><CmdRef>1</CmdRef><Item><Data> <a  b='1'>x<![CDATA[<]]></a><c></c> </Data></Item></Results>`)
	m, err := parseStream([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	const want = ` <a b="1">x&lt;</a><c/> `
	if got := m.Body[0].Items[0].DataXML; got != want {
		t.Fatalf("DataXML = %q, want %q", got, want)
	}
	if !bytes.Contains([]byte(in), []byte(`<a  b='1'>`)) {
		t.Fatal("test input lost its raw form")
	}
}

// TestScanFastTakesCommonMessages checks which inputs the fast scanner takes itself: the
// messages Windows sends and this package builds (so the differential tests exercise it),
// and that anything outside its subset goes to the RawToken path.
func TestScanFastTakesCommonMessages(t *testing.T) {
	golden, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(golden) == 0 {
		t.Fatalf("no testdata (%v)", err)
	}
	var fast [][]byte
	for _, name := range golden {
		if filepath.Base(name) == "server_challenge.xml" {
			continue // it holds entity references: the RawToken path's
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fast = append(fast, b)
	}
	fast = append(fast, benchClientMessage(t), []byte(`<s:SyncML xmlns:s='syncml:syncml1.2' a="1">`+okHdr+`<SyncBody><Foo b="x"/></SyncBody></s:SyncML>`))
	for _, in := range fast {
		s := streamParser{src: in, limits: Limits{}.withDefaults()}
		s.stack = []frame{{kind: kDoc}}
		if _, _, ok := s.scanFast(); !ok {
			t.Errorf("scanFast gave up on %.80q", in)
		}
	}
	slow := []string{
		doc(okHdr, `<Alert><CmdID>1</CmdID><Data>a&amp;b</Data></Alert>`),
		doc(okHdr, `<!--c--><Final/>`),
		doc(okHdr, `<Alert><CmdID>1</CmdID><Data><![CDATA[1]]></Data></Alert>`),
		`<?xml version="1.0"?>` + doc(okHdr, ``),
		doc(okHdr, "<Final/>\r\n"),
		doc(okHdr, "<Alert><CmdID>1</CmdID><Data>é</Data></Alert>"),
		doc(okHdr, `<Final/>`) + `<`,
		doc(okHdr, `<Final></Final >`),
		doc(okHdr, `<Final a="1"b="2"/>`),
		doc(okHdr, `<Final a = "1"/>`),
		doc(okHdr, `<1a/>`),
		doc(okHdr, `<a:b:c/>`),
		doc(okHdr, `<Final></Finale>`),
		dataDepth(40),
	}
	for _, in := range slow {
		s := streamParser{src: []byte(in), limits: Limits{}.withDefaults()}
		s.stack = []frame{{kind: kDoc}}
		if _, _, ok := s.scanFast(); ok {
			t.Errorf("scanFast took %q, which is outside its subset", in)
		}
	}
}
