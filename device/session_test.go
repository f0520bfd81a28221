package device

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/device/resetpolicy"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/syncml"
)

const testTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

// fakeServer is an OMA-DM server scripted per test: first answers package 1, later messages
// get Statuses only (or Alert 1222 when the client's message lacks Final).
type fakeServer struct {
	t     *testing.T
	ts    *httptest.Server
	mu    sync.Mutex
	got   []*syncml.Message
	sizes []int
	first func(m *syncml.Message) []byte
}

func newFakeServer(t *testing.T, first func(m *syncml.Message) []byte) *fakeServer {
	f := &fakeServer{t: t, first: first}
	f.ts = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m, err := syncml.Parse(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.got = append(f.got, m)
	f.sizes = append(f.sizes, len(body))
	n := len(f.got)
	f.mu.Unlock()
	if n == 1 {
		w.Write(f.first(m))
		return
	}
	b := syncml.NewBuilder(syncml.ReplyHeader(m.Header, strconv.Itoa(n)), 1)
	b.StatusSyncHdr(m.Header.MsgID, syncml.StatusOK, nil)
	if !m.Final {
		b.Alert(syncml.AlertNextMessage)
	}
	out, _ := b.Bytes(m.Final)
	w.Write(out)
}

// reply builds a server message answering m with the given commands and Final.
func reply(m *syncml.Message, cmds ...syncml.Command) []byte {
	b := syncml.NewBuilder(syncml.ReplyHeader(m.Header, "1"), 1)
	b.StatusSyncHdr(m.Header.MsgID, syncml.StatusOK, nil)
	for _, c := range m.Body {
		b.Status(m.Header.MsgID, c, syncml.StatusOK)
	}
	for _, c := range cmds {
		b.Command(c)
	}
	out, _ := b.Bytes(true)
	return out
}

// enrolledAgent writes the state of a device enrolled with the fake server and opens it.
func enrolledAgent(t *testing.T, f *fakeServer, opts Options) *Agent {
	t.Helper()
	dir := t.TempDir()
	cert, key := testpki.SelfSigned(t, "device")
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, data := range map[string][]byte{
		certs.FileKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		certs.FileCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		certs.FileCA:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ts.Certificate().Raw}),
	} {
		if err := statefile.WriteFileAtomic(dir+"/"+name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := statefile.WriteJSON(dir+"/"+fileEnrollment, enroll.Enrollment{State: enroll.StateEnrolled, ManagementURL: f.ts.URL + "/ManagementServer/MDM.svc",
		ProviderID: "hellomdm", UPN: "alice@contoso.com", TenantID: testTenant}); err != nil {
		t.Fatal(err)
	}
	a, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.tree.Set(resetpolicy.PassportDevice+"/"+testTenant+"/Policies", ""); err != nil {
		t.Fatal(err)
	}
	return a
}

func item(target, format, data string) syncml.Item {
	it := syncml.Item{Target: target, Data: data}
	if format != "" {
		it.Meta = &syncml.Meta{Format: format}
	}
	return it
}

const pinURI = "./Device/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/EnablePinRecovery"

func TestSessionStatuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  syncml.Command
		want []int // statuses the device sends for the command (and its children)
	}{
		{"node not in the catalog", syncml.Command{Verb: "Replace", Items: []syncml.Item{item("./Vendor/MSFT/Nope/X", "chr", "x")}}, []int{404}},
		{"bool given yes", syncml.Command{Verb: "Replace", Items: []syncml.Item{item(pinURI, "bool", "yes")}}, []int{415}},
		{"Replace on read-only DevInfo", syncml.Command{Verb: "Replace", Items: []syncml.Item{item("./DevInfo/Man", "chr", "Evil")}}, []int{405}},
		{"Replace of EnablePinRecovery", syncml.Command{Verb: "Replace", Items: []syncml.Item{item(pinURI, "bool", "true")}}, []int{200}},
		{"Get of DevDetail/SwV", syncml.Command{Verb: "Get", Items: []syncml.Item{item("./DevDetail/SwV", "", "")}}, []int{200}},
		{"Atomic whose second command fails", syncml.Command{Verb: "Atomic", Commands: []syncml.Command{
			{Verb: "Replace", Items: []syncml.Item{item(pinURI, "bool", "true")}},
			{Verb: "Replace", Items: []syncml.Item{item("./Vendor/MSFT/Nope/X", "chr", "x")}},
		}}, []int{507, 216, 404}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t, func(m *syncml.Message) []byte { return reply(m, tc.cmd) })
			a := enrolledAgent(t, f, Options{})
			rep, err := a.Sync(context.Background())
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if len(f.got) != 2 {
				t.Fatalf("server got %d messages, want 2", len(f.got))
			}
			var got []int
			var results []syncml.Command
			for _, c := range f.got[1].Body {
				if c.Verb == syncml.VerbStatus && c.CmdRef != "0" {
					n, _ := c.StatusCode()
					got = append(got, n)
					if c.MsgRef != "1" {
						t.Errorf("Status MsgRef %q, want 1", c.MsgRef)
					}
				}
				if c.Verb == syncml.VerbResults {
					results = append(results, c)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("statuses %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("statuses %v, want %v", got, tc.want)
				}
			}
			if tc.cmd.Verb == "Get" && (len(results) != 1 || results[0].Items[0].Data != a.Identity().OSVersion) {
				t.Errorf("results = %+v", results)
			}
			wantPIN := tc.name == "Replace of EnablePinRecovery"
			if a.Policy().PINRecoveryEnabled != wantPIN {
				t.Errorf("PIN recovery = %t, want %t (rolled back?)", a.Policy().PINRecoveryEnabled, wantPIN)
			}
			if len(rep.Applied) != len(tc.want) {
				t.Errorf("report applied %+v", rep.Applied)
			}
		})
	}
}

func TestPackageOneShape(t *testing.T) {
	f := newFakeServer(t, func(m *syncml.Message) []byte { return reply(m) })
	a := enrolledAgent(t, f, Options{})
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 1 {
		t.Fatalf("server got %d messages, want 1 (no commands ends the session)", len(f.got))
	}
	m := f.got[0]
	if m.Header.SessionID != "1" || m.Header.MsgID != "1" || m.Header.Source != a.Identity().DeviceID || m.MaxMsgSize() != DefaultMaxMsgSize {
		t.Errorf("header = %+v", m.Header)
	}
	if m.Body[0].CmdID != "2" || m.Body[0].Data != "1201" || m.Body[1].AlertType() != syncml.TypeLoginStatus || m.Body[1].Items[0].Data != "user" {
		t.Errorf("first commands = %+v %+v", m.Body[0], m.Body[1])
	}
	if !m.Final {
		t.Error("package 1 lacks Final")
	}
	// The next session takes the next SessionID.
	if rep, _ := a.Sync(context.Background()); rep.SessionID != "2" {
		t.Errorf("second session ID %q", rep.SessionID)
	}
}

func TestMalformedReplyKeepsState(t *testing.T) {
	f := newFakeServer(t, func(m *syncml.Message) []byte { return []byte("<SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr>") })
	a := enrolledAgent(t, f, Options{})
	before := a.Nodes()
	_, err := a.Sync(context.Background())
	if err == nil {
		t.Fatal("sync accepted a malformed reply")
	}
	if a.Enrollment().State != enroll.StateEnrolled || len(a.Nodes()) != len(before) {
		t.Errorf("state changed after a failed session")
	}
	var pe *syncml.ParseError
	if !errors.As(err, &pe) {
		t.Errorf("err = %v, want a *syncml.ParseError inside", err)
	}
}

func TestRefusedSyncHdr(t *testing.T) {
	f := newFakeServer(t, func(m *syncml.Message) []byte {
		b := syncml.NewBuilder(syncml.ReplyHeader(m.Header, "1"), 1)
		b.StatusSyncHdr(m.Header.MsgID, syncml.StatusForbidden, nil)
		out, _ := b.Bytes(true)
		return out
	})
	a := enrolledAgent(t, f, Options{})
	_, err := a.Sync(context.Background())
	var re *omadm.RefusedError
	if !errors.As(err, &re) || re.Status != 403 {
		t.Fatalf("err = %v, want omadm.RefusedError 403", err)
	}
}

// Statuses and Results beyond MaxMsgSize go in further messages without Final.
func TestSplitOverMaxMsgSize(t *testing.T) {
	const gets = 20
	f := newFakeServer(t, func(m *syncml.Message) []byte {
		var cmds []syncml.Command
		for range gets {
			cmds = append(cmds, syncml.Command{Verb: "Get", Items: []syncml.Item{item("./DevDetail/Ext/Microsoft/OSPlatform", "", "")}})
		}
		return reply(m, cmds...)
	})
	a := enrolledAgent(t, f, Options{MaxMsgSize: 4096})
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.got) < 4 {
		t.Fatalf("server got %d messages; want the answers split", len(f.got))
	}
	statuses := 0
	for i, m := range f.got[1:] {
		last := i == len(f.got)-2
		if m.Final != last {
			t.Errorf("message %d Final=%t", i+2, m.Final)
		}
		if f.sizes[i+1] > 4096 {
			t.Errorf("message %d is %d bytes", i+2, f.sizes[i+1])
		}
		for _, c := range m.Body {
			if c.Verb == syncml.VerbStatus && c.Cmd == "Get" {
				statuses++
			}
		}
	}
	if statuses != gets {
		t.Errorf("%d Get statuses, want %d", statuses, gets)
	}
}
