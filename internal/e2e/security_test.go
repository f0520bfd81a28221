package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/pinreset"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/store"
)

// Issue 14 acceptance (items 1 to 4): the attacks reproduced through the real server.

// soapFault is what a test reads of an enrollment answer.
type soapFault struct {
	status            int
	subcode, reason   string
	retryAfter        string
	raw               string
	policiesDelivered bool
}

var (
	reSubcode = regexp.MustCompile(`<s:Subcode><s:Value>([^<]*)</s:Value>`)
	reReason  = regexp.MustCompile(`<s:Text[^>]*>([^<]*)</s:Text>`)
)

// getPolicies posts an MS-XCEP GetPolicies with a WS-Security UsernameToken (MS-MDE2
// OnPremise) to Policy.svc, with X-Forwarded-For set to xff when not empty.
func (e *env) getPolicies(upn, pw, xff string) soapFault {
	e.t.Helper()
	esc := func(s string) string { return html.EscapeString(s) }
	body := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
<s:Header><a:Action s:mustUnderstand="1">http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies</a:Action>
<a:MessageID>urn:uuid:72048B64-0F19-448F-8C2E-B4C661860AA0</a:MessageID>
<a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>
<a:To s:mustUnderstand="1">` + e.url + `/EnrollmentServer/Policy.svc</a:To>
<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" s:mustUnderstand="1">
<wsse:UsernameToken u:Id="uuid-cc1ccc1f-2fba-4bcf-b063-ffc0cac77917-4"><wsse:Username>` + esc(upn) + `</wsse:Username>
<wsse:Password wsse:Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">` + esc(pw) + `</wsse:Password></wsse:UsernameToken></wsse:Security>
</s:Header><s:Body><GetPolicies xmlns="http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<client><lastUpdate xsi:nil="true"/><preferredLanguage xsi:nil="true"/></client><requestFilter xsi:nil="true"/></GetPolicies></s:Body></s:Envelope>`
	req, err := http.NewRequest(http.MethodPost, e.url+"/EnrollmentServer/Policy.svc", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return e.soapCall(req)
}

func (e *env) soapCall(req *http.Request) soapFault {
	e.t.Helper()
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	f := soapFault{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(raw)}
	if m := reSubcode.FindSubmatch(raw); m != nil {
		f.subcode = string(m[1])
	}
	if m := reReason.FindSubmatch(raw); m != nil {
		f.reason = html.UnescapeString(string(m[1]))
	}
	f.policiesDelivered = resp.StatusCode == http.StatusOK && bytes.Contains(raw, []byte("GetPoliciesResponse"))
	return f
}

// idpToken posts to the identity provider's token endpoint and returns the status and token.
func (e *env) idpToken(upn, pw, audience string) (int, string) {
	e.t.Helper()
	raw, _ := json.Marshal(map[string]string{"upn": upn, "password": pw, "audience": audience})
	req, err := http.NewRequest(http.MethodPost, e.url+"/idp/token", bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Token
}

func (e *env) addUser(tenant, id, upn string) {
	e.t.Helper()
	hash, err := idp.HashPassword(password, rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.Store.CreateUser(context.Background(), store.User{TenantID: tenant, ID: id, UPN: upn, PasswordHash: hash}); err != nil {
		e.t.Fatal(err)
	}
}

// Item 1: 100 wrong passwords at Policy.svc (each claiming another address in
// X-Forwarded-For, which the server must ignore from a peer that is no trusted proxy), then
// the right one: refused with an s:Authentication fault and a Retry-After, at enrollment and
// at the identity provider alike, the same answer for a user that does not exist, and
// audited. A lockout earned at the identity provider holds at enrollment too.
func TestEnrollmentPasswordGuessingLocksOut(t *testing.T) {
	e := start(t)
	for i := range 100 {
		f := e.getPolicies("alice@contoso.com", fmt.Sprintf("guess %d", i), fmt.Sprintf("203.0.113.%d", i))
		if f.status != http.StatusBadRequest || f.subcode != "s:Authentication" {
			t.Fatalf("guess %d: HTTP %d %s %q, want 400 s:Authentication", i, f.status, f.subcode, f.reason)
		}
	}
	locked := e.getPolicies("alice@contoso.com", password, "198.51.100.7")
	if locked.status != http.StatusBadRequest || locked.subcode != "s:Authentication" || locked.policiesDelivered {
		t.Fatalf("right password after 100 guesses: HTTP %d %s %q, want a 400 s:Authentication fault", locked.status, locked.subcode, locked.reason)
	}
	if n, err := strconv.Atoi(locked.retryAfter); err != nil || n <= 0 || n > int(server.DefaultSignInFailureWindow.Seconds()) {
		t.Errorf("Retry-After = %q, want seconds in (0, %v]", locked.retryAfter, server.DefaultSignInFailureWindow)
	}
	if !strings.Contains(locked.reason, "too many failed sign-ins") {
		t.Errorf("lockout reason = %q", locked.reason)
	}

	// The real agent, right password: no certificate.
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	err := a.Enroll(context.Background(), enroll.Request{ServerURL: e.url, UPN: "alice@contoso.com", Password: password, RootCAs: e.app.CA.Pool()})
	var fe *enroll.FaultError
	if !errors.As(err, &fe) || fe.Subcode != "s:Authentication" {
		t.Fatalf("agent enrollment while locked out: %v, want an s:Authentication fault", err)
	}
	if a.Enrollment().State != enroll.StateNotEnrolled {
		t.Errorf("agent state = %s, want not enrolled", a.Enrollment().State)
	}
	// One limit for every endpoint that checks a password.
	if st, _ := e.idpToken("alice@contoso.com", password, idp.AudienceEnrollment); st != http.StatusTooManyRequests {
		t.Errorf("identity provider token endpoint while locked out at enrollment: HTTP %d, want 429", st)
	}

	// A user that does not exist gets the very same answer once over the limit.
	var ghost soapFault
	for i := range server.DefaultSignInFailureLimit + 1 {
		ghost = e.getPolicies("nobody@contoso.com", fmt.Sprintf("guess %d", i), "")
	}
	if ghost.status != locked.status || ghost.subcode != locked.subcode || ghost.reason != locked.reason {
		t.Errorf("unknown user over the limit: HTTP %d %s %q; existing user: HTTP %d %s %q", ghost.status, ghost.subcode, ghost.reason,
			locked.status, locked.subcode, locked.reason)
	}

	found := false
	for _, ev := range e.audit(contosoTenant, "enrollment.refused") {
		if strings.Contains(string(ev.Details), "too many failed sign-ins") {
			found = true
		}
	}
	if !found {
		t.Error("no enrollment.refused audit event records the lockout")
	}

	// The other way round: locked out at the identity provider, locked out at enrollment.
	e.addUser(contosoTenant, "u-carol", "carol@contoso.com")
	for i := range server.DefaultSignInFailureLimit {
		if st, _ := e.idpToken("carol@contoso.com", fmt.Sprintf("guess %d", i), idp.AudienceEnrollment); st != http.StatusUnauthorized {
			t.Fatalf("identity provider guess %d: HTTP %d, want 401", i, st)
		}
	}
	if f := e.getPolicies("carol@contoso.com", password, ""); f.subcode != "s:Authentication" || f.policiesDelivered {
		t.Errorf("enrollment after a lockout at the identity provider: HTTP %d %s %q, want s:Authentication", f.status, f.subcode, f.reason)
	}
	// Below the limit nothing is locked: a fresh user signs in after a few failures.
	e.addUser(contosoTenant, "u-dave", "dave@contoso.com")
	for i := range server.DefaultSignInFailureLimit - 1 {
		e.getPolicies("dave@contoso.com", fmt.Sprintf("guess %d", i), "")
	}
	if f := e.getPolicies("dave@contoso.com", password, ""); !f.policiesDelivered {
		t.Errorf("right password below the limit: HTTP %d %s %q, want the policies", f.status, f.subcode, f.reason)
	}
}

// Item 3: one enrollment token from the identity provider enrolls one device. The first
// device presents it to Policy.svc and Enrollment.svc and is enrolled; the same token then
// enrolls neither a second device nor the first one again, each refusal an s:Authentication
// fault and an enrollment.refused audit event naming the device that used it. The token
// lives DefaultEnrollmentTokenLifetime.
func TestEnrollmentTokenSingleUse(t *testing.T) {
	e := start(t)
	st, tok := e.idpToken("bob@fabrikam.com", password, idp.AudienceEnrollment)
	if st != http.StatusOK || tok == "" {
		t.Fatalf("enrollment token: HTTP %d", st)
	}
	var claims struct{ Iat, Exp int64 }
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		t.Fatalf("token payload %q: %v", parts[1], err)
	}
	if got := time.Duration(claims.Exp-claims.Iat) * time.Second; got != server.DefaultEnrollmentTokenLifetime {
		t.Errorf("enrollment token lifetime %v, want %v", got, server.DefaultEnrollmentTokenLifetime)
	}

	enrollWithToken := func(a *device.Agent) error {
		return a.Enroll(context.Background(), enroll.Request{ServerURL: e.url, UPN: "bob@fabrikam.com", Token: tok, RootCAs: e.app.CA.Pool()})
	}
	first := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	if err := enrollWithToken(first); err != nil {
		t.Fatalf("first enrollment with the token (GetPolicies, then RequestSecurityToken): %v", err)
	}
	firstID := first.Identity().DeviceID
	rogue := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	again := e.agent(first.Identity())
	for name, a := range map[string]*device.Agent{"another device": rogue, "the same device again": again} {
		err := enrollWithToken(a)
		var fe *enroll.FaultError
		if !errors.As(err, &fe) || fe.Step != "enroll" || fe.Subcode != "s:Authentication" {
			t.Errorf("%s with a used token: %v, want an s:Authentication fault at enroll", name, err)
		}
		if a.Enrollment().State != enroll.StateNotEnrolled {
			t.Errorf("%s: state %s after the refusal", name, a.Enrollment().State)
		}
	}
	if _, err := e.app.Store.Device(context.Background(), rogue.Identity().DeviceID); err == nil {
		t.Error("the rogue device was stored")
	}
	refusals := 0
	for _, ev := range e.audit(fabrikamTen, "enrollment.refused") {
		d := string(ev.Details)
		if strings.Contains(d, "already used") && strings.Contains(d, firstID) {
			refusals++
		}
	}
	if refusals != 2 {
		t.Errorf("%d enrollment.refused events name the reused token and %s, want 2", refusals, firstID)
	}
	// A fresh sign-in gives a fresh token, which enrolls the second device.
	if _, tok = e.idpToken("bob@fabrikam.com", password, idp.AudienceEnrollment); tok == "" {
		t.Fatal("second enrollment token refused")
	}
	if err := enrollWithToken(rogue); err != nil {
		t.Errorf("enrollment with a fresh token: %v", err)
	}
}

// idpTokenOTP signs in at the token endpoint with a one-time code.
func (e *env) idpTokenOTP(upn, pw, otp, audience string) string {
	e.t.Helper()
	raw, _ := json.Marshal(map[string]string{"upn": upn, "password": pw, "otp": otp, "audience": audience})
	req, err := http.NewRequest(http.MethodPost, e.url+"/idp/token", bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		e.t.Fatalf("%s token for %s: HTTP %d", audience, upn, resp.StatusCode)
	}
	return out.Token
}

// Item 4: an MFA-derived PIN reset token releases the protector once. Presented again, by
// the device that used it or by another device of the same user, it is refused
// (token_replayed), the container is left alone and the refusal is audited.
func TestPinResetTokenSingleUse(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	const upn = "alice@contoso.com"
	a := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, upn, enroll.CSRWindows)
	other := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(other, upn, enroll.CSRWindows)
	e.pinRecoveryFor(a, other)
	e.consent(contosoTenant, true)
	for _, ag := range []*device.Agent{a, other} {
		if res, err := ag.ProvisionHello(ctx, upn, firstPIN); err != nil || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
			t.Fatalf("provisioning: %+v, %v", res, err)
		}
	}
	otp := e.enrollTOTP(contosoTenant, "u-alice")
	tok := e.idpTokenOTP(upn, password, otp.next(), idp.AudiencePINReset)
	reset := func(ag *device.Agent, newPIN string) error {
		_, err := ag.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
			AccessToken: tok, NewPIN: newPIN})
		return err
	}
	if err := reset(a, "13572468"); err != nil {
		t.Fatalf("first reset with the token: %v", err)
	}
	for name, ag := range map[string]*device.Agent{"the same device": a, "another device": other} {
		path := containerFile(t, ag)
		before := readFile(t, path)
		wantServiceCode(t, reset(ag, "97531864"), "token_replayed")
		if !bytes.Equal(before, readFile(t, path)) {
			t.Errorf("%s: the refused replay changed the container", name)
		}
		e.wantAuditedUser(ag.Identity().DeviceID, upn, "token already used")
	}
	if evs := e.audit(contosoTenant, "pinreset.succeeded"); len(evs) != 1 {
		t.Errorf("%d pinreset.succeeded events, want 1", len(evs))
	}
	if _, err := a.UnlockHello(ctx, upn, "13572468"); err != nil {
		t.Errorf("the PIN of the one reset: %v", err)
	}
	// A fresh MFA sign-in resets the other device.
	tok = e.idpTokenOTP(upn, password, otp.next(), idp.AudiencePINReset)
	if err := reset(other, "97531864"); err != nil {
		t.Errorf("reset with a fresh token: %v", err)
	}
}

var reNonce = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// signInPage GETs /idp/enroll and returns the status and body.
func (e *env) signInPage(appru, hint string) (int, string) {
	e.t.Helper()
	q := url.Values{"appru": {appru}, "login_hint": {hint}}
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Get(e.url + "/idp/enroll?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// signInPost POSTs the sign-in form and returns the status and body.
func (e *env) signInPost(form url.Values) (int, string) {
	e.t.Helper()
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).PostForm(e.url+"/idp/enroll", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Item 2: the sign-in page posts the enrollment token only to Windows' web auth broker
// (ms-app://) or to a return address the tenant's admin configured. A phishing appru gets a
// page saying why, no token, and an auth.refused audit event; once the admin allows an
// address, it works; the device agent's web sign-in (ms-app://) keeps working.
func TestSignInPageReturnAddress(t *testing.T) {
	e := start(t)
	const evil = "https://evil.example/collect"
	const upn = "bob@fabrikam.com"
	st, body := e.signInPage(evil, upn)
	if st != http.StatusBadRequest || !strings.Contains(body, "not an address your organisation") || strings.Contains(body, `name="password"`) {
		t.Fatalf("sign-in page for appru %s: HTTP %d\n%s", evil, st, body)
	}
	// Posting the credentials straight to the form's target with that appru gets no token.
	st, body = e.signInPost(url.Values{"appru": {evil}, "upn": {upn}, "password": {password}})
	if st != http.StatusBadRequest || strings.Contains(body, "wresult") {
		t.Fatalf("sign-in POST for appru %s: HTTP %d\n%s", evil, st, body)
	}
	found := 0
	for _, ev := range e.audit(fabrikamTen, "auth.refused") {
		if strings.Contains(string(ev.Details), evil) {
			found++
		}
	}
	if found != 2 {
		t.Errorf("%d auth.refused events name %s, want 2", found, evil)
	}

	// An address the admin configured for the tenant is accepted, exactly as configured.
	const allowed = "https://enroll.fabrikam.com/return"
	if st := e.api(http.MethodPatch, "/tenants/"+fabrikamTen, map[string]any{"enrollmentReturnUris": []string{allowed}}, nil); st != http.StatusOK {
		t.Fatalf("configuring the return address: HTTP %d", st)
	}
	if st := e.api(http.MethodPatch, "/tenants/"+fabrikamTen, map[string]any{"enrollmentReturnUris": []string{"http://plain.example/cb"}}, nil); st != http.StatusUnprocessableEntity && st != http.StatusBadRequest {
		t.Errorf("configuring a plain http return address: HTTP %d, want a refusal", st)
	}
	if st, _ := e.signInPage(allowed+"/more", upn); st != http.StatusBadRequest {
		t.Errorf("an address that only starts with the configured one: HTTP %d, want 400", st)
	}
	st, body = e.signInPage(allowed, upn)
	m := reNonce.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("sign-in page for the configured address: HTTP %d\n%s", st, body)
	}
	st, body = e.signInPost(url.Values{"appru": {allowed}, "nonce": {html.UnescapeString(m[1])}, "upn": {upn}, "password": {password}})
	if st != http.StatusOK || !strings.Contains(body, `action="`+allowed+`"`) || !strings.Contains(body, "wresult") {
		t.Fatalf("sign-in for the configured address: HTTP %d\n%s", st, body)
	}
	// A user of another tenant cannot use fabrikam's address.
	if st, _ := e.signInPage(allowed, "alice@contoso.com"); st != http.StatusBadRequest {
		t.Errorf("contoso user with fabrikam's return address: HTTP %d, want 400", st)
	}

	// Windows' own flow: the agent's web sign-in with its ms-app:// appru enrolls.
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, upn, enroll.CSRClean)
}
