package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/syncml"
)

const (
	adminToken    = "hmdm_e2e-admin-token"
	contosoTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01" // OnPremise
	fabrikamTen   = "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d" // Federated
	password      = "Correct horse battery 1"
)

// env is a running hellomdm server with two tenants and a user in each.
type env struct {
	t   *testing.T
	app *server.App
	url string
}

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, nil)
}

// startWith is start with the store wrapped by wrap (nil: as opened).
func startWith(t *testing.T, wrap func(store.Store) store.Store) *env {
	t.Helper()
	return startStore(t, testpg.OpenStore(t), wrap) // nil (bbolt) unless HELLOMDM_TEST_BACKEND=postgres
}

// startStore is start on the store open opens (nil: bbolt in the data directory), wrapped
// by wrap (nil: as opened).
func startStore(t *testing.T, open func(context.Context, string) (store.Store, error), wrap func(store.Store) store.Store) *env {
	t.Helper()
	return startOpts(t, open, wrap, nil)
}

// startOpts is startStore with the server options changed by tweak (nil: none).
func startOpts(t *testing.T, open func(context.Context, string) (store.Store, error), wrap func(store.Store) store.Store, tweak func(*server.Options)) *env {
	t.Helper()
	opts := server.Options{AdminToken: adminToken, Engine: omadm.Config{NoBackoff: true}}
	if tweak != nil {
		tweak(&opts)
	}
	opts.OpenStore = open
	if wrap != nil {
		open := opts.OpenStore
		if open == nil {
			open = func(_ context.Context, dir string) (store.Store, error) {
				return core.OpenBolt(filepath.Join(dir, server.DatabaseFile), bolt.Options{})
			}
		}
		opts.OpenStore = func(ctx context.Context, dir string) (store.Store, error) {
			st, err := open(ctx, dir)
			if err != nil {
				return nil, err
			}
			return wrap(st), nil
		}
	}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	app := testserve.Start(t, opts, server.Services)
	hash, err := idp.HashPassword(password, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range []store.Tenant{
		{ID: contosoTenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise},
		{ID: fabrikamTen, DisplayName: "Fabrikam", VerifiedDomains: []string{"fabrikam.com"}, AuthPolicy: store.AuthFederated},
	} {
		if err := app.Store.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []store.User{
		{TenantID: contosoTenant, ID: "u-alice", UPN: "alice@contoso.com", PasswordHash: hash},
		{TenantID: fabrikamTen, ID: "u-bob", UPN: "bob@fabrikam.com", PasswordHash: hash},
	} {
		if err := app.Store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, app: app, url: app.PublicURL.String()}
}

// agent opens a device agent in a fresh state directory with the given identity.
func (e *env) agent(id identity.Identity) *device.Agent {
	e.t.Helper()
	a, err := device.Open(e.t.TempDir(), device.Options{Identity: &id, HTTPTimeout: 20 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) enroll(a *device.Agent, upn string, shape enroll.CSRShape) {
	e.t.Helper()
	err := a.Enroll(context.Background(), enroll.Request{ServerURL: e.url, UPN: upn, Password: password,
		RootCAs: e.app.CA.Pool(), CSRShape: shape})
	if err != nil {
		e.t.Fatalf("enrolling %s: %v", upn, err)
	}
}

func newIdentity(t *testing.T, osVersion string, edition int) identity.Identity {
	t.Helper()
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	id.OSVersion, id.OSEdition = osVersion, edition
	return id
}

// api calls the admin API; out receives the JSON answer.
func (e *env) api(method, path string, body, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+"/api/v1"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

func (e *env) queue(tenant, deviceID string, cmd wire.CommandRequest) string {
	e.t.Helper()
	var v wire.Command
	if st := e.api(http.MethodPost, "/tenants/"+tenant+"/devices/"+deviceID+"/commands", cmd, &v); st != http.StatusCreated {
		e.t.Fatalf("queueing %s %s: HTTP %d", cmd.Verb, cmd.LocURI, st)
	}
	return v.ID
}

func (e *env) command(tenant, deviceID, id string) wire.Command {
	e.t.Helper()
	var v wire.Command
	if st := e.api(http.MethodGet, "/tenants/"+tenant+"/devices/"+deviceID+"/commands/"+id, nil, &v); st != http.StatusOK {
		e.t.Fatalf("reading command %s: HTTP %d", id, st)
	}
	return v
}

// checkin posts a Windows-shaped package 1 claiming to come from source over a connection
// presenting tlsCert, and returns the HTTP status and the SyncHdr status of the reply (0 when
// the reply is not SyncML). A TLS failure is returned as err.
func (e *env) checkin(tlsCert *tls.Certificate, source string) (httpStatus, hdrStatus int, err error) {
	e.t.Helper()
	cfg := &tls.Config{RootCAs: e.app.CA.Pool(), MinVersion: tls.VersionTLS12}
	if tlsCert != nil {
		cfg.Certificates = []tls.Certificate{*tlsCert}
	}
	mgmt := e.url + "/ManagementServer/MDM.svc"
	b := syncml.NewBuilder(syncml.Header{SessionID: "1", MsgID: "1", Target: mgmt, Source: source}, 2)
	b.Alert(syncml.AlertClientInitiated)
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevInfo/DevId", Data: source}}})
	body, berr := b.Bytes(true)
	if berr != nil {
		e.t.Fatal(berr)
	}
	req, rerr := http.NewRequest(http.MethodPost, mgmt+"?mode=Maintenance&Platform=WoA", bytes.NewReader(body))
	if rerr != nil {
		e.t.Fatal(rerr)
	}
	req.Header.Set("Content-Type", syncml.ContentType)
	resp, err := testpki.HTTPClient(cfg).Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m, perr := syncml.Parse(raw)
	if perr != nil {
		return resp.StatusCode, 0, nil
	}
	for _, c := range m.Body {
		if c.Verb == syncml.VerbStatus && c.CmdRef == "0" {
			n, _ := strconv.Atoi(c.Data)
			return resp.StatusCode, n, nil
		}
	}
	return resp.StatusCode, 0, nil
}

func tlsCertOf(t *testing.T, a *device.Agent) *tls.Certificate {
	t.Helper()
	cfg, err := a.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	return &cfg.Certificates[0]
}
