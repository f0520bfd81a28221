package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// auditFailStore is the test's store whose admin writes, while broken is set, hand the
// backend an audit event it cannot append (no tenant): the append fails inside the write's
// transaction, as a full disk or a lost connection would make it.
type auditFailStore struct {
	store.Store
	broken atomic.Bool
}

func (f *auditFailStore) Write(ctx context.Context, fn func(tx store.Writer) error) error {
	if !f.broken.Load() {
		return f.Store.Write(ctx, fn)
	}
	return f.Store.Write(ctx, func(tx store.Writer) error { return fn(badAudit{tx}) })
}

// badAudit is a Writer whose Audit appends its first event without a tenant.
type badAudit struct{ store.Writer }

func (b badAudit) Audit(events ...*audit.Event) error {
	if len(events) == 0 {
		return b.Writer.Audit()
	}
	bad := *events[0]
	bad.TenantID = ""
	return b.Writer.Audit(append([]*audit.Event{&bad}, events[1:]...)...)
}

// startAuditFailServer is startIdentityServer on an auditFailStore.
func startAuditFailServer(t *testing.T) (*testServer, *auditFailStore) {
	t.Helper()
	dir := t.TempDir()
	open, pg := testBackend(t)
	if open == nil {
		open = openBolt
	}
	fs := &auditFailStore{}
	opts := Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken,
		OpenStore: func(ctx context.Context, dir string) (store.Store, error) {
			st, err := open(ctx, dir)
			if err != nil {
				return nil, err
			}
			fs.Store = st
			return fs, nil
		}}
	app, err := Open(context.Background(), opts, Services)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	ts := &testServer{t: t, app: app, dir: dir, opts: opts, pg: pg, base: "https://" + app.Addr().String(),
		admin: testpki.HTTPClient(testpki.ClientTLS(app.CA.Pool(), nil, nil)), done: make(chan error, 1)}
	go func() { ts.done <- app.Serve() }()
	t.Cleanup(ts.stop)
	for _, tn := range []store.Tenant{
		{ID: testTenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise},
		{ID: tenantB, DisplayName: "Fabrikam", VerifiedDomains: []string{"fabrikam.com"}, AuthPolicy: store.AuthOnPremise},
	} {
		if err := fs.CreateTenant(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
	}
	return ts, fs
}

// An admin write whose audit event cannot be appended answers 503 and stores nothing: the
// change and its audit record commit together or not at all.
func TestAdminWriteAuditFailure(t *testing.T) {
	ts, fs := startAuditFailServer(t)
	ctx := context.Background()
	st := fs.Store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateUser(ctx, store.User{TenantID: testTenant, ID: "u-alice", UPN: "alice@contoso.com"}))
	must(st.CreateGroup(ctx, store.Group{TenantID: testTenant, ID: "g1", DisplayName: "g1"}))
	must(st.CreateGroup(ctx, store.Group{TenantID: testTenant, ID: "g2", DisplayName: "g2"}))
	must(st.AddMembers(ctx, testTenant, "g1", store.Member{Kind: store.MemberUser, ID: "u-alice"}))
	var prof map[string]any
	profiles := "/tenants/" + testTenant + "/deviceConfigurations"
	if code := ts.api(http.MethodPost, profiles, json.RawMessage(customAllowList), &prof); code != http.StatusCreated {
		t.Fatalf("creating the profile: HTTP %d", code)
	}
	pid, _ := prof["id"].(string)
	tenant := "/tenants/" + testTenant

	unchanged := func(what string, ok bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("checking %s: %v", what, err)
		}
		if !ok {
			t.Fatalf("%s changed although the write answered 503", what)
		}
	}
	cases := []struct {
		name, method, path, body string
		unchanged                func(t *testing.T)
	}{
		{"create tenant", "POST", "/tenants", `{"id":"` + uuid.NewString() + `","displayName":"New","verifiedDomains":["new.example"]}`, func(t *testing.T) {
			ts, err := st.ListTenants(ctx)
			unchanged("the tenant list", len(ts) == 2, err)
		}},
		{"patch tenant", "PATCH", tenant, `{"displayName":"Changed"}`, func(t *testing.T) {
			tn, err := st.Tenant(ctx, testTenant)
			unchanged("the tenant", tn.DisplayName == "Contoso", err)
		}},
		{"create user", "POST", tenant + "/users", `{"userPrincipalName":"bob@contoso.com","displayName":"Bob","passwordProfile":{"password":"correct horse battery"}}`, func(t *testing.T) {
			us, err := st.ListUsers(ctx, testTenant)
			unchanged("the user list", len(us) == 1, err)
		}},
		{"enroll TOTP", "POST", tenant + "/users/u-alice/authenticationMethods/totp", ``, func(t *testing.T) {
			u, err := st.User(ctx, testTenant, "u-alice")
			unchanged("the user's TOTP secret", len(u.TOTPSecret) == 0, err)
		}},
		{"create token", "POST", "/tokens", `{"name":"x","role":"reader","tenantId":"` + testTenant + `"}`, func(t *testing.T) {
			toks, err := st.ListTokens(ctx)
			unchanged("the token list", len(toks) == 1, err)
		}},
		{"consent", "POST", tenant + "/pinReset/consent", `{"app":"service","granted":true}`, func(t *testing.T) {
			tn, err := st.Tenant(ctx, testTenant)
			unchanged("the tenant's consent", tn.PinResetServiceConsentAt == nil, err)
		}},
		{"create group", "POST", tenant + "/groups", `{"displayName":"New"}`, func(t *testing.T) {
			gs, err := st.ListGroups(ctx, testTenant)
			unchanged("the group list", len(gs) == 2, err)
		}},
		{"delete group", "DELETE", tenant + "/groups/g2", ``, func(t *testing.T) {
			_, err := st.Group(ctx, testTenant, "g2")
			unchanged("the group", true, err)
		}},
		{"add member", "POST", tenant + "/groups/g2/members", `{"id":"u-alice"}`, func(t *testing.T) {
			ms, err := st.Members(ctx, testTenant, "g2")
			unchanged("the members", len(ms) == 0, err)
		}},
		{"remove member", "DELETE", tenant + "/groups/g1/members/u-alice", ``, func(t *testing.T) {
			ms, err := st.Members(ctx, testTenant, "g1")
			unchanged("the members", len(ms) == 1, err)
		}},
		{"create profile", "POST", profiles, customAllowList, func(t *testing.T) {
			ps, err := st.ListProfiles(ctx, testTenant)
			unchanged("the profile list", len(ps) == 1, err)
		}},
		{"update profile", "PATCH", profiles + "/" + pid, `{"displayName":"Renamed"}`, func(t *testing.T) {
			p, err := st.Profile(ctx, testTenant, pid)
			unchanged("the profile", p.Version == 1 && p.Name != "Renamed", err)
		}},
		{"assign profile", "POST", profiles + "/" + pid + "/assign", `{"assignments":[{"target":{"@odata.type":"` + store.TargetAllDevices + `"}}]}`, func(t *testing.T) {
			as, err := st.Assignments(ctx, testTenant, pid)
			unchanged("the assignments", len(as) == 0, err)
		}},
		{"delete profile", "DELETE", profiles + "/" + pid, ``, func(t *testing.T) {
			_, err := st.Profile(ctx, testTenant, pid)
			unchanged("the profile", true, err)
		}},
	}
	// adminWrites counts the admin-write events of both tenants. (The PIN reset service
	// records its failed consent call in an event of its own.)
	adminWrites := func() int {
		n := 0
		for _, e := range append(ts.events(testTenant), ts.events(tenantB)...) {
			if e.Kind == audit.KindAdminWrite {
				n++
			}
		}
		return n
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := adminWrites()
			fs.broken.Store(true)
			code, errCode := ts.raw(testToken, c.method, c.path, c.body)
			fs.broken.Store(false)
			if code != http.StatusServiceUnavailable || errCode != "unavailable" {
				t.Fatalf("HTTP %d %q; want 503 \"unavailable\"", code, errCode)
			}
			c.unchanged(t)
			if after := adminWrites(); after != before {
				t.Fatalf("%d admin-write events appended by a write that was not stored", after-before)
			}
		})
	}
}

// The audit event of an update shows the object as the write stored it, the same view the
// answer shows (the store sets UpdatedAt and Version inside the transaction).
func TestAdminWriteAuditShowsStoredState(t *testing.T) {
	ts := startIdentityServer(t)
	var view wire.Tenant
	if code := ts.api(http.MethodPatch, "/tenants/"+testTenant, map[string]any{"displayName": "Renamed"}, &view); code != http.StatusOK {
		t.Fatalf("PATCH tenant: HTTP %d", code)
	}
	e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "update", testTenant)
	if e == nil {
		t.Fatal("no tenant update event")
	}
	var details struct{ Before, After wire.Tenant }
	if err := json.Unmarshal(e.Details, &details); err != nil {
		t.Fatal(err)
	}
	if details.Before.DisplayName != "Contoso" || details.After.DisplayName != "Renamed" || !details.After.UpdatedAt.Equal(view.UpdatedAt) ||
		details.After.UpdatedAt.IsZero() {
		t.Fatalf("event before %+v after %+v; answer %+v", details.Before, details.After, view)
	}

	var prof map[string]any
	profiles := "/tenants/" + testTenant + "/deviceConfigurations"
	if code := ts.api(http.MethodPost, profiles, json.RawMessage(customAllowList), &prof); code != http.StatusCreated {
		t.Fatalf("creating the profile: HTTP %d", code)
	}
	pid, _ := prof["id"].(string)
	var updated map[string]any
	if code := ts.api(http.MethodPatch, profiles+"/"+pid, json.RawMessage(`{"displayName":"Renamed"}`), &updated); code != http.StatusOK {
		t.Fatalf("PATCH profile: HTTP %d", code)
	}
	e = findEvent(ts.events(testTenant), audit.KindAdminWrite, "update", pid)
	if e == nil {
		t.Fatal("no profile update event")
	}
	var pd struct{ Before, After map[string]any }
	if err := json.Unmarshal(e.Details, &pd); err != nil {
		t.Fatal(err)
	}
	if pd.Before["version"] != float64(1) || pd.After["version"] != float64(2) || updated["version"] != float64(2) || pd.After["displayName"] != "Renamed" {
		t.Fatalf("event before %v after %v; answer %v", pd.Before, pd.After, updated)
	}
}
