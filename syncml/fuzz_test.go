package syncml

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// extraSeeds are written to testdata/fuzz/FuzzParse/ with -update, next to the golden
// messages (written by TestGolden).
var extraSeeds = []struct{ name, in string }{
	{"empty", ""},
	{"bare-root", `<SyncML/>`},
	{"billion-laughs", billionLaughs},
	{"external-entity", externalEntity},
	{"deep", dataDepth(30)},
	{"doctype", `<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" "x.dtd">` + doc(okHdr, `<Final/>`)},
	{"prefixed-lowercase", `<s:SyncML xmlns:s="syncml:syncml1.2"><s:SyncHdr><s:VerDTD>1.2</s:VerDTD><s:VerProto>DM/1.2</s:VerProto>` +
		`<s:SessionID>1</s:SessionID><s:MsgID>1</s:MsgID><s:Target><s:LocURI>a</s:LocURI></s:Target>` +
		`<s:Source><s:LocURI>b</s:LocURI></s:Source></s:SyncHdr><s:SyncBody><s:Final/></s:SyncBody></s:SyncML>`},
	{"cdata-dataxml", doc(okHdr, `<Replace><CmdID>1</CmdID><Item><Data><![CDATA[<a>&]]></Data></Item>`+
		`<Item><Meta><Size>3</Size><Unknown/></Meta><Data> <w a="&#xD;&#x9;">&#xD;<![CDATA[]]]]><![CDATA[>]]></w><!--c--></Data><MoreData/></Item></Replace>`)},
	{"duplicate-nested", doc(okHdr, `<Atomic><CmdID>1</CmdID><Sequence><CmdID>2</CmdID><Get><CmdID>1</CmdID></Get></Sequence></Atomic>`)},
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed corpus")
	}
	for _, s := range extraSeeds {
		writeSeed(t, s.name, []byte(s.in))
	}
}

// FuzzParse checks that Parse never panics, fails only with *ParseError, and that whatever
// it accepts survives Marshal → Parse and MarshalIndent → Parse unchanged, with a stable
// encoding.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed message: %v\ninput: %q", err, in)
		}
		// Escaping can make the output longer than the input; depth cannot grow.
		limits := Limits{MaxBytes: len(out) + 1}
		back, err := ParseWithLimits(out, limits)
		if err != nil {
			t.Fatalf("Parse(Marshal): %v\ninput: %q\noutput: %q", err, in, out)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the message:\n got %#v\nwant %#v\ninput: %q", back, m, in)
		}
		again, err := back.Marshal()
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("encoding not stable (%v):\n%q\n%q", err, again, out)
		}
		indented, err := m.MarshalIndent(" ")
		if err != nil {
			t.Fatalf("MarshalIndent: %v", err)
		}
		back, err = ParseWithLimits(indented, Limits{MaxBytes: len(indented) + 1})
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("indented round trip failed (%v):\n%s", err, indented)
		}
	})
}
