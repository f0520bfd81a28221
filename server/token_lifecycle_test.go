package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// A revoked token stops authenticating at once, the revocation is audited, and a tenant
// admin cannot revoke (or see) a token beyond its tenant.
func TestTokenRevoke(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	var reader, tenantAdmin wire.CreatedToken
	if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "ci", Role: "reader", TenantID: testTenant}, &reader); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "tenant admin", Role: "admin", TenantID: testTenant}, &tenantAdmin); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	devices := "/tenants/" + testTenant + "/devices"
	if st := ts.apiAs(reader.Secret, http.MethodGet, devices, nil, nil); st != http.StatusOK {
		t.Fatalf("the new token is refused: %d", st)
	}
	var global wire.Token
	var list struct{ Value []wire.Token }
	ts.api(http.MethodGet, "/tokens", nil, &list)
	for _, v := range list.Value {
		if v.TenantID == "" {
			global = v
		}
	}
	if st := ts.apiAs(tenantAdmin.Secret, http.MethodDelete, "/tokens/"+global.ID, nil, nil); st != http.StatusNotFound {
		t.Errorf("a tenant admin revoking a global token: %d, want 404", st)
	}
	if st := ts.apiAs(reader.Secret, http.MethodDelete, "/tokens/"+reader.ID, nil, nil); st != http.StatusForbidden {
		t.Errorf("a reader revoking a token: %d, want 403", st)
	}
	if st := ts.apiAs(tenantAdmin.Secret, http.MethodDelete, "/tokens/"+reader.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("revoke: %d", st)
	}
	if st := ts.apiAs(reader.Secret, http.MethodGet, devices, nil, nil); st != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", st)
	}
	if st := ts.api(http.MethodDelete, "/tokens/"+reader.ID, nil, nil); st != http.StatusNotFound {
		t.Errorf("revoking again: %d, want 404", st)
	}
	ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "delete", reader.ID)
	if ev == nil || ev.Actor.TokenID != tenantAdmin.ID {
		t.Fatalf("no delete event by the tenant admin: %+v", ev)
	}
}

// A token with an expiry is accepted until then and refused after; an expiry in the past is
// refused at creation.
func TestTokenExpiry(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	var tok wire.CreatedToken
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "1h", Role: "reader", ExpiresAt: exp}, &tok); st != http.StatusCreated || !tok.ExpiresAt.Equal(exp) {
		t.Fatalf("create with expiresAt: %d %+v", st, tok.Token)
	}
	if st := ts.apiAs(tok.Secret, http.MethodGet, "/tokens", nil, nil); st == http.StatusUnauthorized {
		t.Errorf("an unexpired token is refused")
	}
	if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "past", Role: "reader", ExpiresAt: time.Now().Add(-time.Minute)}, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("create with a past expiresAt: %d, want 422", st)
	}
	err := ts.app.Store.CreateToken(context.Background(), store.AdminToken{ID: "expired-token", Hash: adminapi.HashToken("hmdm_expired"), Name: "old",
		Role: store.RoleAdmin, CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var e apiError
	if st := ts.apiAs("hmdm_expired", http.MethodGet, "/tokens", nil, &e); st != http.StatusUnauthorized || !strings.Contains(e.Error.Message, "expired") {
		t.Errorf("an expired token: %d %q, want 401 saying it expired", st, e.Error.Message)
	}
}
