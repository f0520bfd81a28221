package syncml

import (
	"fmt"
	"testing"
)

// benchClientMessage is a realistic ~3 KB client message: a check-in answering a server
// package with Statuses for every command and Results for a Get of seven DevDetail nodes.
func benchClientMessage(tb testing.TB) []byte {
	tb.Helper()
	b := NewBuilder(Header{SessionID: "12", MsgID: "2", Target: serverURL, Source: deviceID}, 1)
	b.StatusSyncHdr("1", StatusOK, nil)
	nodes := []string{"SwV", "OEM", "FwV", "HwV", "DevTyp", "Ext/Microsoft/OSPlatform",
		"Ext/Microsoft/DeviceName"}
	get := Command{Verb: VerbGet, CmdID: "2"}
	var results []Item
	for _, n := range nodes {
		get.Items = append(get.Items, Item{Target: "./DevDetail/" + n})
		results = append(results, Item{Source: "./DevDetail/" + n,
			Meta: &Meta{Format: "chr", Type: "text/plain"}, Data: "value-of-" + n})
	}
	b.Status("1", get, StatusOK)
	b.Results("1", get, results)
	for i := range 4 {
		b.Status("1", Command{Verb: VerbReplace, CmdID: fmt.Sprint(3 + i),
			Items: []Item{{Target: policy(fmt.Sprintf("Setting%d", i))}}}, StatusOK)
	}
	b.Alert(AlertClientEvent, Item{Meta: &Meta{Type: TypeLoginStatus}, Data: "user"})
	out, err := b.Bytes(true)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func BenchmarkParseClientMessage(b *testing.B) {
	in := benchClientMessage(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseClientMessageDOM decodes the same message with the etree-based reference
// decoder, for the A/B against BenchmarkParseClientMessage.
func BenchmarkParseClientMessageDOM(b *testing.B) {
	in := benchClientMessage(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := parseDOM(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseClientMessageStream decodes it with the streaming decoder.
func BenchmarkParseClientMessageStream(b *testing.B) {
	in := benchClientMessage(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := parseStream(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildServerReply answers the parsed client message: header Status, a Status
// per client command, then Gets, a Replace and an Atomic of two Replaces, checking the
// size against MaxMsgSize before each command as a server does.
func BenchmarkBuildServerReply(b *testing.B) {
	req, err := Parse(benchClientMessage(b))
	if err != nil {
		b.Fatal(err)
	}
	cmds := []Command{
		{Verb: VerbGet, Items: []Item{{Target: "./DevDetail/SwV"}, {Target: "./DevInfo/DmV"}}},
		{Verb: VerbReplace, Items: []Item{{
			Target: "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls",
			Meta:   &Meta{Format: "chr", Type: "text/plain"}, Data: "signin.example.com;idp.example.com"}}},
		serverAtomic(),
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		rb := NewBuilder(ReplyHeader(req.Header, "2"), 1)
		rb.StatusSyncHdr(req.Header.MsgID, StatusOK, nil)
		for _, c := range req.Body {
			if c.Verb != VerbStatus && c.Verb != VerbResults {
				rb.Status(req.Header.MsgID, c, StatusOK)
			}
		}
		for _, c := range cmds {
			if rb.Size(true)+rb.CommandSize(c) <= 65536 {
				rb.Command(c)
			}
		}
		out, err := rb.Bytes(true)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.SetBytes(int64(size))
}
