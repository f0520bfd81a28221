package syncml

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and generated fuzz seeds in testdata/")

const (
	serverURL = "https://mdm.example.com/ManagementServer/MDM.svc"
	deviceID  = "B5B954E81FBCB94EB79BD08BE625F4EE"
	tenantID  = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
)

// clientFirst is a Windows client's first message of a session (docs/protocol.md B.3): CmdIDs
// from 2, SessionID "0", LoginStatus user, the DevInfo Replace.
func clientFirst() *Message {
	devInfo := func(node, value string) Item {
		return Item{Source: "./DevInfo/" + node, Data: value}
	}
	return &Message{
		Header: Header{VerDTD: VerDTD, VerProto: VerProto, SessionID: "0", MsgID: "1",
			Target: serverURL, Source: deviceID},
		Body: []Command{
			{Verb: VerbAlert, CmdID: "2", Data: "1201"},
			{Verb: VerbAlert, CmdID: "3", Data: "1224",
				Items: []Item{{Meta: &Meta{Type: TypeLoginStatus}, Data: "user"}}},
			{Verb: VerbReplace, CmdID: "4", Items: []Item{
				devInfo("DevId", deviceID),
				devInfo("Man", "VMware, Inc."),
				devInfo("Mod", "VMware7,1"),
				devInfo("DmV", "1.3"),
				devInfo("Lang", "en-US"),
			}},
		},
		Final: true,
	}
}

func policy(name string) string {
	return "./Device/Vendor/MSFT/PassportForWork/" + tenantID + "/Policies/" + name
}

// serverGet and serverAtomic are the commands of serverReply; clientResults answers them.
func serverGet() Command {
	return Command{Verb: VerbGet, Items: []Item{{Target: "./DevDetail/SwV"}}}
}

func serverAtomic() Command {
	boolItem := func(name string) Item {
		return Item{Target: policy(name), Meta: &Meta{Format: "bool", Type: "text/plain"}, Data: "true"}
	}
	return Command{Verb: VerbAtomic, Commands: []Command{
		{Verb: VerbReplace, Items: []Item{boolItem("UsePassportForWork")}},
		{Verb: VerbReplace, Items: []Item{boolItem("EnablePinRecovery")}},
	}}
}

// serverReply answers clientFirst (docs/protocol.md B.4): header Status, a Status per client
// command, a Get, a chr Replace, an Atomic of two Replaces, Final.
func serverReply() *Message {
	req := clientFirst()
	b := NewBuilder(ReplyHeader(req.Header, "1"), 1)
	b.StatusSyncHdr(req.Header.MsgID, StatusOK, nil)
	for _, c := range req.Body {
		b.Status(req.Header.MsgID, c, StatusOK)
	}
	b.Command(serverGet())
	b.Command(Command{Verb: VerbReplace, Items: []Item{{
		Target: "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls",
		Meta:   &Meta{Format: "chr", Type: "text/plain"},
		Data:   "signin.example.com;idp.example.com",
	}}})
	b.Command(serverAtomic())
	return b.Message(true)
}

// clientResults is the client's answer to serverReply (docs/protocol.md B.5), with Results for
// the Get.
func clientResults() *Message {
	reply := serverReply()
	b := NewBuilder(ReplyHeader(reply.Header, "2"), 1)
	b.StatusSyncHdr(reply.Header.MsgID, StatusOK, nil)
	for _, c := range reply.Body {
		switch c.Verb {
		case VerbStatus:
		case VerbGet:
			b.Status(reply.Header.MsgID, c, StatusOK)
			b.Results(reply.Header.MsgID, c, []Item{{
				Source: "./DevDetail/SwV",
				Meta:   &Meta{Format: "chr", Type: "text/plain"},
				Data:   "10.0.19045.2965",
			}})
		default:
			b.Status(reply.Header.MsgID, c, StatusOK)
			for _, child := range c.Commands {
				b.Status(reply.Header.MsgID, child, StatusOK)
			}
		}
	}
	return b.Message(true)
}

// clientStatus500 reports 500 for the server's SyncHdr and for a Replace, with a detail item.
func clientStatus500() *Message {
	b := NewBuilder(Header{SessionID: "D", MsgID: "3", Target: serverURL, Source: deviceID}, 1)
	b.StatusSyncHdr("2", StatusCommandFailed, nil)
	ref := Command{Verb: VerbReplace, CmdID: "7", Items: []Item{{Target: policy("EnablePinRecovery")}}}
	b.Status("2", ref, StatusCommandFailed, Item{Data: "0x86000002"})
	return b.Message(true)
}

// clientUnenroll is a first message carrying a user-requested unenrollment (docs/protocol.md B.9).
func clientUnenroll() *Message {
	return &Message{
		Header: Header{VerDTD: VerDTD, VerProto: VerProto, SessionID: "5", MsgID: "1",
			Target: serverURL, Source: deviceID},
		Body: []Command{
			{Verb: VerbAlert, CmdID: "2", Data: "1201"},
			{Verb: VerbAlert, CmdID: "3", Data: "1226", Items: []Item{{
				Meta: &Meta{Type: TypeUnenrollUser, Format: "int"},
				Data: "1",
			}}},
		},
		Final: true,
	}
}

// serverChallenge exercises the rarer fields: header Cred and Meta, Chal, NoResp, DataXML,
// MoreData, Size, Exec, Delete, Sequence, and values needing escapes.
func serverChallenge() *Message {
	h := Header{SessionID: "2", MsgID: "2", Target: deviceID, Source: serverURL,
		Cred: &Cred{Format: "b64", Type: "syncml:auth-md5", Data: "c2VjcmV0"},
		Meta: &Meta{MaxMsgSize: 65536, MaxObjSize: 4194304}}
	b := NewBuilder(h, 1)
	b.StatusSyncHdr("2", StatusMissingCredentials,
		&Chal{Format: "b64", Type: "syncml:auth-md5", NextNonce: "Zm9vYmFy"})
	b.Command(Command{Verb: VerbReplace, NoResp: true, Items: []Item{{
		Target:  "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml",
		Meta:    &Meta{Format: "xml"},
		DataXML: `<WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1"><name>Corp &amp; "Guest"</name><x a="1&lt;2"/></WLANProfile>`,
	}}})
	b.Command(Command{Verb: VerbAdd, Items: []Item{{
		Target:   "./Vendor/MSFT/Example/Blob",
		Meta:     &Meta{Format: "b64", Size: 12},
		Data:     "chunk-1 <a> & ]]> end",
		MoreData: true,
	}}})
	b.Command(Command{Verb: VerbSequence, Commands: []Command{
		{Verb: VerbDelete, Items: []Item{{Target: "./Vendor/MSFT/Example/Old"}}},
		{Verb: VerbExec, Items: []Item{{Target: "./Vendor/MSFT/DMClient/Unenroll", Data: "hellomdm"}}},
	}})
	return b.Message(false)
}

var goldenCases = []struct {
	name  string
	model func() *Message
}{
	{"client_first", clientFirst},
	{"server_reply", serverReply},
	{"client_results", clientResults},
	{"client_status500", clientStatus500},
	{"client_unenroll", clientUnenroll},
	{"server_challenge", serverChallenge},
}

var interTagSpace = regexp.MustCompile(`>\s+<`)

// compact turns a golden (indented) file into wire form. Goldens hold no whitespace-only
// values, so removing whitespace between tags is exact for them.
func compact(b []byte) []byte {
	return interTagSpace.ReplaceAll(bytes.TrimSpace(b), []byte("><"))
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			model := tc.model()
			indented, err := model.MarshalIndent("  ")
			if err != nil {
				t.Fatalf("MarshalIndent: %v", err)
			}
			indented = append(indented, '\n')
			path := filepath.Join("testdata", tc.name+".xml")
			if *update {
				writeFile(t, path, indented)
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(indented, golden) {
				t.Errorf("MarshalIndent differs from %s:\n got: %s\nwant: %s", path, indented, golden)
			}

			wire, err := model.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := compact(golden); !bytes.Equal(wire, want) {
				t.Errorf("Marshal differs from compacted %s:\n got: %s\nwant: %s", path, wire, want)
			}
			if *update {
				writeSeed(t, "golden-"+tc.name, wire)
			}

			fromGolden, err := Parse(golden)
			if err != nil {
				t.Fatalf("Parse(golden): %v", err)
			}
			if !reflect.DeepEqual(fromGolden, model) {
				t.Errorf("Parse(golden) differs from model:\n got: %#v\nwant: %#v", fromGolden, model)
			}

			fromWire, err := Parse(wire)
			if err != nil {
				t.Fatalf("Parse(Marshal): %v", err)
			}
			if !reflect.DeepEqual(fromWire, model) {
				t.Errorf("Parse(Marshal) differs from model:\n got: %#v\nwant: %#v", fromWire, model)
			}
			again, err := fromWire.Marshal()
			if err != nil {
				t.Fatalf("second Marshal: %v", err)
			}
			if !bytes.Equal(again, wire) {
				t.Errorf("parse → marshal not stable:\n got: %s\nwant: %s", again, wire)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// writeSeed writes b as a seed of FuzzParse in the go fuzz corpus format.
func writeSeed(t *testing.T, name string, b []byte) {
	t.Helper()
	path := filepath.Join("testdata", "fuzz", "FuzzParse", name)
	writeFile(t, path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b))
}
