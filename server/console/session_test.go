package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/server"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path with c and returns the status, the Location header and the body.
func get(t *testing.T, e *consoletest.Env, c *http.Client, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(e.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func post(t *testing.T, e *consoletest.Env, c *http.Client, path string, form url.Values) (int, http.Header, string) {
	t.Helper()
	resp, err := c.PostForm(e.URL+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// signIn posts the sign-in form with fields and returns the answer.
func signIn(t *testing.T, e *consoletest.Env, c *http.Client, fields url.Values) (int, http.Header, string) {
	t.Helper()
	_, _, body := get(t, e, c, "/console/login")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the sign-in page has no csrf field:\n%s", body)
	}
	fields.Set("csrf", m[1])
	return post(t, e, c, "/console/login", fields)
}

func TestSecurityHeadersAndCookie(t *testing.T) {
	e := consoletest.Start(t)
	c := e.HTTPClient()
	status, h, _ := get(t, e, c, "/console/login")
	if status != http.StatusOK {
		t.Fatalf("sign-in page: %d", status)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy allows inline script or style: %q", csp)
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q", got)
	}
	status, h, _ = signIn(t, e, c, url.Values{"token": {consoletest.Token}})
	if status != http.StatusSeeOther {
		t.Fatalf("token sign-in: %d", status)
	}
	var cookie string
	for _, sc := range h.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "__Host-hellomdm-console=") {
			cookie = sc
		}
	}
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	// Signed in, the home page leads to the only tenant.
	status, h, _ = get(t, e, c, "/console/")
	if status != http.StatusSeeOther || h.Get("Location") != "/console/t/"+consoletest.TenantID+"/" {
		t.Fatalf("home: %d to %q", status, h.Get("Location"))
	}
	status, _, body := get(t, e, c, "/console/t/"+consoletest.TenantID+"/")
	if status != http.StatusOK || !strings.Contains(body, "Contoso") {
		t.Fatalf("overview: %d\n%s", status, body)
	}
}

func TestCSRFAndSignOut(t *testing.T) {
	e := consoletest.Start(t)
	c := e.HTTPClient()
	if status, _, _ := signIn(t, e, c, url.Values{"token": {consoletest.Token}}); status != http.StatusSeeOther {
		t.Fatalf("token sign-in: %d", status)
	}
	overview := "/console/t/" + consoletest.TenantID + "/"
	_, _, body := get(t, e, c, overview)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the overview has no csrf field (the sign-out form)")
	}
	// Without the token, or with a wrong one, a POST is refused and changes nothing.
	for _, form := range []url.Values{{}, {"csrf": {"forged"}}} {
		if status, _, _ := post(t, e, c, "/console/logout", form); status != http.StatusForbidden {
			t.Errorf("POST /console/logout with %v: %d, want 403", form, status)
		}
	}
	if status, _, _ := get(t, e, c, overview); status != http.StatusOK {
		t.Fatalf("after refused sign-outs the session should live: %d", status)
	}
	if status, h, _ := post(t, e, c, "/console/logout", url.Values{"csrf": {m[1]}}); status != http.StatusSeeOther || h.Get("Location") != "/console/login" {
		t.Fatalf("sign-out: %d to %q", status, h.Get("Location"))
	}
	// Signed out, every page leads to the sign-in page.
	for _, p := range []string{"/console/", overview} {
		status, h, _ := get(t, e, c, p)
		if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
			t.Errorf("GET %s signed out: %d to %q", p, status, h.Get("Location"))
		}
	}
}

func TestUserSignIn(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	admin := e.User("ada@contoso.com", "admin")
	plain := e.User("bob@contoso.com", "")
	cases := []struct {
		name   string
		fields url.Values
		status int
		says   string
	}{
		{"wrong password", url.Values{"upn": {admin.UPN}, "password": {"nope nope"}, "otp": {admin.Code()}}, http.StatusUnauthorized, "incorrect"},
		{"no code", url.Values{"upn": {admin.UPN}, "password": {admin.Password}}, http.StatusUnauthorized, "one-time code"},
		{"no admin role", url.Values{"upn": {plain.UPN}, "password": {plain.Password}, "otp": {plain.Code()}}, http.StatusForbidden, "holds no admin role"},
		{"user and token", url.Values{"upn": {admin.UPN}, "token": {consoletest.Token}}, http.StatusUnprocessableEntity, "not both"},
		{"unknown token", url.Values{"token": {"hmdm_nope"}}, http.StatusUnauthorized, "unknown or revoked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := signIn(t, e, e.HTTPClient(), tc.fields)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%d, want %d saying %q:\n%s", status, tc.status, tc.says, body)
			}
		})
	}
	c := e.HTTPClient()
	status, h, _ := signIn(t, e, c, url.Values{"upn": {admin.UPN}, "password": {admin.Password}, "otp": {admin.Code()}})
	if status != http.StatusSeeOther || h.Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d to %q", status, h.Get("Location"))
	}
	if status, _, body := get(t, e, c, "/console/t/"+consoletest.TenantID+"/"); status != http.StatusOK || !strings.Contains(body, "ada@contoso.com") {
		t.Fatalf("overview as ada: %d", status)
	}
	// Revoking the role ends the session at its next request.
	if _, err := e.Admin.RevokeAdminRole(ctx, consoletest.TenantID, admin.ID); err != nil {
		t.Fatal(err)
	}
	if status, h, _ := get(t, e, c, "/console/t/"+consoletest.TenantID+"/"); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
		t.Fatalf("after the role was revoked: %d to %q", status, h.Get("Location"))
	}
}

// A session ends after the idle timeout without a request, and at the absolute timeout
// however busy it is.
func TestSessionTimeouts(t *testing.T) {
	var offset atomic.Int64
	e := consoletest.StartWith(t, func(o *server.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		o.Security.ConsoleIdleTimeout = 30 * time.Minute
		o.Security.ConsoleSessionLifetime = 2 * time.Hour
	})
	overview := "/console/t/" + consoletest.TenantID + "/"
	live := func(c *http.Client) bool {
		t.Helper()
		status, _, _ := get(t, e, c, overview)
		return status == http.StatusOK
	}
	at := func(d time.Duration) { offset.Store(int64(d)) }

	idle := e.HTTPClient()
	signIn(t, e, idle, url.Values{"token": {consoletest.Token}})
	at(29 * time.Minute)
	if !live(idle) {
		t.Fatal("the session ended before its idle timeout")
	}
	at(29*time.Minute + 31*time.Minute) // 31 minutes after the last request
	if live(idle) {
		t.Fatal("the session outlived its idle timeout")
	}

	at(0)
	busy := e.HTTPClient()
	signIn(t, e, busy, url.Values{"token": {consoletest.Token}})
	for m := 20 * time.Minute; m < 2*time.Hour; m += 20 * time.Minute {
		at(m)
		if !live(busy) {
			t.Fatalf("a busy session ended at %s, before its absolute timeout", m)
		}
	}
	at(2 * time.Hour)
	if live(busy) {
		t.Fatal("the session outlived its absolute timeout")
	}
}

var nextHref = regexp.MustCompile(`href="([^"]+)" rel="next"`)

func htmlUnescape(s string) string { return html.UnescapeString(s) }

// Failed console sign-ins count against the identity provider's per-user limit: past it
// the right password and code are refused too (429), and the refusals are the same for the
// console as for every other sign-in.
func TestSignInLimitApplies(t *testing.T) {
	e := consoletest.StartWith(t, func(o *server.Options) { o.Security.SignInFailureLimit = 3 })
	ada := e.User("ada@contoso.com", "admin")
	for range 3 {
		if status, _, _ := signIn(t, e, e.HTTPClient(), url.Values{"upn": {ada.UPN}, "password": {"wrong password"}, "otp": {"000000"}}); status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", status)
		}
	}
	status, _, body := signIn(t, e, e.HTTPClient(), url.Values{"upn": {ada.UPN}, "password": {ada.Password}, "otp": {ada.Code()}})
	if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("after the limit: %d\n%s", status, body)
	}
}
