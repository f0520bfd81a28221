package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/device/pinreset"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Issue 7 acceptance: PIN reset end to end, device side.

const (
	pinComplexityMinURI = "./Device/Vendor/MSFT/PassportForWork/" + contosoTenant + "/Policies/PINComplexity/MinimumPINLength"
	fabrikamHost        = "adfs.fabrikam.com"
	firstPIN            = "24681357"

	// LocURI suffixes of the two PIN recovery nodes in a device's setting states.
	pinRecoveryNode = "/Policies/EnablePinRecovery"
	allowListNode   = "/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
)

// cheapKDF keeps Argon2id affordable under the race detector; the production default is
// exercised by device/hello's own tests.
var cheapKDF = hello.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// pinAgent opens an agent with a cheap Hello KDF.
func (e *env) pinAgent(id identity.Identity) *device.Agent {
	e.t.Helper()
	kdf := cheapKDF
	a, err := device.Open(e.t.TempDir(), device.Options{Identity: &id, HTTPTimeout: 30 * time.Second, HelloKDF: &kdf})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) consent(tenant string, granted bool) {
	e.t.Helper()
	for _, app := range []string{"service", "client"} {
		if st := e.api(http.MethodPost, "/tenants/"+tenant+"/pinReset/consent", map[string]any{"app": app, "granted": granted}, nil); st != http.StatusOK {
			e.t.Fatalf("consent %s %s: HTTP %d", tenant, app, st)
		}
	}
}

// otpUser hands out TOTP codes for consecutive, never reused steps (the identity provider
// refuses a step at or below the last one used, RFC 6238 section 5.2).
type otpUser struct {
	secret []byte
	last   int64
}

func (e *env) enrollTOTP(tenant, uid string) *otpUser {
	e.t.Helper()
	var v wire.TOTP
	if st := e.api(http.MethodPost, "/tenants/"+tenant+"/users/"+uid+"/authenticationMethods/totp", map[string]any{}, &v); st != http.StatusOK && st != http.StatusCreated {
		e.t.Fatalf("enrolling TOTP for %s: HTTP %d", uid, st)
	}
	secret, err := idp.DecodeTOTPSecret(v.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	return &otpUser{secret: secret}
}

// next returns a code for an unused step inside the ±1 step window, waiting for the window
// to move when the steps are used up.
func (u *otpUser) next() string {
	for {
		now := time.Now().Unix() / 30
		step := max(u.last+1, now-1)
		if step <= now+1 {
			u.last = step
			return idp.TOTPCode(u.secret, time.Unix(step*30+1, 0))
		}
		time.Sleep(time.Until(time.Unix((now+1)*30, 0)) + 100*time.Millisecond)
	}
}

// replay returns the code of the last step handed out.
func (u *otpUser) replay() string { return idp.TOTPCode(u.secret, time.Unix(u.last*30+1, 0)) }

// mint issues a PIN reset token with the server's own keys and the given clock.
func (e *env) mint(now time.Time, tenant, uid, upn string, mfa bool) string {
	e.t.Helper()
	is, err := idp.NewIssuer(idp.IssuerConfig{URL: e.app.PublicURL.JoinPath("/idp").String(), Now: func() time.Time { return now }}, server.NewKeys(e.app.Store))
	if err != nil {
		e.t.Fatal(err)
	}
	amr := []string{idp.AMRPassword}
	if mfa {
		amr = append(amr, idp.AMRMFA)
	}
	tok, err := is.Issue(context.Background(), idp.Claims{Audience: idp.AudiencePINReset, TenantID: tenant, Subject: uid, UPN: upn, AMR: amr})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// auditEvent is the part of an exported audit event the tests read.
type auditEvent struct {
	Kind     string          `json:"kind"`
	DeviceID string          `json:"device"`
	Details  json.RawMessage `json:"details"`
}

// audit exports the tenant's events of one kind.
func (e *env) audit(tenant, kind string) []auditEvent {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/api/v1/tenants/"+tenant+"/audit?format=ndjson&kind="+kind, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("audit export: HTTP %d", resp.StatusCode)
	}
	var out []auditEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			e.t.Fatalf("audit line %q: %v", sc.Bytes(), err)
		}
		out = append(out, ev)
	}
	return out
}

// wantAudited fails unless a pinreset.refused event of the device mentions reason.
func (e *env) wantAudited(tenant, deviceID, reason string) {
	e.t.Helper()
	for _, ev := range e.audit(tenant, "pinreset.refused") {
		if ev.DeviceID == deviceID && strings.Contains(string(ev.Details), reason) {
			return
		}
	}
	e.t.Errorf("no pinreset.refused audit event of %s mentions %q", deviceID, reason)
}

// devicesWith lists the tenant's device IDs reported with canReset.
func (e *env) devicesWith(tenant, canReset string) []string {
	e.t.Helper()
	var v struct {
		Value []wire.Device `json:"value"`
	}
	if st := e.api(http.MethodGet, "/tenants/"+tenant+"/devices?canReset="+canReset, nil, &v); st != http.StatusOK {
		e.t.Fatalf("listing devices: HTTP %d", st)
	}
	var ids []string
	for _, d := range v.Value {
		ids = append(ids, d.ID)
	}
	return ids
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}

// containerFile returns the path of the only Hello container of an agent.
func containerFile(t *testing.T, a *device.Agent) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(a.HelloDir(), "ngc-*.ngc.json"))
	if err != nil || len(m) != 1 {
		t.Fatalf("Hello containers: %v, %v", m, err)
	}
	return m[0]
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) sync(a *device.Agent) omadm.Report {
	e.t.Helper()
	rep, err := a.Sync(context.Background())
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	return rep
}

// replace queues a Replace and delivers it with one sync.
func (e *env) replace(a *device.Agent, tenant, uri, format, data string) {
	e.t.Helper()
	e.set(a, tenant, "Replace", uri, format, data)
}

// set queues one command writing a node and delivers it with one sync.
func (e *env) set(a *device.Agent, tenant, verb, uri, format, data string) {
	e.t.Helper()
	id := e.queue(tenant, a.Identity().DeviceID, wire.CommandRequest{Verb: verb, LocURI: uri, Format: format, Data: data})
	e.sync(a)
	if v := e.command(tenant, a.Identity().DeviceID, id); v.StatusCode != syncml.StatusOK {
		e.t.Fatalf("%s %s = %s: status %d", verb, uri, data, v.StatusCode)
	}
}

func status(t *testing.T, a *device.Agent) string {
	t.Helper()
	s, err := a.Status()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantServiceCode(t *testing.T, err error, code string) {
	t.Helper()
	var se *pinreset.ServiceError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("err = %v, want a service refusal %s", err, code)
	}
}

func TestPinResetEndToEnd(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	id := newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro)
	a := e.pinAgent(id)
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := id.DeviceID
	const upn = "alice@contoso.com"

	// Policy: PIN recovery on through a settings catalog profile assigned to a group holding
	// the device, as an admin does it; the engine writes the node, then verifies it.
	gid := e.groupWith(contosoTenant, "WHfB PIN recovery", did)
	profile := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	e.assign("configurationPolicies", profile, groupTarget(gid))
	e.syncUntilState(a, contosoTenant, pinRecoveryNode, store.SettingSucceeded)
	if !a.Policy().PINRecoveryEnabled {
		t.Fatalf("policy after the profile landed: %+v", a.Policy())
	}
	// The minimum PIN length is only a precondition of the provisioning check below, so a
	// queued Add sets it (PINComplexity does not exist before).
	e.set(a, contosoTenant, "Add", pinComplexityMinURI, "int", "8")

	// Provisioning honours PIN complexity.
	_, err := a.ProvisionHello(ctx, upn, "1234")
	var pe *hello.PolicyError
	if !errors.As(err, &pe) || pe.Rule != "MinimumPINLength" {
		t.Fatalf("provision with a short PIN: %v, want MinimumPINLength refusal", err)
	}

	// Tenant not onboarded yet: the container is made, the protector is not, status says why.
	res, err := a.ProvisionHello(ctx, upn, firstPIN)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if res.CanReset != hello.CanResetDestructiveOnly || !strings.Contains(res.ProtectorIssue, "consent_required") {
		t.Fatalf("provision before consent: %+v", res)
	}
	if s := status(t, a); !strings.Contains(s, "CanReset : DestructiveOnly") || !strings.Contains(s, "admin consent required") {
		t.Errorf("status before consent:\n%s", s)
	}
	path := containerFile(t, a)
	before := readFile(t, path)
	_, err = a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.Settings, Kind: hello.NonDestructive, Password: password, NewPIN: "13572468"})
	var ref *hello.RefusalError
	if !errors.As(err, &ref) || ref.Row != hello.RowTenantNotOnboarded {
		t.Fatalf("reset before consent: %v, want row %s", err, hello.RowTenantNotOnboarded)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("refused reset changed the container")
	}
	e.wantAudited(contosoTenant, "", "admin consent required")

	// Consent, then the user signs in with the PIN: the protector is created.
	e.consent(contosoTenant, true)
	if _, err := a.UnlockHello(ctx, upn, "00000000"); !errors.Is(err, hello.ErrWrongPIN) {
		t.Fatalf("unlock with a wrong PIN: %v", err)
	}
	if res, err = a.UnlockHello(ctx, upn, firstPIN); err != nil || res.CanReset != hello.CanResetDestructiveAndNonDestructive || res.ProtectorIssue != "" {
		t.Fatalf("unlock after consent: %+v, %v", res, err)
	}
	keyID := res.NgcKeyID
	if s := status(t, a); !strings.Contains(s, "CanReset : DestructiveAndNonDestructive") || !strings.Contains(s, "PinResetProtector : present") {
		t.Errorf("status after unlock:\n%s", s)
	}
	e.sync(a)
	if ids := e.devicesWith(contosoTenant, hello.CanResetDestructiveAndNonDestructive); !contains(ids, did) {
		t.Errorf("devices with DestructiveAndNonDestructive = %v, want %s", ids, did)
	}

	nd := func(pw, otp, token, newPIN string) error {
		_, err := a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
			Password: pw, OTP: otp, AccessToken: token, NewPIN: newPIN})
		return err
	}
	unchanged := func(what string, before []byte) {
		t.Helper()
		if !bytes.Equal(before, readFile(t, path)) {
			t.Errorf("%s: the container file changed", what)
		}
	}

	// Token without MFA: alice has no TOTP secret yet.
	before = readFile(t, path)
	err = nd(password, "", "", "13572468")
	wantServiceCode(t, err, "mfa_required")
	unchanged("token without MFA", before)
	e.wantAudited(contosoTenant, did, "multi-factor authentication required")

	otp := e.enrollTOTP(contosoTenant, "u-alice")

	// Wrong password and wrong one-time code: refused by the identity provider.
	wantServiceCode(t, nd("wrong password", otp.next(), "", "13572468"), "invalid_credentials")
	wantServiceCode(t, nd(password, "000000", "", "13572468"), "otp_invalid")
	unchanged("wrong credentials", before)

	// Non-destructive reset: same key, new PIN.
	res, err = a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
		Password: password, OTP: otp.next(), NewPIN: "13572468"})
	if err != nil {
		t.Fatalf("non-destructive reset: %v", err)
	}
	if res.NgcKeyID != keyID || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Errorf("after non-destructive reset: %+v, want NgcKeyId %s kept", res, keyID)
	}
	if _, err := a.UnlockHello(ctx, upn, "13572468"); err != nil {
		t.Errorf("new PIN: %v", err)
	}
	if _, err := a.UnlockHello(ctx, upn, firstPIN); !errors.Is(err, hello.ErrWrongPIN) {
		t.Errorf("old PIN: %v, want ErrWrongPIN", err)
	}
	if evs := e.audit(contosoTenant, "pinreset.succeeded"); len(evs) != 1 || evs[0].DeviceID != did {
		t.Errorf("pinreset.succeeded events = %+v", evs)
	}

	// Replayed one-time code.
	before = readFile(t, path)
	wantServiceCode(t, nd(password, otp.replay(), "", "97531864"), "otp_replayed")
	unchanged("replayed code", before)

	// Tokens the service refuses: expired, of another tenant.
	wantServiceCode(t, nd("", "", e.mint(time.Now().Add(-time.Hour), contosoTenant, "u-alice", upn, true), "97531864"), "token_expired")
	e.wantAudited(contosoTenant, did, "token expired")
	wantServiceCode(t, nd("", "", e.mint(time.Now(), fabrikamTen, "u-bob", "bob@fabrikam.com", true), "97531864"), "wrong_tenant")
	e.wantAudited(contosoTenant, did, "another tenant")
	unchanged("refused tokens", before)

	// Ciphertexts the service can't decrypt: tampered, and made for another tenant's key.
	good := e.mint(time.Now(), contosoTenant, "u-alice", upn, true)
	e.consent(fabrikamTen, true)
	otherKey := e.servicePublicKey(fabrikamTen)
	for name, mutate := range map[string]func([]byte) []byte{
		"tampered": func(ct []byte) []byte { ct[len(ct)/2] ^= 0x40; return ct },
		"another tenant's key": func(ct []byte) []byte {
			out, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, otherKey, make([]byte, 32), hello.ProtectorLabel(fabrikamTen, upn))
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
	} {
		orig := readFile(t, path)
		bad := rewriteCiphertext(t, orig, mutate)
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		wantServiceCode(t, nd("", "", good, "97531864"), "bad_ciphertext")
		unchanged(name+" ciphertext", bad)
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.wantAudited(contosoTenant, did, "ciphertext does not decrypt")

	// An entry point the matrix refuses for this join and trust type.
	before = readFile(t, path)
	if err := a.SetJoin(identity.JoinState{Join: hello.HybridJoined, Trust: hello.KeyTrust, Account: hello.Enterprise}); err != nil {
		t.Fatal(err)
	}
	_, err = a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.AboveLock, Kind: hello.Destructive,
		DCReachable: true, Password: password, OTP: "123456", NewPIN: "97531864"})
	if !errors.As(err, &ref) || ref.Row != hello.RowHybridKeyTrustAboveLock || !strings.Contains(err.Error(), ref.Row) {
		t.Fatalf("hybrid key trust above lock: %v", err)
	}
	unchanged("matrix refusal", before)
	if err := a.SetJoin(identity.DefaultJoinState); err != nil {
		t.Fatal(err)
	}

	// Destructive reset: new key, protector again because recovery is on.
	res, err = a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.Settings, Kind: hello.Destructive,
		Password: password, OTP: otp.next(), NewPIN: "97531864"})
	if err != nil {
		t.Fatalf("destructive reset: %v", err)
	}
	if res.NgcKeyID == keyID || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Errorf("after destructive reset: %+v, want a new NgcKeyId and a protector", res)
	}
	e.sync(a)
	var dv wire.Device
	if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did, nil, &dv); st != http.StatusOK || dv.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Errorf("device view after destructive reset: HTTP %d, %+v", st, dv)
	}

	// Policy off: the admin removes the profile's assignment, the engine deletes the node
	// (EnablePinRecovery reverts to its default, false) and the protector goes at once, no PIN
	// needed.
	e.assign("configurationPolicies", profile, unassigned)
	e.syncUntilState(a, contosoTenant, pinRecoveryNode, store.SettingRemoved)
	if a.Policy().PINRecoveryEnabled {
		t.Errorf("policy after unassigning: %+v, want PIN recovery off", a.Policy())
	}
	if s := status(t, a); !strings.Contains(s, "CanReset : DestructiveOnly") || !strings.Contains(s, "PinResetProtector : not used") {
		t.Errorf("status after disabling:\n%s", s)
	}
	e.sync(a)
	if ids := e.devicesWith(contosoTenant, hello.CanResetDestructiveOnly); !contains(ids, did) {
		t.Errorf("devices with DestructiveOnly = %v, want %s", ids, did)
	}
	before = readFile(t, path)
	_, err = a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.Settings, Kind: hello.NonDestructive, Password: password, NewPIN: "11223344"})
	if !errors.As(err, &ref) || ref.Row != hello.RowRecoveryDisabled {
		t.Errorf("non-destructive reset with the policy off: %v", err)
	}
	unchanged("recovery disabled", before)
}

// servicePublicKey fetches a tenant's PIN reset key the way any client can.
func (e *env) servicePublicKey(tenant string) *rsa.PublicKey {
	e.t.Helper()
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Get(e.url + "/pinreset/v1/tenants/" + tenant + "/publickey")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		PublicKeyDER []byte `json:"publicKeyDer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("public key of %s: HTTP %d, %v", tenant, resp.StatusCode, err)
	}
	k, err := x509.ParsePKIXPublicKey(b.PublicKeyDER)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

// rewriteCiphertext returns the container file with its escrowed ciphertext replaced.
func rewriteCiphertext(t *testing.T, file []byte, mutate func([]byte) []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(file, &m); err != nil {
		t.Fatal(err)
	}
	var rp map[string]json.RawMessage
	if err := json.Unmarshal(m["resetProtector"], &rp); err != nil {
		t.Fatal(err)
	}
	var ct []byte
	if err := json.Unmarshal(rp["ciphertext"], &ct); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(mutate(ct))
	rp["ciphertext"] = raw
	m["resetProtector"], _ = json.Marshal(rp)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// federatedBob enrolls bob@fabrikam.com on a new agent, then federates fabrikam to
// adfs.fabrikam.com (hellomdm runs no AD FS for the enrollment page).
func (e *env) federatedBob(id identity.Identity) *device.Agent {
	e.t.Helper()
	a := e.pinAgent(id)
	e.enroll(a, "bob@fabrikam.com", enroll.CSRWindows)
	if st := e.api(http.MethodPatch, "/tenants/"+fabrikamTen, map[string]any{"federationHost": fabrikamHost}, nil); st != http.StatusOK {
		e.t.Fatalf("federating fabrikam: HTTP %d", st)
	}
	return a
}

// Federated tenant: the web sign-in opens only allowed hosts.
func TestPinResetFederatedWebSignIn(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	const upn = "bob@fabrikam.com"
	a := e.federatedBob(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionEnterprise))
	e.consent(fabrikamTen, true)
	// PIN recovery on through fabrikam's own settings catalog profile ({tenantid} resolves to
	// fabrikam), assigned to a group holding the device.
	gid := e.groupWith(fabrikamTen, "Fabrikam WHfB", a.Identity().DeviceID)
	pin := e.importProfileIn(fabrikamTen, "configurationPolicies", catalogPinRecoveryExport)
	e.assignIn(fabrikamTen, "configurationPolicies", pin, groupTarget(gid))
	e.syncUntilState(a, fabrikamTen, pinRecoveryNode, store.SettingSucceeded)
	if res, err := a.ProvisionHello(ctx, upn, "1357"); err != nil || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Fatalf("provision: %+v, %v", res, err)
	}
	otp := e.enrollTOTP(fabrikamTen, "u-bob")
	path := containerFile(t, a)

	for _, from := range []hello.EntryPoint{hello.AboveLock, hello.Settings} {
		before := readFile(t, path)
		_, err := a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: from, Kind: hello.NonDestructive,
			Password: password, OTP: otp.next(), NewPIN: "2468"})
		var we *pinreset.WebSignInError
		if !errors.As(err, &we) || we.Host != fabrikamHost ||
			!strings.Contains(err.Error(), "We can't open that page right now ("+fabrikamHost+" is not in ConfigureWebSignInAllowedUrls)") {
			t.Fatalf("reset from %s without the allow list: %v", from, err)
		}
		if !bytes.Equal(before, readFile(t, path)) {
			t.Errorf("refused web sign-in changed the container")
		}
	}

	// The allow list arrives as a custom OMA-URI profile assigned to the same group.
	allow := e.importProfileIn(fabrikamTen, "deviceConfigurations",
		e.customAllowListProfile("Fabrikam web sign-in", fabrikamHost+";login.microsoftonline.com"))
	e.assignIn(fabrikamTen, "deviceConfigurations", allow, groupTarget(gid))
	e.syncUntilState(a, fabrikamTen, allowListNode, store.SettingSucceeded)
	if urls := a.Policy().WebSignInAllowedURLs; !slices.Equal(urls, []string{fabrikamHost, "login.microsoftonline.com"}) {
		t.Fatalf("allow list on the device = %q", urls)
	}
	res, err := a.ResetPIN(ctx, pinreset.Request{UPN: upn, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
		Password: password, OTP: otp.next(), NewPIN: "2468"})
	if err != nil {
		t.Fatalf("reset with the allow list: %v", err)
	}
	if res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Errorf("after reset: %+v", res)
	}
	if _, err := a.UnlockHello(ctx, upn, "2468"); err != nil {
		t.Errorf("new PIN: %v", err)
	}
}
