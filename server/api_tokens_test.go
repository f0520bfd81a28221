package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

func TestTokenAPI(t *testing.T) {
	ts := startIdentityServer(t)
	operator := ts.newToken(store.RoleOperator, "")
	adminA := ts.newToken(store.RoleAdmin, testTenant)
	scoped := ts.newToken(store.RoleAdmin, "", "Berlin")

	var created wire.CreatedToken
	t.Run("create", func(t *testing.T) {
		body := wire.TokenRequest{Name: "ci", Role: "Reader", TenantID: strings.ToUpper(testTenant), RoleScopeTagIDs: []string{"Berlin"}}
		if st := ts.api(http.MethodPost, "/tokens", body, &created); st != http.StatusCreated {
			t.Fatalf("HTTP %d", st)
		}
		if created.ID == "" || !strings.HasPrefix(created.Secret, "hmdm_") || created.Role != store.RoleReader || created.TenantID != testTenant || created.RoleScopeTagIDs[0] != "Berlin" {
			t.Fatalf("created %+v", created)
		}
		// The secret works, within its tenant and role.
		if st := ts.apiAs(created.Secret, http.MethodGet, "/tenants/"+testTenant, nil, nil); st != http.StatusOK {
			t.Fatalf("new token: HTTP %d", st)
		}
		if st := ts.apiAs(created.Secret, http.MethodGet, "/tenants/"+tenantB, nil, nil); st != http.StatusNotFound {
			t.Fatalf("new token on tenant B: HTTP %d", st)
		}
		e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "create", created.ID)
		if e == nil || e.Subject.Type != audit.SubjectToken || bytes.Contains(e.Details, []byte(created.Secret)) || bytes.Contains(e.Details, []byte(adminapi.HashToken(created.Secret))) {
			t.Fatalf("audit event %+v", e)
		}
		if findEvent(ts.events(tenantB), audit.KindAdminWrite, "create", created.ID) != nil {
			t.Fatal("tenant A's token recorded in tenant B's log")
		}
	})
	t.Run("global token recorded in every tenant", func(t *testing.T) {
		var g wire.CreatedToken
		if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "global reader", Role: "reader"}, &g); st != http.StatusCreated {
			t.Fatalf("HTTP %d", st)
		}
		for _, tid := range []string{testTenant, tenantB} {
			if findEvent(ts.events(tid), audit.KindAdminWrite, "create", g.ID) == nil {
				t.Errorf("no event in %s", tid)
			}
		}
	})
	t.Run("scoped admin grants only its tags", func(t *testing.T) {
		var v wire.CreatedToken
		if st := ts.apiAs(scoped, http.MethodPost, "/tokens", wire.TokenRequest{Name: "sub", Role: "reader"}, &v); st != http.StatusCreated ||
			len(v.RoleScopeTagIDs) != 1 || v.RoleScopeTagIDs[0] != "Berlin" {
			t.Fatalf("HTTP %d %+v", st, v)
		}
	})

	errCases := []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"operator", operator, `{"name":"x","role":"reader"}`, 403, "forbidden"},
		{"tenant admin", adminA, `{"name":"x","role":"reader","tenantId":"` + testTenant + `"}`, 403, "forbidden"},
		{"scoped admin widens", scoped, `{"name":"x","role":"reader","roleScopeTagIds":["Paris"]}`, 403, "forbidden"},
		{"bad JSON", testToken, `{"name":`, 400, "badRequest"},
		{"unknown field", testToken, `{"name":"x","role":"reader","hash":"00"}`, 400, "badRequest"},
		{"too large", testToken, `{"name":"` + strings.Repeat("n", 70<<10) + `"}`, 413, "tooLarge"},
		{"unknown role", testToken, `{"name":"x","role":"owner"}`, 422, "invalidToken"},
		{"no name", testToken, `{"role":"reader"}`, 422, "invalidToken"},
		{"bad tenant id", testToken, `{"name":"x","role":"reader","tenantId":"contoso"}`, 422, "invalidToken"},
		{"unknown tenant", testToken, `{"name":"x","role":"reader","tenantId":"44444444-2222-4333-8444-555555555555"}`, 422, "invalidToken"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			if st, code := ts.raw(c.token, "POST", "/tokens", c.body); st != c.status || code != c.code {
				t.Fatalf("HTTP %d %q; want %d %q", st, code, c.status, c.code)
			}
		})
	}

	t.Run("list", func(t *testing.T) {
		body := func(token string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, ts.base+"/api/v1/tokens", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := ts.admin.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		st, all := body(testToken)
		if st != http.StatusOK || !strings.Contains(all, created.ID) || !strings.Contains(all, `"bootstrap"`) && !strings.Contains(all, "env:HELLOMDM_ADMIN_TOKEN") {
			t.Fatalf("global list: HTTP %d %s", st, all)
		}
		if strings.Contains(all, created.Secret) || strings.Contains(all, adminapi.HashToken(created.Secret)) || strings.Contains(all, `"hash"`) || strings.Contains(all, `"token"`) {
			t.Fatalf("list leaks secrets: %s", all)
		}
		st, mine := body(adminA)
		if st != http.StatusOK || !strings.Contains(mine, created.ID) || strings.Contains(mine, "global reader") {
			t.Fatalf("tenant list: HTTP %d %s", st, mine)
		}
		if st, _ := body(operator); st != http.StatusForbidden {
			t.Fatalf("operator list: HTTP %d", st)
		}
	})
}
