package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

const alicePassword = "correct horse battery"

func TestUserAPI(t *testing.T) {
	ts := startIdentityServer(t)
	reader := ts.newToken(store.RoleReader, testTenant)
	operator := ts.newToken(store.RoleOperator, testTenant)
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	berlin := ts.newToken(store.RoleAdmin, testTenant, "Berlin")
	paris := ts.newToken(store.RoleReader, testTenant, "Paris")
	users := "/tenants/" + testTenant + "/users"

	var alice wire.User
	t.Run("create", func(t *testing.T) {
		body := map[string]any{"userPrincipalName": "Alice@Contoso.com", "displayName": "Alice", "passwordProfile": map[string]string{"password": alicePassword}}
		if st := ts.api(http.MethodPost, users, body, &alice); st != http.StatusCreated {
			t.Fatalf("HTTP %d", st)
		}
		if alice.ID == "" || alice.UserPrincipalName != "alice@contoso.com" || alice.TOTPEnrolled {
			t.Fatalf("created %+v", alice)
		}
		u, err := ts.app.Store.User(context.Background(), testTenant, alice.ID)
		if err != nil || idp.CheckPassword(u.PasswordHash, alicePassword) != nil {
			t.Fatalf("stored user %+v: %v", u, err)
		}
		e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "create", alice.ID)
		if e == nil || e.Subject.Type != audit.SubjectUser {
			t.Fatal("no audit event")
		}
		if bytes.Contains(e.Details, []byte(alicePassword)) || bytes.Contains(e.Details, []byte("argon2")) {
			t.Fatalf("audit details leak the password: %s", e.Details)
		}
	})
	var bob wire.User
	t.Run("scoped admin creates in its scope", func(t *testing.T) {
		body := wire.UserRequest{UserPrincipalName: "bob@contoso.com"}
		body.PasswordProfile.Password = "bobs password"
		if st := ts.apiAs(berlin, http.MethodPost, users, body, &bob); st != http.StatusCreated || len(bob.RoleScopeTagIDs) != 1 || bob.RoleScopeTagIDs[0] != "Berlin" {
			t.Fatalf("HTTP %d %+v", st, bob)
		}
	})

	errCases := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"reader cannot create", reader, "POST", users, `{"userPrincipalName":"c@contoso.com","passwordProfile":{"password":"12345678"}}`, 403, "forbidden"},
		{"operator cannot create", operator, "POST", users, `{"userPrincipalName":"c@contoso.com","passwordProfile":{"password":"12345678"}}`, 403, "forbidden"},
		{"other tenant creates", adminB, "POST", users, `{"userPrincipalName":"c@contoso.com","passwordProfile":{"password":"12345678"}}`, 404, "notFound"},
		{"scoped admin creates outside scope", berlin, "POST", users, `{"userPrincipalName":"c@contoso.com","passwordProfile":{"password":"12345678"},"roleScopeTagIds":["Paris"]}`, 403, "forbidden"},
		{"bad JSON", testToken, "POST", users, `[`, 400, "badRequest"},
		{"unknown field", testToken, "POST", users, `{"userPrincipalName":"c@contoso.com","password":"12345678"}`, 400, "badRequest"},
		{"too large", testToken, "POST", users, `{"displayName":"` + strings.Repeat("x", 65<<10) + `"}`, 413, "tooLarge"},
		{"UPN outside verified domains", testToken, "POST", users, `{"userPrincipalName":"c@fabrikam.com","passwordProfile":{"password":"12345678"}}`, 422, "invalidUser"},
		{"UPN without domain", testToken, "POST", users, `{"userPrincipalName":"carol","passwordProfile":{"password":"12345678"}}`, 422, "invalidUser"},
		{"weak password", testToken, "POST", users, `{"userPrincipalName":"c@contoso.com","passwordProfile":{"password":"1234567"}}`, 422, "invalidUser"},
		{"no password", testToken, "POST", users, `{"userPrincipalName":"c@contoso.com"}`, 422, "invalidUser"},
		{"duplicate UPN", testToken, "POST", users, `{"userPrincipalName":"ALICE@contoso.com","passwordProfile":{"password":"12345678"}}`, 409, "conflict"},
		{"absent tenant", testToken, "POST", "/tenants/44444444-2222-4333-8444-555555555555/users", `{}`, 404, "notFound"},
		{"other tenant lists", adminB, "GET", users, "", 404, "notFound"},
		{"other tenant gets", adminB, "GET", users + "/" + alice.ID, "", 404, "notFound"},
		{"user via other tenant's path", testToken, "GET", "/tenants/" + tenantB + "/users/" + alice.ID, "", 404, "notFound"},
		{"absent user", testToken, "GET", users + "/nobody", "", 404, "notFound"},
		{"scoped token cannot see untagged user", paris, "GET", users + "/" + alice.ID, "", 404, "notFound"},
		{"scoped token cannot see other tag", paris, "GET", users + "/" + bob.ID, "", 404, "notFound"},
		{"totp by operator", operator, "POST", users + "/" + alice.ID + "/authenticationMethods/totp", "", 403, "forbidden"},
		{"totp of other tenant", adminB, "POST", users + "/" + alice.ID + "/authenticationMethods/totp", "", 404, "notFound"},
		{"totp of absent user", testToken, "POST", users + "/nobody/authenticationMethods/totp", "", 404, "notFound"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			if st, code := ts.raw(c.token, c.method, c.path, c.body); st != c.status || code != c.code {
				t.Fatalf("HTTP %d %q; want %d %q", st, code, c.status, c.code)
			}
		})
	}

	t.Run("list and get", func(t *testing.T) {
		for _, c := range []struct {
			name, token string
			want        []string
		}{
			{"reader sees all", reader, []string{"alice@contoso.com", "bob@contoso.com"}},
			{"Berlin sees Berlin", berlin, []string{"bob@contoso.com"}},
			{"Paris sees none", paris, nil},
		} {
			var out struct{ Value []wire.User }
			if st := ts.apiAs(c.token, http.MethodGet, users, nil, &out); st != http.StatusOK {
				t.Fatalf("%s: HTTP %d", c.name, st)
			}
			var got []string
			for _, u := range out.Value {
				got = append(got, u.UserPrincipalName)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		var one wire.User
		if st := ts.apiAs(reader, http.MethodGet, users+"/"+alice.ID, nil, &one); st != http.StatusOK || one.UserPrincipalName != "alice@contoso.com" {
			t.Fatalf("get: HTTP %d %+v", st, one)
		}
	})

	t.Run("no password or hash in answers", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, ts.base+"/api/v1"+users, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := ts.admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		if bytes.Contains(buf.Bytes(), []byte("argon2")) || bytes.Contains(buf.Bytes(), []byte("password")) {
			t.Fatalf("list leaks secrets: %s", buf.Bytes())
		}
	})

	t.Run("totp", func(t *testing.T) {
		var v wire.TOTP
		if st := ts.api(http.MethodPost, users+"/"+alice.ID+"/authenticationMethods/totp", nil, &v); st != http.StatusCreated {
			t.Fatalf("HTTP %d", st)
		}
		secret, err := idp.DecodeTOTPSecret(v.Secret)
		if err != nil || !strings.HasPrefix(v.URI, "otpauth://totp/") || !strings.Contains(v.URI, "secret="+v.Secret) {
			t.Fatalf("enrolled %+v: %v", v, err)
		}
		u, err := ts.app.Store.User(context.Background(), testTenant, alice.ID)
		if err != nil || !bytes.Equal(u.TOTPSecret, secret) {
			t.Fatalf("stored secret differs: %v", err)
		}
		// The enrolled code signs in with MFA.
		if _, claims, err := ts.app.IDP.SignIn(context.Background(), "alice@contoso.com", alicePassword, idp.TOTPCode(secret, time.Now()), idp.AudiencePINReset); err != nil || !claims.HasMFA() {
			t.Fatalf("sign-in with the enrolled code: %v", err)
		}
		var got wire.User
		if ts.api(http.MethodGet, users+"/"+alice.ID, nil, &got); !got.TOTPEnrolled {
			t.Fatal("user does not show totpEnrolled")
		}
		e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "enrollTotp", alice.ID)
		if e == nil {
			t.Fatal("no audit event")
		}
		if bytes.Contains(e.Details, []byte(v.Secret)) {
			t.Fatalf("audit details leak the TOTP secret: %s", e.Details)
		}
	})
}

// A disabled user is unknown to the identity provider (no sign-in, so no PIN reset) until
// enabled again; the change is audited.
func TestUserDisable(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	var u wire.User
	if st := ts.api(http.MethodPost, "/tenants/"+testTenant+"/users", map[string]any{"userPrincipalName": "bob@contoso.com", "passwordProfile": map[string]string{"password": "Correct horse 1"}}, &u); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	if !u.AccountEnabled {
		t.Errorf("a new user is not enabled: %+v", u)
	}
	users := idpUsers{ts.app.Store}
	if _, err := users.UserByUPN(context.Background(), testTenant, "bob@contoso.com"); err != nil {
		t.Fatalf("enabled user: %v", err)
	}
	var got wire.User
	if st := ts.api(http.MethodPatch, "/tenants/"+testTenant+"/users/"+u.ID, map[string]any{"accountEnabled": false}, &got); st != http.StatusOK || got.AccountEnabled {
		t.Fatalf("disable: %d %+v", st, got)
	}
	if _, err := users.UserByUPN(context.Background(), testTenant, "bob@contoso.com"); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("a disabled user is known to the identity provider: %v", err)
	}
	if st := ts.api(http.MethodPatch, "/tenants/"+testTenant+"/users/"+u.ID, map[string]any{}, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("PATCH without accountEnabled: %d, want 422", st)
	}
	if ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "update", u.ID); ev == nil {
		t.Errorf("no audit event for the disable")
	}
	ts.api(http.MethodPatch, "/tenants/"+testTenant+"/users/"+u.ID, map[string]any{"accountEnabled": true}, nil)
	if _, err := users.UserByUPN(context.Background(), testTenant, "bob@contoso.com"); err != nil {
		t.Errorf("re-enabled user: %v", err)
	}
}

// A deleted user is gone from the API, the identity provider and enrollment, loses its group
// memberships, and its deletion is audited; the device it enrolled keeps checking in until
// an admin retires it. Readers and operators cannot delete users.
func TestUserDelete(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	ctx := context.Background()
	var u wire.User
	if st := ts.api(http.MethodPost, "/tenants/"+testTenant+"/users", map[string]any{"userPrincipalName": "bob@contoso.com", "passwordProfile": map[string]string{"password": "Correct horse 1"}}, &u); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	if err := ts.app.Store.CreateGroup(ctx, store.Group{TenantID: testTenant, ID: "g1", DisplayName: "Helpdesk"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.app.Store.AddMembers(ctx, testTenant, "g1", store.Member{Kind: store.MemberUser, ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	dev := ts.enroll("dev-bob")
	if err := ts.app.Store.UpdateDevice(ctx, "dev-bob", func(d *store.Device) error {
		d.UserID, d.UPN = u.ID, "bob@contoso.com"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	path := "/tenants/" + testTenant + "/users/" + u.ID
	for _, role := range []string{store.RoleReader, store.RoleOperator} {
		if st := ts.apiAs(ts.newToken(role, ""), http.MethodDelete, path, nil, nil); st != http.StatusForbidden {
			t.Errorf("%s deletes a user: %d, want 403", role, st)
		}
	}
	if st := ts.api(http.MethodDelete, path, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d, want 204", st)
	}
	if st := ts.api(http.MethodGet, path, nil, nil); st != http.StatusNotFound {
		t.Errorf("GET after delete: %d, want 404", st)
	}
	if st := ts.api(http.MethodDelete, path, nil, nil); st != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", st)
	}
	if _, err := (idpUsers{ts.app.Store}).UserByUPN(ctx, testTenant, "bob@contoso.com"); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("the identity provider knows a deleted user: %v", err)
	}
	if ms, err := ts.app.Store.Members(ctx, testTenant, "g1"); err != nil || len(ms) != 0 {
		t.Errorf("group members after delete: %v %v", ms, err)
	}
	e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "delete", u.ID)
	if e == nil || e.Subject.Type != audit.SubjectUser || !bytes.Contains(e.Details, []byte("bob@contoso.com")) {
		t.Fatalf("no audit event naming the deleted user: %+v", e)
	}
	dev.send(dev.first()) // the deleted user's device still checks in (fails the test otherwise)
	if d, err := ts.app.Store.Device(ctx, "dev-bob"); err != nil || d.State != store.DeviceEnrolled {
		t.Errorf("the deleted user's device: %+v %v, want still enrolled", d, err)
	}
}
