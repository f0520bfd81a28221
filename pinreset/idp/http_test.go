package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const appru = "ms-app://s-1-15-2-3763561449-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890"

func do(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func enrollURL(appru, hint string) string {
	q := url.Values{}
	if appru != "" {
		q.Set("appru", appru)
	}
	if hint != "" {
		q.Set("login_hint", hint)
	}
	return "https://mdm.contoso.com/idp/enroll?" + q.Encode()
}

var nonceRE = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// formNonce GETs the sign-in form and returns its nonce.
func formNonce(t *testing.T, w *world, appru string) string {
	t.Helper()
	rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, enrollURL(appru, ""), nil))
	m := nonceRE.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		t.Fatalf("GET form: %d %s", rec.Code, rec.Body)
	}
	return m[1]
}

func postForm(t *testing.T, w *world, f url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "https://mdm.contoso.com/idp/enroll", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, w.svc.Handler(), req)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n%s", name, got)
	}
}

func TestEnrollFormRenders(t *testing.T) {
	w := newWorld(t)
	rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, enrollURL(appru, "alice@contoso.com"), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Content-Length"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	golden(t, "enroll_form.html", rec.Body.Bytes())
}

func TestEnrollFormEscapesLoginHint(t *testing.T) {
	w := newWorld(t)
	hint := `"><script>alert(1)</script>@contoso.com`
	rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, enrollURL(appru, hint), nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Fatalf("login_hint echoed unescaped:\n%s", body)
	}
	if !strings.Contains(body, html.EscapeString(`"><script>alert(1)</script>`)) {
		t.Fatalf("escaped login_hint not found:\n%s", body)
	}
}

func TestEnrollFormRejectsBadAppru(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct{ name, appru string }{
		{"missing", ""},
		{"javascript", "javascript:alert(1)"},
		{"data", "data:text/html,<script>alert(1)</script>"},
		{"ftp", "ftp://files.example/x"},
		{"https without host", "https:///path"},
		{"ms-app empty", "ms-app:"},
		{"space", "https://a.example/ x"},
		{"too long", "https://a.example/" + strings.Repeat("a", 3000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, enrollURL(tc.appru, ""), nil))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("GET status %d, want 400", rec.Code)
			}
			rec = postForm(t, w, url.Values{"appru": {tc.appru}, "upn": {"alice@contoso.com"}, "password": {alicePW}})
			if rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), "wresult") {
				t.Fatalf("POST status %d, want 400", rec.Code)
			}
		})
	}
	for _, ok := range []string{appru, "https://login.contoso.com/cb", "HTTP://localhost:8080/cb"} {
		if err := validateAppru(ok); err != nil {
			t.Errorf("validateAppru(%q) = %v", ok, err)
		}
	}
}

func TestEnrollFormFederatedRedirect(t *testing.T) {
	w := newWorld(t)
	rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, enrollURL(appru, "carol@fabrikam.com"), nil))
	if rec.Code != http.StatusFound {
		t.Fatalf("status %d, want 302", rec.Code)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Scheme != "https" || loc.Host != fedHost || loc.Path != "/idp/enroll" {
		t.Errorf("Location %s", loc)
	}
	if q := loc.Query(); q.Get("appru") != appru || q.Get("login_hint") != "carol@fabrikam.com" {
		t.Errorf("query not carried: %v", q)
	}
}

func TestEnrollSubmit(t *testing.T) {
	w := newWorld(t)
	nonce := formNonce(t, w, appru)
	rec := postForm(t, w, url.Values{"appru": {appru}, "nonce": {nonce}, "upn": {"alice@contoso.com"}, "password": {alicePW}})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	m := regexp.MustCompile(`name="wresult" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no wresult field:\n%s", rec.Body)
	}
	tok := html.UnescapeString(m[1])
	c, err := EnrollmentVerifier{Issuer: w.issuer}.VerifyEnrollmentToken(context.Background(), tok)
	if err != nil || c.TenantID != tenantA || c.UserID != "u-alice" {
		t.Fatalf("wresult token: %+v, %v", c, err)
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Errorf("CSP %q lacks a script nonce", rec.Header().Get("Content-Security-Policy"))
	}
	golden(t, "enroll_postback.html", []byte(strings.Replace(rec.Body.String(), m[1], "TOKEN", 1)))
}

func TestEnrollSubmitFailures(t *testing.T) {
	tests := []struct {
		name       string
		form       func(w *world) url.Values
		wantStatus int
		wantText   string
	}{
		{"wrong password", func(w *world) url.Values {
			return url.Values{"appru": {appru}, "nonce": {formNonce(t, w, appru)}, "upn": {"alice@contoso.com"}, "password": {"nope"}}
		}, http.StatusUnauthorized, "user name or password is incorrect"},
		{"unknown user", func(w *world) url.Values {
			return url.Values{"appru": {appru}, "nonce": {formNonce(t, w, appru)}, "upn": {"zed@contoso.com"}, "password": {"nope"}}
		}, http.StatusUnauthorized, "user name or password is incorrect"},
		{"otp needed", func(w *world) url.Values {
			return url.Values{"appru": {appru}, "nonce": {formNonce(t, w, appru)}, "upn": {"bob@contoso.com"}, "password": {bobPW}}
		}, http.StatusUnauthorized, "6-digit code"},
		{"federated user", func(w *world) url.Values {
			return url.Values{"appru": {appru}, "nonce": {formNonce(t, w, appru)}, "upn": {"carol@fabrikam.com"}, "password": {carolPW}}
		}, http.StatusForbidden, "own identity provider"},
		{"missing nonce", func(w *world) url.Values {
			return url.Values{"appru": {appru}, "upn": {"alice@contoso.com"}, "password": {alicePW}}
		}, http.StatusBadRequest, "expired"},
		{"nonce for another appru", func(w *world) url.Values {
			return url.Values{"appru": {appru}, "nonce": {formNonce(t, w, "ms-app://s-1-15-2-1111111111-2222222222")}, "upn": {"alice@contoso.com"}, "password": {alicePW}}
		}, http.StatusBadRequest, "expired"},
		{"expired nonce", func(w *world) url.Values {
			n := formNonce(t, w, appru)
			w.clock.Advance(11 * time.Minute)
			return url.Values{"appru": {appru}, "nonce": {n}, "upn": {"alice@contoso.com"}, "password": {alicePW}}
		}, http.StatusBadRequest, "expired"},
		{"forged nonce", func(w *world) url.Values {
			n, _ := newFormNonce([]byte("another key of at least 32 bytes!!"), seededRand(5), t0.Add(time.Minute), appru)
			return url.Values{"appru": {appru}, "nonce": {n}, "upn": {"alice@contoso.com"}, "password": {alicePW}}
		}, http.StatusBadRequest, "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := postForm(t, w, tc.form(w))
			body := rec.Body.String()
			if rec.Code != tc.wantStatus || !strings.Contains(body, tc.wantText) {
				t.Fatalf("status %d, want %d with %q:\n%s", rec.Code, tc.wantStatus, tc.wantText, body)
			}
			if strings.Contains(body, "wresult") {
				t.Fatal("failure page carries a wresult")
			}
			if !nonceRE.MatchString(body) {
				t.Fatal("failure page has no fresh form")
			}
		})
	}
}

func TestEnrollSubmitRateLimited(t *testing.T) {
	w := newWorld(t)
	for range 10 {
		postForm(t, w, url.Values{"appru": {appru}, "nonce": {formNonce(t, w, appru)}, "upn": {"alice@contoso.com"}, "password": {"x"}})
	}
	rec := postForm(t, w, url.Values{"appru": {appru}, "nonce": {formNonce(t, w, appru)}, "upn": {"alice@contoso.com"}, "password": {alicePW}})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q, want 429", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func postToken(t *testing.T, w *world, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "https://mdm.contoso.com/idp/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, w.svc.Handler(), req)
}

func tokenBody(upn, pw, otp, aud string) string {
	b, _ := json.Marshal(map[string]string{"upn": upn, "password": pw, "otp": otp, "audience": aud})
	return string(b)
}

func TestTokenEndpoint(t *testing.T) {
	fed := map[string]string{FederationHostHeader: fedHost}
	tests := []struct {
		name       string
		body       func(w *world) string
		hdr        map[string]string
		ctype      string
		wantStatus int
		wantCode   string
		wantAud    string
	}{
		{name: "password only", body: func(*world) string { return tokenBody("alice@contoso.com", alicePW, "", AudiencePINReset) }, wantStatus: 200, wantAud: AudiencePINReset},
		{name: "with otp", body: func(w *world) string {
			return tokenBody("bob@contoso.com", bobPW, TOTPCode(w.secret, t0), AudienceEnrollment)
		}, wantStatus: 200, wantAud: AudienceEnrollment},
		{name: "wrong password", body: func(*world) string { return tokenBody("alice@contoso.com", "x", "", AudiencePINReset) }, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "unknown user", body: func(*world) string { return tokenBody("nobody@contoso.com", "x", "", AudiencePINReset) }, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "otp required", body: func(*world) string { return tokenBody("bob@contoso.com", bobPW, "", AudiencePINReset) }, wantStatus: 401, wantCode: "otp_required"},
		{name: "otp wrong", body: func(*world) string { return tokenBody("bob@contoso.com", bobPW, "abcdef", AudiencePINReset) }, wantStatus: 401, wantCode: "otp_invalid"},
		{name: "federated without header", body: func(*world) string { return tokenBody("carol@fabrikam.com", carolPW, "", AudiencePINReset) }, wantStatus: 401, wantCode: "federated"},
		{name: "federated wrong header", body: func(*world) string { return tokenBody("carol@fabrikam.com", carolPW, "", AudiencePINReset) }, hdr: map[string]string{FederationHostHeader: "login.evil.example"}, wantStatus: 401, wantCode: "federated"},
		{name: "federated with header", body: func(*world) string { return tokenBody("carol@fabrikam.com", carolPW, "", AudiencePINReset) }, hdr: fed, wantStatus: 200, wantAud: AudiencePINReset},
		{name: "unknown audience", body: func(*world) string { return tokenBody("alice@contoso.com", alicePW, "", "urn:x") }, wantStatus: 400, wantCode: "invalid_request"},
		{name: "unknown field", body: func(*world) string { return `{"upn":"alice@contoso.com","pw":"x"}` }, wantStatus: 400, wantCode: "invalid_request"},
		{name: "trailing data", body: func(*world) string { return tokenBody("alice@contoso.com", alicePW, "", AudiencePINReset) + "{}" }, wantStatus: 400, wantCode: "invalid_request"},
		{name: "not json", body: func(*world) string { return "upn=alice" }, wantStatus: 400, wantCode: "invalid_request"},
		{name: "too large", body: func(*world) string {
			return tokenBody("alice@contoso.com", strings.Repeat("x", 10000), "", AudiencePINReset)
		}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "form content type", body: func(*world) string { return "{}" }, ctype: "application/x-www-form-urlencoded", wantStatus: 415, wantCode: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			hdr := map[string]string{}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			if tc.ctype != "" {
				hdr["Content-Type"] = tc.ctype
			}
			rec := postToken(t, w, tc.body(w), hdr)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
			if tc.wantStatus != 200 {
				var e apiError
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != tc.wantCode || e.Error.Message == "" {
					t.Fatalf("error body %s (%v), want code %s", rec.Body, err, tc.wantCode)
				}
				return
			}
			var resp struct {
				Token     string `json:"token"`
				ExpiresIn int64  `json:"expires_in"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.ExpiresIn != 600 {
				t.Errorf("expires_in %d, want 600", resp.ExpiresIn)
			}
			if _, err := w.issuer.Verify(context.Background(), resp.Token, Expect{Audience: tc.wantAud}); err != nil {
				t.Errorf("token does not verify: %v", err)
			}
		})
	}
}

func TestTokenEndpointRateLimit(t *testing.T) {
	w := newWorld(t)
	for range 10 {
		postToken(t, w, tokenBody("alice@contoso.com", "x", "", AudiencePINReset), nil)
	}
	// A forged X-Forwarded-For does not reset the per-UPN limit.
	rec := postToken(t, w, tokenBody("alice@contoso.com", alicePW, "", AudiencePINReset), map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "60" {
		t.Fatalf("status %d Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

func TestSignInInfo(t *testing.T) {
	tests := []struct {
		name       string
		upn        string
		wantStatus int
		want       signInInfo
	}{
		{"local tenant", "alice@contoso.com", 200, signInInfo{TenantID: tenantA, SignInHost: "mdm.contoso.com"}},
		{"federated tenant", "Carol@Fabrikam.com", 200, signInInfo{TenantID: tenantB, Federated: true, SignInHost: fedHost}},
		{"unknown domain", "x@nowhere.test", 404, signInInfo{}},
		{"malformed", "nobody", 400, signInInfo{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, "https://mdm.contoso.com/idp/signin-info?upn="+url.QueryEscape(tc.upn), nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus != 200 {
				return
			}
			var got signInInfo
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got != tc.want {
				t.Fatalf("body %s (%v), want %+v", rec.Body, err, tc.want)
			}
		})
	}
}

func TestHandlerMethods(t *testing.T) {
	w := newWorld(t)
	rec := do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, "https://mdm.contoso.com/idp/token", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /idp/token: %d, want 405", rec.Code)
	}
	rec = do(t, w.svc.Handler(), httptest.NewRequest(http.MethodGet, "https://mdm.contoso.com/idp/other", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /idp/other: %d, want 404", rec.Code)
	}
}

func TestStoreFailureGives500(t *testing.T) {
	w := newWorld(t)
	w.store.lookupErr = errors.New("database down")
	rec := postToken(t, w, tokenBody("alice@contoso.com", alicePW, "", AudiencePINReset), nil)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
}
