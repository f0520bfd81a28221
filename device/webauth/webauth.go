// Package webauth is the device's sign-in at hellomdm's identity provider during
// enrollment: the federated web sign-in (MS-MDE2 federated authentication, docs/protocol.md
// A.5) with its tolerant form scanner, the redirect to a federated tenant's own identity
// provider, and what the device reads of the answers (the token's tenant, the tenant of an
// OnPremise user from /idp/signin-info). The HTTP contracts are documented in
// pinreset/idp/doc.go, which the device does not import.
package webauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/device/internal/httpx"
)

// appru is the Web Authentication Broker callback Windows gives the sign-in page
// (MS-MDE2 federated authentication; docs/protocol.md A.5).
const appru = "ms-app://windows.immersivecontrolpanel"

// htmlForm is a form found in a page: its action, method and input fields in order.
type htmlForm struct {
	Action string
	Method string
	Fields [][2]string // name, value
}

func (f *htmlForm) get(name string) (string, bool) {
	for _, kv := range f.Fields {
		if kv[0] == name {
			return kv[1], true
		}
	}
	return "", false
}

// parseForm returns the first <form> of an HTML page with its <input> fields (attribute
// values unescaped). It is a tolerant scanner for the identity provider's simple pages, not
// an HTML parser: it reads tags and attributes, skipping scripts and comments.
func parseForm(page []byte) (*htmlForm, error) {
	s := string(page)
	var form *htmlForm
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i:], "-->")
			if end < 0 {
				break
			}
			i += end + 3
			continue
		}
		name, attrs, next := readTag(s, i)
		i = next
		switch name {
		case "script", "style":
			end := strings.Index(strings.ToLower(s[i:]), "</"+name)
			if end < 0 {
				i = len(s)
			} else {
				i += end
			}
		case "form":
			if form != nil {
				return form, nil // only the first form
			}
			form = &htmlForm{Action: attrs["action"], Method: strings.ToUpper(attrs["method"])}
		case "/form":
			if form != nil {
				return form, nil
			}
		case "input":
			if form != nil && attrs["name"] != "" {
				form.Fields = append(form.Fields, [2]string{attrs["name"], attrs["value"]})
			}
		}
	}
	if form == nil {
		return nil, fmt.Errorf("sign-in page holds no form")
	}
	return form, nil
}

// readTag reads the tag starting at s[i] == '<' and returns its lower-case name, its
// attributes and the index after '>'.
func readTag(s string, i int) (string, map[string]string, int) {
	j := i + 1
	for j < len(s) && !isSpace(s[j]) && s[j] != '>' && !(s[j] == '/' && j > i+1) {
		j++
	}
	name := strings.ToLower(s[i+1 : j])
	attrs := map[string]string{}
	for j < len(s) {
		for j < len(s) && (isSpace(s[j]) || s[j] == '/') {
			j++
		}
		if j >= len(s) || s[j] == '>' {
			return name, attrs, min(j+1, len(s))
		}
		k := j
		for k < len(s) && !isSpace(s[k]) && s[k] != '=' && s[k] != '>' && s[k] != '/' {
			k++
		}
		key := strings.ToLower(s[j:k])
		j = k
		val := ""
		if j < len(s) && s[j] == '=' {
			j++
			switch {
			case j < len(s) && (s[j] == '"' || s[j] == '\''):
				q := s[j]
				end := strings.IndexByte(s[j+1:], q)
				if end < 0 {
					return name, attrs, len(s)
				}
				val = s[j+1 : j+1+end]
				j += end + 2
			default:
				k := j
				for k < len(s) && !isSpace(s[k]) && s[k] != '>' {
					k++
				}
				val = s[j:k]
				j = k
			}
		}
		if key != "" {
			if _, dup := attrs[key]; !dup {
				attrs[key] = html.UnescapeString(val)
			}
		}
		if k == j && val == "" && key == "" {
			j++ // no progress on a stray character
		}
	}
	return name, attrs, len(s)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' }

// errorText extracts the message of a role="alert" element, for error reports.
func errorText(page []byte) string {
	s := string(page)
	i := strings.Index(s, `role="alert">`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`role="alert">`):]
	if j := strings.IndexByte(s, '<'); j >= 0 {
		s = s[:j]
	}
	return strings.TrimSpace(html.UnescapeString(s))
}

// WebSignIn runs the federated web authentication (docs/protocol.md A.5): open
// AuthenticationServiceUrl with appru and login_hint, fill the form (keeping its hidden
// fields, such as the nonce), post it, and take wresult from the page that posts back to
// appru — which the Web Authentication Broker intercepts instead of navigating.
func WebSignIn(ctx context.Context, c *http.Client, authURL, upn, password, otp string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil || u.Scheme != "https" {
		return "", fmt.Errorf("web sign-in: AuthenticationServiceUrl %q is not an https URL", authURL)
	}
	q := u.Query()
	q.Set("appru", appru)
	q.Set("login_hint", upn)
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	resp, err := httpx.Do(ctx, c, req)
	if err != nil {
		return "", fmt.Errorf("web sign-in: opening %s: %w", u.Redacted(), err)
	}
	switch resp.Status {
	case http.StatusOK:
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
		return federatedSignIn(ctx, c, u, resp.Header.Get("Location"), upn, password, otp)
	default:
		return "", fmt.Errorf("web sign-in: %s answered HTTP %d", u.Host, resp.Status)
	}
	form, err := parseForm(resp.Body)
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	action, err := u.Parse(form.Action)
	if err != nil || action.Scheme != "https" {
		return "", fmt.Errorf("web sign-in: form action %q is not an https URL", form.Action)
	}
	vals := url.Values{}
	for _, kv := range form.Fields {
		switch kv[0] {
		case "upn":
			vals.Set("upn", upn)
		case "password":
			vals.Set("password", password)
		case "otp":
			vals.Set("otp", otp)
		default:
			vals.Add(kv[0], kv[1])
		}
	}
	post, err := http.NewRequest(http.MethodPost, action.String(), bytes.NewBufferString(vals.Encode()))
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = httpx.Do(ctx, c, post)
	if err != nil {
		return "", fmt.Errorf("web sign-in: posting credentials: %w", err)
	}
	if resp.Status != http.StatusOK {
		msg := errorText(resp.Body)
		if msg == "" {
			msg = http.StatusText(resp.Status)
		}
		return "", fmt.Errorf("web sign-in refused (HTTP %d): %s", resp.Status, msg)
	}
	back, err := parseForm(resp.Body)
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	if back.Action != appru {
		return "", fmt.Errorf("web sign-in: final page posts to %q, not to appru", back.Action)
	}
	tok, ok := back.get("wresult")
	if !ok || tok == "" {
		return "", fmt.Errorf("web sign-in: no wresult in the final page")
	}
	return tok, nil
}

// audienceEnrollment is the token audience of MDM enrollment (the wresult the enrollment
// service accepts).
const audienceEnrollment = "urn:hellomdm:enrollment"

// federatedSignIn follows AuthenticationServiceUrl's redirect to a federated tenant's own
// identity provider (the Web Authentication Broker navigates there; MS-MDE2 leaves the page
// flow to the identity provider, docs/protocol.md A.5) and returns the token that provider
// issues, as the wresult. hellomdm does not run third-party providers: by its simulated
// federation contract (pinreset/idp/doc.go) POST /idp/token on the server that redirected,
// with the reached host named in X-Hellomdm-Federation-Host, stands in for the sign-in at
// that host. Only an https redirect to another host is followed; Windows' enrollment broker
// opens it without consulting ConfigureWebSignInAllowedUrls, which governs the lock screen's
// web sign-in, not enrollment.
func federatedSignIn(ctx context.Context, c *http.Client, from *url.URL, location, upn, password, otp string) (string, error) {
	to, err := from.Parse(location)
	if err != nil || to.Scheme != "https" || to.Host == "" {
		return "", fmt.Errorf("web sign-in: %s redirected to %q, not an https URL", from.Host, location)
	}
	host := to.Hostname()
	if strings.EqualFold(to.Host, from.Host) {
		return "", fmt.Errorf("web sign-in: %s redirected to itself (%s)", from.Host, to.Redacted())
	}
	tokenURL, err := from.Parse("token")
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	tokenURL.RawQuery = ""
	body, err := json.Marshal(map[string]string{"upn": upn, "password": password, "otp": otp, "audience": audienceEnrollment})
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, tokenURL.String(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("web sign-in: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(FederationHostHeader, host)
	resp, err := httpx.Do(ctx, c, req)
	if err != nil {
		return "", fmt.Errorf("web sign-in at %s: %w", host, err)
	}
	if resp.Status != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		msg := http.StatusText(resp.Status)
		if json.Unmarshal(resp.Body, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Code + ": " + e.Error.Message
		}
		return "", fmt.Errorf("web sign-in at %s refused (HTTP %d): %s", host, resp.Status, msg)
	}
	tok, err := ParseTokenBody(resp.Body)
	if err != nil {
		return "", fmt.Errorf("web sign-in at %s: %w", host, err)
	}
	return tok, nil
}

// Of hellomdm's identity provider contract (pinreset/idp/doc.go).
const (
	// FederationHostHeader is the simulated federation contract: the device's web sign-in
	// asserts which third-party identity provider host it reached.
	FederationHostHeader = "X-Hellomdm-Federation-Host"
	// MaxTokenLen bounds a token the device accepts or forwards.
	MaxTokenLen = 16 << 10
)

// ErrBadResponse is wrapped when the server's answer is not what the contract promises.
var ErrBadResponse = errors.New("unexpected answer from the server")

// ParseTokenBody reads the token of an identity provider's {"token": …} answer.
func ParseTokenBody(body []byte) (string, error) {
	var b struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "", fmt.Errorf("decoding the sign-in answer: %w: %v", ErrBadResponse, err)
	}
	if b.Token == "" || len(b.Token) > MaxTokenLen || strings.ContainsAny(b.Token, " \t\r\n") {
		return "", fmt.Errorf("decoding the sign-in answer: %w: no usable token", ErrBadResponse)
	}
	return b.Token, nil
}

// TokenTenant reads the tid claim of a JWT web-auth token without verifying it: the device
// only uses it to name its tenant; the server verifies the token.
func TokenTenant(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		TID string `json:"tid"`
	}
	if json.Unmarshal(raw, &claims) != nil || !isGUID(claims.TID) {
		return ""
	}
	return strings.ToLower(claims.TID)
}

// LookupTenant asks hellomdm's identity provider which tenant owns the UPN
// (GET /idp/signin-info, a hellomdm endpoint, not MS-MDE2). Best effort: "" when unknown.
func LookupTenant(ctx context.Context, c *http.Client, log *slog.Logger, base *url.URL, upn string) string {
	u := base.JoinPath("/idp/signin-info")
	u.RawQuery = url.Values{"upn": {upn}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return ""
	}
	resp, err := httpx.Do(ctx, c, req)
	if err != nil || resp.Status != http.StatusOK {
		log.Info("tenant of the enrolled user unknown", "upn", upn)
		return ""
	}
	var info struct {
		TenantID string `json:"tenantId"`
	}
	if json.Unmarshal(resp.Body, &info) != nil || !isGUID(info.TenantID) {
		return ""
	}
	return strings.ToLower(info.TenantID)
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
