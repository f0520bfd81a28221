package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

const (
	testToken  = "hmdm_test-admin-token"
	testTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
)

// testServer is a real hellomdm server over TLS on a loopback port.
type testServer struct {
	t    *testing.T
	app  *App
	dir  string
	opts Options
	// pg is the PostgreSQL schema the server runs on (zero on bbolt).
	pg testpg.Store
	// extra is Open's extra (nil: none; Services: the policy engine, IdP, console).
	extra func(*App) ([]Mount, omadm.PolicyHook, error)
	base  string
	admin *http.Client
	done  chan error
}

func startServer(t *testing.T, dir string, ec omadm.Config) *testServer {
	t.Helper()
	opts := Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken, Engine: ec}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts := &testServer{t: t, dir: dir}
	opts.OpenStore, ts.pg = testBackend(t)
	ts.opts = opts
	ts.start()
	t.Cleanup(func() { ts.stop() })
	return ts
}

// testBackend returns the store opener of a test server: nil (bbolt in the data directory),
// or with HELLOMDM_TEST_BACKEND=postgres a fresh schema kept across restarts.
func testBackend(t *testing.T) (func(context.Context, string) (store.Store, error), testpg.Store) {
	t.Helper()
	if !testpg.Postgres(t) {
		return nil, testpg.Store{}
	}
	pg := testpg.NewStore(t)
	return pg.Open, pg
}

func (ts *testServer) start() {
	ts.t.Helper()
	app, err := Open(context.Background(), ts.opts, ts.extra)
	if err != nil {
		ts.t.Fatalf("starting server: %v", err)
	}
	ts.app = app
	ts.opts.Addr = app.Addr().String() // a restart listens on the same port
	ts.base = "https://" + app.Addr().String()
	ts.admin = testpki.HTTPClient(testpki.ClientTLS(app.CA.Pool(), nil, nil))
	ts.done = make(chan error, 1)
	go func() { ts.done <- app.Serve() }()
	if _, err := app.Store.Tenant(context.Background(), testTenant); errors.Is(err, store.ErrNotFound) {
		if err := app.Store.CreateTenant(context.Background(), store.Tenant{ID: testTenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise}); err != nil {
			ts.t.Fatal(err)
		}
	}
}

// stop shuts the server down (idempotent).
func (ts *testServer) stop() {
	if ts.app == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.app.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	if err := <-ts.done; err != nil {
		ts.t.Errorf("serve: %v", err)
	}
	ts.app = nil
}

func (ts *testServer) restart() {
	ts.stop()
	ts.start()
}

// api calls the admin API with the test token; out (if non-nil) receives the JSON body.
func (ts *testServer) api(method, path string, body any, out any) int {
	ts.t.Helper()
	return ts.apiAs(testToken, method, path, body, out)
}

func (ts *testServer) apiAs(token, method, path string, body any, out any) int {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.base+"/api/v1"+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.admin.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			ts.t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// testDevice is a scripted OMA-DM client holding a certificate from the server's CA.
type testDevice struct {
	ts      *testServer
	id      string
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	client  *http.Client
	session int
	msgID   int
}

// enroll registers a device directly in the store with a certificate from the server's CA
// (enrollment over MS-MDE2 has its own end-to-end test).
func (ts *testServer) enroll(id string) *testDevice {
	ts.t.Helper()
	key := testpki.Key(ts.t)
	cert, err := ts.app.CA.IssueDevice(ca.DeviceCertRequest{PublicKey: &key.PublicKey, DeviceID: id, NotBefore: time.Now().Add(-time.Minute)})
	if err != nil {
		ts.t.Fatal(err)
	}
	_, err = ts.app.Store.RegisterDevice(context.Background(), store.Device{ID: id, TenantID: testTenant, HWDevID: strings.Repeat("A", 64),
		State: store.DeviceEnrolled, CertSerial: strings.ToUpper(cert.SerialNumber.Text(16)), EnrolledAt: time.Now(), OSVersion: "10.0.22631.2428"})
	if err != nil {
		ts.t.Fatal(err)
	}
	return &testDevice{ts: ts, id: id, cert: cert, key: key, client: testpki.HTTPClient(testpki.ClientTLS(ts.app.CA.Pool(), cert, key))}
}

// reconnect builds a fresh client (after a server restart the port is the same).
func (d *testDevice) reconnect() {
	d.client = testpki.HTTPClient(testpki.ClientTLS(d.ts.app.CA.Pool(), d.cert, d.key))
}

func (d *testDevice) header(msgID int) syncml.Header {
	return syncml.Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: strconv.Itoa(d.session), MsgID: strconv.Itoa(msgID),
		Target: d.ts.app.PublicURL.String() + ManagementPath, Source: d.id}
}

// first builds package 1 of a new session as Windows does: CmdIDs from 2, Alert 1201,
// Alert 1224 LoginStatus, Replace of DevInfo.
func (d *testDevice) first() *syncml.Builder {
	d.session++
	d.msgID = 1
	b := syncml.NewBuilder(d.header(1), 2)
	b.Alert(syncml.AlertClientInitiated)
	b.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeLoginStatus}, Data: "user"})
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{
		{Source: "./DevInfo/DevId", Data: d.id}, {Source: "./DevInfo/Man", Data: "Contoso Ltd."},
		{Source: "./DevInfo/Mod", Data: "Surface"}, {Source: "./DevInfo/DmV", Data: "1.3"}, {Source: "./DevInfo/Lang", Data: "en-US"},
	}})
	return b
}

// next starts the builder of the next message in the current session.
func (d *testDevice) next() *syncml.Builder {
	d.msgID++
	return syncml.NewBuilder(d.header(d.msgID), 1)
}

// post sends raw bytes and returns the HTTP status and body.
func (d *testDevice) post(body []byte) (int, []byte) {
	d.ts.t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.ts.base+ManagementPath+"?mode=Maintenance&Platform=WoA", bytes.NewReader(body))
	if err != nil {
		d.ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", syncml.ContentType)
	req.Header.Set("User-Agent", "MSFT OMA DM Client/1.2.0.1")
	resp, err := d.client.Do(req)
	if err != nil {
		d.ts.t.Fatalf("posting SyncML: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// send posts a built message (with Final) and parses the server's reply.
func (d *testDevice) send(b *syncml.Builder) *syncml.Message {
	d.ts.t.Helper()
	raw, err := b.Bytes(true)
	if err != nil {
		d.ts.t.Fatal(err)
	}
	status, body := d.post(raw)
	if status != http.StatusOK {
		d.ts.t.Fatalf("check-in: HTTP %d: %s", status, body)
	}
	m, err := syncml.Parse(body)
	if err != nil {
		d.ts.t.Fatalf("parsing reply: %v\n%s", err, body)
	}
	return m
}

// commands returns the server's new commands in a reply (not Status/Results/Alert).
func commandsOf(m *syncml.Message) []syncml.Command {
	var out []syncml.Command
	for _, c := range m.Body {
		switch c.Verb {
		case syncml.VerbStatus, syncml.VerbResults, syncml.VerbAlert:
			continue
		}
		out = append(out, c)
	}
	return out
}

func statusFor(m *syncml.Message, cmdRef string) (int, bool) {
	for _, c := range m.Body {
		if c.Verb == syncml.VerbStatus && c.CmdRef == cmdRef {
			n, err := c.StatusCode()
			return n, err == nil
		}
	}
	return 0, false
}

// queue queues one command for a device through the admin API and returns its ID.
func (ts *testServer) queue(deviceID string, req wire.CommandRequest) string {
	ts.t.Helper()
	var v wire.Command
	if st := ts.api(http.MethodPost, "/tenants/"+testTenant+"/devices/"+deviceID+"/commands", req, &v); st != http.StatusCreated {
		ts.t.Fatalf("queue: HTTP %d", st)
	}
	return v.ID
}

func (ts *testServer) command(deviceID, id string) wire.Command {
	ts.t.Helper()
	var v wire.Command
	if st := ts.api(http.MethodGet, "/tenants/"+testTenant+"/devices/"+deviceID+"/commands/"+id, nil, &v); st != http.StatusOK {
		ts.t.Fatalf("get command: HTTP %d", st)
	}
	return v
}

// apiError is the admin API's JSON error body (adminapi.WriteError).
type apiError = wire.ErrorBody

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
