// Package consoletest is the test harness of the admin web console (server/console): a
// real server on loopback with a tenant (Start), identity provider users holding admin
// roles (Env.User), and a real Chromium driven by chromedp (NewBrowser) with helpers to sign
// in, take screenshots, and check that every form control has a label and every page can
// be used with the keyboard alone.
//
// Chromium is found at $HELLOMDM_CHROMIUM, else as chromium, chromium-browser or
// google-chrome on PATH. Without it the browser tests skip and say so, unless
// HELLOMDM_REQUIRE_BROWSER is set (.ci/run sets it): then they fail. Screenshots go to
// $HELLOMDM_TEST_ARTIFACTS/<test name>/ (default: the system's temporary directory under
// hellomdm-console-artifacts), every page a test visits with Browser.Go and one more when
// the test fails.
package consoletest

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// The tenant every Env starts with.
const (
	TenantID     = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	TenantDomain = "contoso.com"
	// Token is the bootstrap admin token (role admin, every tenant).
	Token = "hmdm_console-test-token"
	// Password is every Env.User's password.
	Password = "Correct horse 1"
)

// Env is a running hellomdm server (server.Services: the whole product) with one tenant.
type Env struct {
	T   testing.TB
	App *server.App
	// URL is the server's base URL, https://127.0.0.1:port.
	URL string
	// Admin is the typed admin client with Token.
	Admin  *adminclient.Client
	Tenant wire.Tenant
}

// Start runs a server until t ends, on bbolt or, with HELLOMDM_TEST_BACKEND=postgres, on a
// fresh PostgreSQL schema, and creates the tenant Contoso (TenantID, contoso.com).
func Start(t testing.TB) *Env {
	t.Helper()
	return StartWith(t, nil)
}

// StartWith is Start with options changed by edit first (a clock, security limits).
func StartWith(t testing.TB, edit func(*server.Options)) *Env {
	t.Helper()
	opts := server.Options{AdminToken: Token, OpenStore: testpg.OpenStore(t)}
	if edit != nil {
		edit(&opts)
	}
	app := testserve.Start(t, opts, server.Services)
	e := &Env{T: t, App: app, URL: "https://" + app.Addr().String()}
	e.Admin = adminclient.New(adminclient.Config{Server: e.URL, Token: Token, RootCAs: app.CA.Pool(), Timeout: time.Minute})
	tn, err := e.Admin.CreateTenant(context.Background(), wire.TenantRequest{ID: TenantID, DisplayName: "Contoso", VerifiedDomains: []string{TenantDomain}})
	if err != nil {
		t.Fatalf("creating the tenant: %v", err)
	}
	e.Tenant = tn
	return e
}

// HTTPClient returns a client that trusts the server and keeps cookies (for requests a
// browser would not send, such as a POST from another site).
func (e *Env) HTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := testpki.HTTPClient(testpki.ClientTLS(e.App.CA.Pool(), nil, nil))
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// User is an identity provider user of the tenant with a one-time code enrolled.
type User struct {
	ID, UPN, Password string
	Secret            []byte // the TOTP secret
	// mu and last keep the steps used, so that two sign-ins in one 30-second step still
	// present codes the identity provider has not seen.
	mu   *sync.Mutex
	last *int64
}

// User creates upn with Password and a one-time code, and grants it role ("" for none)
// limited to scopeTags.
func (e *Env) User(upn, role string, scopeTags ...string) User {
	e.T.Helper()
	ctx := context.Background()
	u, err := e.Admin.CreateUser(ctx, TenantID, wire.UserRequest{UserPrincipalName: upn, DisplayName: upn,
		PasswordProfile: wire.PasswordProfile{Password: Password}})
	if err != nil {
		e.T.Fatalf("creating %s: %v", upn, err)
	}
	totp, err := e.Admin.EnrollTOTP(ctx, TenantID, u.ID)
	if err != nil {
		e.T.Fatalf("enrolling a one-time code for %s: %v", upn, err)
	}
	secret, err := idp.DecodeTOTPSecret(totp.Secret)
	if err != nil {
		e.T.Fatalf("decoding the TOTP secret: %v", err)
	}
	if role != "" {
		if _, err := e.Admin.SetAdminRole(ctx, TenantID, u.ID, wire.AdminRoleRequest{Role: role, RoleScopeTagIDs: scopeTags}); err != nil {
			e.T.Fatalf("granting %s the role %s: %v", upn, role, err)
		}
	}
	var last int64
	return User{ID: u.ID, UPN: upn, Password: Password, Secret: secret, mu: &sync.Mutex{}, last: &last}
}

// Code returns a one-time code the identity provider has not seen from this helper: the
// current step's, or the next step's (accepted as clock skew) when the current one was used,
// waiting for a new step when both were.
func (u User) Code() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	for {
		now := time.Now()
		step := now.Unix() / 30
		switch {
		case step > *u.last:
			*u.last = step
			return idp.TOTPCode(u.Secret, now)
		case step+1 > *u.last:
			*u.last = step + 1
			return idp.TOTPCode(u.Secret, now.Add(30*time.Second))
		}
		time.Sleep(time.Until(time.Unix((step+1)*30, 0)) + 50*time.Millisecond)
	}
}
