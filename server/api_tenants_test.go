package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

const (
	tenantB   = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
	newTenant = "11111111-2222-4333-8444-555555555555"
)

// startIdentityServer is startServer with the identity provider and the PIN reset service
// built (Open with Services), plus a second tenant B (fabrikam.com).
func startIdentityServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	opts := Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken}
	var pg testpg.Store
	opts.OpenStore, pg = testBackend(t)
	app, err := Open(context.Background(), opts, Services)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	ts := &testServer{t: t, app: app, dir: dir, opts: opts, pg: pg, base: "https://" + app.Addr().String(),
		admin: testpki.HTTPClient(testpki.ClientTLS(app.CA.Pool(), nil, nil)), done: make(chan error, 1)}
	go func() { ts.done <- app.Serve() }()
	t.Cleanup(ts.stop)
	ctx := context.Background()
	for _, tn := range []store.Tenant{
		{ID: testTenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise},
		{ID: tenantB, DisplayName: "Fabrikam", VerifiedDomains: []string{"fabrikam.com"}, AuthPolicy: store.AuthOnPremise},
	} {
		if err := app.Store.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	return ts
}

// newToken creates an admin token through the API with the global test token.
func (ts *testServer) newToken(role, tenantID string, tags ...string) string {
	ts.t.Helper()
	var out wire.CreatedToken
	body := wire.TokenRequest{Name: role + "@" + tenantID, Role: role, TenantID: tenantID, RoleScopeTagIDs: tags}
	if st := ts.api(http.MethodPost, "/tokens", body, &out); st != http.StatusCreated || out.Secret == "" {
		ts.t.Fatalf("creating %s token: HTTP %d", role, st)
	}
	return out.Secret
}

// raw sends a literal body and returns the status and the error code of the answer.
func (ts *testServer) raw(token, method, path, body string) (int, string) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.admin.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e apiError
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code
}

// events returns a tenant's audit events.
func (ts *testServer) events(tenantID string) []*audit.Event {
	ts.t.Helper()
	var out []*audit.Event
	err := ts.app.Store.AuditEvents(context.Background(), tenantID, 0, func(e *audit.Event) (bool, error) {
		out = append(out, e)
		return true, nil
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return out
}

// findEvent returns the last event of a kind and action about a subject.
func findEvent(evs []*audit.Event, kind audit.Kind, action, subjectID string) *audit.Event {
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if e.Kind == kind && e.Action == action && e.Subject.ID == subjectID {
			return e
		}
	}
	return nil
}

func TestTenantAPI(t *testing.T) {
	ts := startIdentityServer(t)
	reader := ts.newToken(store.RoleReader, "")
	operator := ts.newToken(store.RoleOperator, "")
	adminA := ts.newToken(store.RoleAdmin, testTenant)
	adminB := ts.newToken(store.RoleAdmin, tenantB)

	t.Run("create", func(t *testing.T) {
		var v wire.Tenant
		body := wire.TenantRequest{ID: strings.ToUpper(newTenant), DisplayName: " Northwind ", VerifiedDomains: []string{"NorthWind.example", "nw.example"},
			AuthPolicy: "federated", FederationHost: "sts.northwind.example", GovCloud: true, RoleScopeTagIDs: []string{"Berlin"}}
		if st := ts.api(http.MethodPost, "/tenants", body, &v); st != http.StatusCreated {
			t.Fatalf("HTTP %d", st)
		}
		if v.ID != newTenant || v.DisplayName != "Northwind" || strings.Join(v.VerifiedDomains, ",") != "northwind.example,nw.example" ||
			v.AuthPolicy != store.AuthFederated || v.FederationHost != "sts.northwind.example" || !v.GovCloud || v.RoleScopeTagIDs[0] != "Berlin" || v.CreatedAt.IsZero() {
			t.Fatalf("created %+v", v)
		}
		if e := findEvent(ts.events(newTenant), audit.KindAdminWrite, "create", newTenant); e == nil || e.Actor.TokenID == "" || e.Subject.Type != audit.SubjectTenant {
			t.Fatalf("no audit event in the new tenant's log: %+v", e)
		}
		var got wire.Tenant
		if st := ts.api(http.MethodGet, "/tenants/"+newTenant, nil, &got); st != http.StatusOK || got.DisplayName != "Northwind" {
			t.Fatalf("get: HTTP %d %+v", st, got)
		}
	})
	t.Run("default auth policy", func(t *testing.T) {
		var v wire.Tenant
		body := wire.TenantRequest{ID: "22222222-2222-4333-8444-555555555555", DisplayName: "Litware", VerifiedDomains: []string{"litware.example"}}
		if st := ts.api(http.MethodPost, "/tenants", body, &v); st != http.StatusCreated || v.AuthPolicy != store.AuthOnPremise {
			t.Fatalf("HTTP %d %+v", st, v)
		}
	})

	good := `{"id":"33333333-2222-4333-8444-555555555555","displayName":"X","verifiedDomains":["x.example"],"authPolicy":"OnPremise"}`
	errCases := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"no token", "", "POST", "/tenants", good, 401, "unauthorized"},
		{"unknown token", "hmdm_nope", "GET", "/tenants", "", 401, "unauthorized"},
		{"reader cannot create", reader, "POST", "/tenants", good, 403, "forbidden"},
		{"operator cannot create", operator, "POST", "/tenants", good, 403, "forbidden"},
		{"tenant admin cannot create", adminA, "POST", "/tenants", good, 403, "forbidden"},
		{"bad JSON", testToken, "POST", "/tenants", `{"id":`, 400, "badRequest"},
		{"unknown field", testToken, "POST", "/tenants", `{"id":"x","color":"red"}`, 400, "badRequest"},
		{"trailing data", testToken, "POST", "/tenants", good + `{}`, 400, "badRequest"},
		{"too large", testToken, "POST", "/tenants", `{"displayName":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "tooLarge"},
		{"bad GUID", testToken, "POST", "/tenants", `{"id":"not-a-guid","displayName":"X","verifiedDomains":["x.example"]}`, 422, "invalidTenant"},
		{"braced GUID", testToken, "POST", "/tenants", `{"id":"{33333333-2222-4333-8444-555555555555}","displayName":"X","verifiedDomains":["x.example"]}`, 422, "invalidTenant"},
		{"unknown auth policy", testToken, "POST", "/tenants", strings.Replace(good, "OnPremise", "Kerberos", 1), 422, "invalidTenant"},
		{"no domain", testToken, "POST", "/tenants", `{"id":"33333333-2222-4333-8444-555555555555","displayName":"X","verifiedDomains":[]}`, 422, "invalidTenant"},
		{"bad domain", testToken, "POST", "/tenants", strings.Replace(good, "x.example", "x_y..example", 1), 422, "invalidTenant"},
		{"no display name", testToken, "POST", "/tenants", strings.Replace(good, `"X"`, `""`, 1), 422, "invalidTenant"},
		{"duplicate id", testToken, "POST", "/tenants", strings.Replace(good, "33333333-2222-4333-8444-555555555555", testTenant, 1), 409, "conflict"},
		{"duplicate domain", testToken, "POST", "/tenants", strings.Replace(good, "x.example", "Contoso.com", 1), 409, "conflict"},
		{"other tenant's tenant", adminB, "GET", "/tenants/" + testTenant, "", 404, "notFound"},
		{"absent tenant", testToken, "GET", "/tenants/44444444-2222-4333-8444-555555555555", "", 404, "notFound"},
		{"patch unknown field", testToken, "PATCH", "/tenants/" + testTenant, `{"id":"` + tenantB + `"}`, 400, "badRequest"},
		{"patch bad policy", testToken, "PATCH", "/tenants/" + testTenant, `{"authPolicy":"Cert"}`, 422, "invalidTenant"},
		{"patch domain of another tenant", testToken, "PATCH", "/tenants/" + testTenant, `{"verifiedDomains":["contoso.com","fabrikam.com"]}`, 409, "conflict"},
		{"patch other tenant", adminB, "PATCH", "/tenants/" + testTenant, `{"displayName":"Mine"}`, 404, "notFound"},
		{"patch by operator", operator, "PATCH", "/tenants/" + testTenant, `{"displayName":"Mine"}`, 403, "forbidden"},
		{"patch by reader", reader, "PATCH", "/tenants/" + testTenant, `{"displayName":"Mine"}`, 403, "forbidden"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			if st, code := ts.raw(c.token, c.method, c.path, c.body); st != c.status || code != c.code {
				t.Fatalf("HTTP %d %q; want %d %q", st, code, c.status, c.code)
			}
		})
	}
	t.Run("refusal recorded in the tenant log", func(t *testing.T) {
		if e := findEvent(ts.events(testTenant), audit.KindAuthRefused, "PATCH", testTenant); e == nil {
			t.Fatal("no auth.refused event")
		}
	})

	t.Run("patch", func(t *testing.T) {
		var v wire.Tenant
		body := map[string]any{"displayName": "Contoso Ltd", "verifiedDomains": []string{"contoso.com", "contoso.net"}, "govCloud": true, "federationHost": "adfs.contoso.com"}
		if st := ts.apiAs(adminA, http.MethodPatch, "/tenants/"+testTenant, body, &v); st != http.StatusOK {
			t.Fatalf("HTTP %d", st)
		}
		if v.DisplayName != "Contoso Ltd" || len(v.VerifiedDomains) != 2 || !v.GovCloud || v.FederationHost != "adfs.contoso.com" || v.AuthPolicy != store.AuthOnPremise {
			t.Fatalf("patched %+v", v)
		}
		if got, err := ts.app.Store.TenantByDomain(context.Background(), "contoso.net"); err != nil || got.ID != testTenant {
			t.Fatalf("domain index: %v %v", got.ID, err)
		}
		e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "update", testTenant)
		if e == nil {
			t.Fatal("no audit event")
		}
		var d struct{ Before, After wire.Tenant }
		if err := json.Unmarshal(e.Details, &d); err != nil || d.Before.DisplayName != "Contoso" || d.After.DisplayName != "Contoso Ltd" {
			t.Fatalf("details %s: %v", e.Details, err)
		}
	})

	t.Run("list is filtered by tenant", func(t *testing.T) {
		for _, c := range []struct {
			name, token string
			want        []string
		}{
			{"global", reader, []string{testTenant, tenantB, newTenant}},
			{"tenant A", adminA, []string{testTenant}},
			{"tenant B", adminB, []string{tenantB}},
		} {
			var out struct{ Value []wire.Tenant }
			if st := ts.apiAs(c.token, http.MethodGet, "/tenants", nil, &out); st != http.StatusOK {
				t.Fatalf("%s: HTTP %d", c.name, st)
			}
			ids := map[string]bool{}
			for _, v := range out.Value {
				ids[v.ID] = true
			}
			for _, w := range c.want {
				if !ids[w] {
					t.Errorf("%s: %s missing from %v", c.name, w, ids)
				}
			}
			if c.name != "global" && len(ids) != 1 {
				t.Errorf("%s sees %v", c.name, ids)
			}
		}
	})
}

// Deleting a tenant: global admins only; 409 naming the enrolled devices unless force=true,
// which retires them (their check-ins are refused); then the tenant, its users and tokens
// are gone, its audit log (with the deletion event) is kept, and the other tenant is
// untouched.
func TestTenantDelete(t *testing.T) {
	ts := startIdentityServer(t)
	ctx := context.Background()
	path := "/tenants/" + testTenant
	var u wire.User
	if st := ts.api(http.MethodPost, path+"/users", map[string]any{"userPrincipalName": "bob@contoso.com", "passwordProfile": map[string]string{"password": "Correct horse 1"}}, &u); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	adminA := ts.newToken(store.RoleAdmin, testTenant)
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	dev := ts.enroll("dev-contoso")
	for _, tc := range []struct {
		name, token, path string
		status            int
		code              string
	}{
		{"tenant admin", adminA, path, 403, "forbidden"},
		{"other tenant's admin", adminB, path, 404, "notFound"},
		{"bad force", testToken, path + "?force=maybe", 400, "badRequest"},
		{"enrolled device", testToken, path, 409, "conflict"},
		{"unknown tenant", testToken, "/tenants/" + newTenant, 404, "notFound"},
	} {
		if st, code := ts.raw(tc.token, http.MethodDelete, tc.path, ""); st != tc.status || code != tc.code {
			t.Errorf("%s: HTTP %d %q, want %d %q", tc.name, st, code, tc.status, tc.code)
		}
	}
	var conflict wire.TenantDeletionConflict
	if st := ts.api(http.MethodDelete, path, nil, &conflict); st != http.StatusConflict || conflict.EnrolledDevices != 1 || !strings.Contains(conflict.Error.Message, "1 enrolled devices") {
		t.Fatalf("delete with an enrolled device: %d %+v", st, conflict)
	}
	if _, err := ts.app.Store.User(ctx, testTenant, u.ID); err != nil {
		t.Fatalf("a refused delete changed the tenant: %v", err)
	}
	if st := ts.api(http.MethodDelete, path+"?force=true", nil, nil); st != http.StatusNoContent {
		t.Fatalf("forced delete: %d", st)
	}
	if st := ts.api(http.MethodGet, path, nil, nil); st != http.StatusNotFound {
		t.Errorf("GET after delete: %d", st)
	}
	if _, err := ts.app.Store.TenantByDomain(ctx, "contoso.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted tenant's domain still resolves: %v", err)
	}
	if _, err := ts.app.Store.User(ctx, testTenant, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted tenant's user: %v", err)
	}
	if st, _ := ts.raw(adminA, http.MethodGet, "/tenants", ""); st != http.StatusUnauthorized {
		t.Errorf("the deleted tenant's token still authenticates: HTTP %d", st)
	}
	if st := ts.apiAs(adminB, http.MethodGet, "/tenants/"+tenantB, nil, nil); st != http.StatusOK {
		t.Errorf("the other tenant after delete: %d", st)
	}
	evs := ts.events(testTenant)
	if e := findEvent(evs, audit.KindAdminWrite, "delete", testTenant); e == nil || e.Subject.Type != audit.SubjectTenant || !bytes.Contains(e.Details, []byte("contoso.com")) {
		t.Fatalf("no deletion event in the kept audit log: %+v", e)
	}
	if findEvent(evs, audit.KindRetired, "retire", dev.id) == nil {
		t.Errorf("the forced retirement is not audited")
	}
	raw, _ := dev.first().Bytes(true)
	st, body := dev.post(raw)
	m, err := syncml.Parse(body)
	if err != nil {
		t.Fatalf("HTTP %d: %s", st, body)
	}
	if code, _ := statusFor(m, "0"); code != syncml.StatusForbidden && code != syncml.StatusInvalidCredentials {
		t.Fatalf("check-in of the deleted tenant's device: HTTP %d SyncHdr status %d", st, code)
	}
}
