package server

import (
	"net/http"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

func TestPinResetOnboardingAPI(t *testing.T) {
	ts := startIdentityServer(t)
	reader := ts.newToken(store.RoleReader, testTenant)
	operator := ts.newToken(store.RoleOperator, testTenant)
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	sps := "/tenants/" + testTenant + "/servicePrincipals"
	consent := "/tenants/" + testTenant + "/pinReset/consent"

	state := func(t *testing.T, token string) map[string]wire.ServicePrincipal {
		t.Helper()
		var out struct {
			Value []wire.ServicePrincipal
		}
		if st := ts.apiAs(token, http.MethodGet, sps, nil, &out); st != http.StatusOK || len(out.Value) != 2 {
			t.Fatalf("HTTP %d %+v", st, out)
		}
		m := map[string]wire.ServicePrincipal{}
		for _, v := range out.Value {
			m[v.App] = v
		}
		return m
	}
	t.Run("nothing consented at first", func(t *testing.T) {
		m := state(t, reader)
		if m["service"].Consented || m["client"].Consented || m["service"].AppID != pinreset.ServiceAppID || m["client"].AppID != pinreset.ClientAppID ||
			m["service"].DisplayName != "Microsoft Pin Reset Service Production" || m["service"].ConsentedAt != nil {
			t.Fatalf("%+v", m)
		}
	})

	steps := []struct {
		name, app          string
		granted            bool
		wantSvc, wantCli   bool
		wantAction, wantID string
	}{
		{"grant service", "service", true, true, false, "grantConsent", pinreset.ServiceAppID},
		{"grant client by app ID", pinreset.ClientAppID, true, true, true, "grantConsent", pinreset.ClientAppID},
		{"revoke service", "Service", false, false, true, "revokeConsent", pinreset.ServiceAppID},
	}
	for _, c := range steps {
		t.Run(c.name, func(t *testing.T) {
			var out struct {
				Value []wire.ServicePrincipal
			}
			if st := ts.api(http.MethodPost, consent, map[string]any{"app": c.app, "granted": c.granted}, &out); st != http.StatusOK || len(out.Value) != 2 {
				t.Fatalf("HTTP %d %+v", st, out)
			}
			m := state(t, reader)
			if m["service"].Consented != c.wantSvc || m["client"].Consented != c.wantCli || (m["client"].Consented && m["client"].ConsentedAt == nil) {
				t.Fatalf("%+v", m)
			}
			if e := findEvent(ts.events(testTenant), audit.KindAdminWrite, c.wantAction, c.wantID); e == nil || e.Actor.Role != store.RoleAdmin {
				t.Fatalf("no %s audit event", c.wantAction)
			}
		})
	}

	errCases := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"reader cannot consent", reader, "POST", consent, `{"app":"service","granted":true}`, 403, "forbidden"},
		{"operator cannot consent", operator, "POST", consent, `{"app":"service","granted":true}`, 403, "forbidden"},
		{"other tenant consents", adminB, "POST", consent, `{"app":"service","granted":true}`, 404, "notFound"},
		{"other tenant reads", adminB, "GET", sps, "", 404, "notFound"},
		{"absent tenant", testToken, "GET", "/tenants/44444444-2222-4333-8444-555555555555/servicePrincipals", "", 404, "notFound"},
		{"bad JSON", testToken, "POST", consent, `{"app":`, 400, "badRequest"},
		{"unknown field", testToken, "POST", consent, `{"app":"service","granted":true,"scope":"all"}`, 400, "badRequest"},
		{"unknown app", testToken, "POST", consent, `{"app":"graph","granted":true}`, 422, "invalidConsent"},
		{"granted missing", testToken, "POST", consent, `{"app":"client"}`, 422, "invalidConsent"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			if st, code := ts.raw(c.token, c.method, c.path, c.body); st != c.status || code != c.code {
				t.Fatalf("HTTP %d %q; want %d %q", st, code, c.status, c.code)
			}
		})
	}
}

// Without Services the onboarding routes say the service is not running.
func TestPinResetOnboardingWithoutService(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	if st, code := ts.raw(testToken, "GET", "/tenants/"+testTenant+"/servicePrincipals", ""); st != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("HTTP %d %q", st, code)
	}
}
