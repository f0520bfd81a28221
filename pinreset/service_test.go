package pinreset

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// golden compares got with testdata/golden/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch\n got: %s\nwant: %s", path, got, want)
	}
}

// withDevice attaches a verified chain naming deviceID, as crypto/tls would after verifying
// the client certificate.
func withDevice(r *http.Request, deviceID string) *http.Request {
	r.TLS = &tls.ConnectionState{}
	if deviceID != "" {
		leaf := &x509.Certificate{Subject: pkix.Name{CommonName: deviceID}}
		r.TLS.VerifiedChains = [][]*x509.Certificate{{leaf}}
	}
	return r
}

func decodeError(t *testing.T, body []byte) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decoding error body %q: %v", body, err)
	}
	return e
}

func TestDecrypt(t *testing.T) {
	keyA, keyB := testKeys(t)
	good := encrypt(t, keyA, Label(tenantA, alice), protector())
	tampered := bytes.Clone(good)
	tampered[len(tampered)/2] ^= 0x01

	tests := []struct {
		name     string
		tenant   string
		device   string // "" = no client certificate
		token    string
		ct       []byte
		body     string // raw HTTP body instead of ct; then the row runs over HTTP only
		wantErr  error  // nil = success
		status   int
		code     string
		outcome  string
		httpOnly bool
	}{
		{name: "ok", tenant: tenantA, device: "dev-a", token: "tok-good", ct: good,
			status: 200, outcome: OutcomeOK},
		{name: "unknown_tenant", tenant: tenantUnknown, device: "dev-a", token: "tok-good", ct: good,
			wantErr: ErrUnknownTenant, status: 404, code: "unknown_tenant", outcome: OutcomeRefused},
		{name: "gov_cloud", tenant: tenantGov, device: "dev-a", token: "tok-good", ct: good,
			wantErr: ErrServiceUnavailable, status: 503, code: "service_unavailable", outcome: OutcomeRefused},
		{name: "service_consent_missing", tenant: tenantNoService, device: "dev-a", token: "tok-good", ct: good,
			wantErr: ErrConsentRequired, status: 403, code: "consent_required", outcome: OutcomeRefused},
		{name: "client_consent_missing", tenant: tenantNoClient, device: "dev-a", token: "tok-good", ct: good,
			wantErr: ErrConsentRequired, status: 403, code: "consent_required", outcome: OutcomeRefused},
		{name: "no_token", tenant: tenantA, device: "dev-a", token: "", ct: good,
			wantErr: ErrTokenInvalid, status: 401, code: "invalid_token", outcome: OutcomeRefused},
		{name: "bad_token", tenant: tenantA, device: "dev-a", token: "tok-forged", ct: good,
			wantErr: ErrTokenInvalid, status: 401, code: "invalid_token", outcome: OutcomeRefused},
		{name: "token_without_expiry", tenant: tenantA, device: "dev-a", token: "tok-noexp", ct: good,
			wantErr: ErrTokenInvalid, status: 401, code: "invalid_token", outcome: OutcomeRefused},
		{name: "expired_token", tenant: tenantA, device: "dev-a", token: "tok-expired", ct: good,
			wantErr: ErrTokenExpired, status: 401, code: "token_expired", outcome: OutcomeRefused},
		{name: "expired_token_by_verifier", tenant: tenantA, device: "dev-a", token: "tok-expired-verifier", ct: good,
			wantErr: ErrTokenExpired, status: 401, code: "token_expired", outcome: OutcomeRefused},
		{name: "token_of_other_tenant", tenant: tenantA, device: "dev-a", token: "tok-b", ct: good,
			wantErr: ErrWrongTenant, status: 403, code: "wrong_tenant", outcome: OutcomeRefused},
		{name: "token_without_mfa", tenant: tenantA, device: "dev-a", token: "tok-nomfa", ct: good,
			wantErr: ErrMFARequired, status: 403, code: "mfa_required", outcome: OutcomeRefused},
		{name: "no_client_cert", tenant: tenantA, device: "", token: "tok-good", ct: good,
			wantErr: ErrNoClientCert, status: 403, code: "client_certificate_required", outcome: OutcomeRefused},
		{name: "device_not_enrolled", tenant: tenantA, device: "dev-pending", token: "tok-good", ct: good,
			wantErr: ErrDeviceNotEnrolled, status: 403, code: "device_not_enrolled", outcome: OutcomeRefused},
		{name: "device_unknown", tenant: tenantA, device: "dev-nobody", token: "tok-good", ct: good,
			wantErr: ErrDeviceNotEnrolled, status: 403, code: "device_not_enrolled", outcome: OutcomeRefused},
		{name: "device_retired", tenant: tenantA, device: "dev-retired", token: "tok-good", ct: good,
			wantErr: ErrDeviceRetired, status: 403, code: "device_retired", outcome: OutcomeRefused},
		{name: "device_of_other_tenant", tenant: tenantA, device: "dev-b", token: "tok-good", ct: good,
			wantErr: ErrDeviceWrongTenant, status: 403, code: "device_wrong_tenant", outcome: OutcomeRefused},
		{name: "device_lookup_fails", tenant: tenantA, device: "dev-broken", token: "tok-good", ct: good,
			wantErr: errors.New("any failure"), status: 500, code: "internal_error", outcome: OutcomeError},
		{name: "ciphertext_for_other_tenant_key", tenant: tenantA, device: "dev-a", token: "tok-good",
			ct:      encrypt(t, keyB, Label(tenantB, alice), protector()),
			wantErr: ErrBadCiphertext, status: 400, code: "bad_ciphertext", outcome: OutcomeRefused},
		{name: "ciphertext_with_other_tenant_label", tenant: tenantA, device: "dev-a", token: "tok-good",
			ct:      encrypt(t, keyA, Label(tenantB, alice), protector()),
			wantErr: ErrBadCiphertext, status: 400, code: "bad_ciphertext", outcome: OutcomeRefused},
		// The label binds the user: carol of the same tenant, with MFA, on an enrolled device
		// of the tenant, cannot have alice's protector decrypted, and learns only
		// bad_ciphertext, as for any other ciphertext that does not decrypt.
		{name: "protector_of_other_user", tenant: tenantA, device: "dev-a", token: "tok-carol", ct: good,
			wantErr: ErrBadCiphertext, status: 400, code: "bad_ciphertext", outcome: OutcomeRefused},
		{name: "own_protector_of_other_user", tenant: tenantA, device: "dev-a", token: "tok-carol",
			ct:     encrypt(t, keyA, Label(tenantA, "carol@a.example"), protector()),
			status: 200, outcome: OutcomeOK},
		{name: "upn_case_differs", tenant: tenantA, device: "dev-a", token: "tok-good",
			ct:     encrypt(t, keyA, Label(tenantA, "Alice@A.Example"), protector()),
			status: 200, outcome: OutcomeOK},
		{name: "tenant_only_v1_label", tenant: tenantA, device: "dev-a", token: "tok-good",
			ct:      encrypt(t, keyA, []byte("hellomdm-pin-reset:"+tenantA), protector()),
			wantErr: ErrBadCiphertext, status: 400, code: "bad_ciphertext", outcome: OutcomeRefused},
		{name: "tampered_ciphertext", tenant: tenantA, device: "dev-a", token: "tok-good", ct: tampered,
			wantErr: ErrBadCiphertext, status: 400, code: "bad_ciphertext", outcome: OutcomeRefused},
		{name: "truncated_ciphertext", tenant: tenantA, device: "dev-a", token: "tok-good", ct: good[:100],
			wantErr: ErrBadCiphertext, status: 400, code: "bad_ciphertext", outcome: OutcomeRefused},
		{name: "wrong_plaintext_length", tenant: tenantA, device: "dev-a", token: "tok-good",
			ct:      encrypt(t, keyA, Label(tenantA, alice), protector()[:16]),
			wantErr: ErrBadProtector, status: 400, code: "bad_protector", outcome: OutcomeRefused},
		{name: "body_not_json", tenant: tenantA, device: "dev-a", token: "tok-good", body: "ciphertext=AAAA",
			wantErr: ErrBadRequest, status: 400, code: "bad_request", outcome: OutcomeRefused, httpOnly: true},
		{name: "body_bad_base64", tenant: tenantA, device: "dev-a", token: "tok-good", body: `{"ciphertext":"*not base64*"}`,
			wantErr: ErrBadRequest, status: 400, code: "bad_request", outcome: OutcomeRefused, httpOnly: true},
		{name: "body_without_ciphertext", tenant: tenantA, device: "dev-a", token: "tok-good", body: `{}`,
			wantErr: ErrBadRequest, status: 400, code: "bad_request", outcome: OutcomeRefused, httpOnly: true},
		{name: "body_too_large", tenant: tenantA, device: "dev-a", token: "tok-good",
			body:    `{"ciphertext":"` + strings.Repeat("A", maxBodyBytes) + `"}`,
			wantErr: ErrBadRequest, status: 400, code: "bad_request", outcome: OutcomeRefused, httpOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.httpOnly {
				t.Run("api", func(t *testing.T) {
					f := newFixture(t)
					got, err := f.svc.Decrypt(context.Background(), DecryptRequest{
						TenantID: tt.tenant, DeviceID: tt.device, Token: tt.token, Ciphertext: tt.ct,
					})
					switch {
					case tt.wantErr == nil && err != nil:
						t.Fatalf("Decrypt: %v", err)
					case tt.wantErr == nil && !bytes.Equal(got, protector()):
						t.Fatalf("protector = %x, want %x", got, protector())
					case tt.wantErr != nil && err == nil:
						t.Fatalf("Decrypt succeeded, want %v", tt.wantErr)
					case tt.wantErr != nil && tt.outcome == OutcomeRefused && !errors.Is(err, tt.wantErr):
						t.Fatalf("Decrypt error = %v, want %v", err, tt.wantErr)
					case tt.wantErr != nil && got != nil:
						t.Fatalf("refused Decrypt returned %x", got)
					}
					checkAudit(t, f, tt.tenant, tt.device, tt.outcome, OpDecrypt)
				})
			}
			t.Run("http", func(t *testing.T) {
				f := newFixture(t)
				body := tt.body
				if body == "" {
					b, err := json.Marshal(DecryptBody{Ciphertext: tt.ct})
					if err != nil {
						t.Fatal(err)
					}
					body = string(b)
				}
				r := withDevice(httptest.NewRequest("POST", "/pinreset/v1/tenants/"+tt.tenant+"/decrypt", strings.NewReader(body)), tt.device)
				if tt.token != "" {
					r.Header.Set("Authorization", "Bearer "+tt.token)
				}
				w := httptest.NewRecorder()
				f.svc.Handler().ServeHTTP(w, r)
				if w.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
				}
				if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", cc)
				}
				if tt.code != "" {
					if got := decodeError(t, w.Body.Bytes()).Error.Code; got != tt.code {
						t.Errorf("error code = %q, want %q", got, tt.code)
					}
				}
				if tt.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if !strings.HasPrefix(tt.name, "body_too_large") {
					golden(t, "decrypt_"+tt.name+".json", w.Body.Bytes())
				}
				checkAudit(t, f, tt.tenant, tt.device, tt.outcome, OpDecrypt)
			})
		})
	}
}

func checkAudit(t *testing.T, f *fixture, tenant, device, outcome, op string) {
	t.Helper()
	rec := f.audit.one(t)
	if rec.Operation != op || rec.Outcome != outcome || rec.TenantID != tenant || rec.DeviceID != device {
		t.Errorf("audit = %+v, want operation %q outcome %q tenant %q device %q", rec, op, outcome, tenant, device)
	}
	if rec.Reason == "" {
		t.Errorf("audit record without reason: %+v", rec)
	}
}

// alice is the UPN of tok-good.
const alice = "alice@a.example"

// TestLabel pins the label format that device/hello.ProtectorLabel must reproduce (the
// device side has the matching test, and internal/e2e runs both against each other).
func TestLabel(t *testing.T) {
	tests := []struct {
		name, tenant, upn, want string
	}{
		{"lower case", tenantA, alice, "hellomdm-pin-reset:v2:" + tenantA + ":" + alice},
		{"upn lower-cased", tenantA, "Alice@A.Example", "hellomdm-pin-reset:v2:" + tenantA + ":" + alice},
		{"other tenant", tenantB, alice, "hellomdm-pin-reset:v2:" + tenantB + ":" + alice},
		{"empty upn is the prefix", tenantA, "", TenantLabelPrefix(tenantA)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Label(tt.tenant, tt.upn)); got != tt.want {
				t.Errorf("Label(%q, %q) = %q, want %q", tt.tenant, tt.upn, got, tt.want)
			}
		})
	}
	if bytes.Equal(Label(tenantA, alice), Label(tenantA, "carol@a.example")) {
		t.Error("two users of one tenant share a label")
	}
}

// TestDecryptOtherUserAudited: a refusal for another user's protector is audited with the
// token's user and an opaque reason.
func TestDecryptOtherUserAudited(t *testing.T) {
	keyA, _ := testKeys(t)
	f := newFixture(t)
	_, err := f.svc.Decrypt(context.Background(), DecryptRequest{
		TenantID: tenantA, DeviceID: "dev-a", Token: "tok-carol", Ciphertext: encrypt(t, keyA, Label(tenantA, alice), protector()),
	})
	if !errors.Is(err, ErrBadCiphertext) {
		t.Fatalf("Decrypt error = %v, want ErrBadCiphertext", err)
	}
	rec := f.audit.one(t)
	if rec.Outcome != OutcomeRefused || rec.UserID != "u-carol" || rec.UPN != "carol@a.example" || !strings.Contains(rec.Reason, ErrBadCiphertext.Error()) {
		t.Errorf("audit = %+v, want refusal of u-carol carol@a.example for a bad ciphertext", rec)
	}
}

func TestDecryptAuditNamesUser(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.Decrypt(context.Background(), DecryptRequest{TenantID: tenantA, DeviceID: "dev-retired", Token: "tok-good"})
	if !errors.Is(err, ErrDeviceRetired) {
		t.Fatalf("Decrypt error = %v, want ErrDeviceRetired", err)
	}
	if rec := f.audit.one(t); rec.UserID != "u-alice" || rec.UPN != "alice@a.example" {
		t.Errorf("audit = %+v, want user u-alice alice@a.example", rec)
	}
}

func TestPublicKey(t *testing.T) {
	keyA, _ := testKeys(t)
	tests := []struct {
		name    string
		tenant  string
		wantErr error
		missing []App
		status  int
		code    string
		outcome string
	}{
		{name: "ok", tenant: tenantA, status: 200, outcome: OutcomeOK},
		{name: "unknown_tenant", tenant: tenantUnknown, wantErr: ErrUnknownTenant, status: 404, code: "unknown_tenant", outcome: OutcomeRefused},
		{name: "malformed_tenant", tenant: strings.Repeat("x", maxTenantIDLen+1), wantErr: ErrUnknownTenant, status: 404, code: "unknown_tenant", outcome: OutcomeRefused},
		{name: "gov_cloud", tenant: tenantGov, wantErr: ErrServiceUnavailable, status: 503, code: "service_unavailable", outcome: OutcomeRefused},
		{name: "service_consent_missing", tenant: tenantNoService, wantErr: ErrConsentRequired, missing: []App{AppService}, status: 403, code: "consent_required", outcome: OutcomeRefused},
		{name: "client_consent_missing", tenant: tenantNoClient, wantErr: ErrConsentRequired, missing: []App{AppClient}, status: 403, code: "consent_required", outcome: OutcomeRefused},
		{name: "both_consents_missing", tenant: tenantNone, wantErr: ErrConsentRequired, missing: []App{AppService, AppClient}, status: 403, code: "consent_required", outcome: OutcomeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/api", func(t *testing.T) {
			f := newFixture(t)
			pub, err := f.svc.PublicKey(context.Background(), tt.tenant)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("PublicKey: %v", err)
				}
				if !pub.Equal(&keyA.PublicKey) {
					t.Fatal("PublicKey returned another key")
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PublicKey error = %v, want %v", err, tt.wantErr)
			}
			if tt.missing != nil {
				ce, ok := errors.AsType[*ConsentRequiredError](err)
				if !ok || !slices.Equal(ce.Missing, tt.missing) {
					t.Fatalf("error = %#v, want ConsentRequiredError missing %v", err, tt.missing)
				}
			}
			checkAudit(t, f, tt.tenant, "", tt.outcome, OpPublicKey)
		})
		t.Run(tt.name+"/http", func(t *testing.T) {
			f := newFixture(t)
			w := httptest.NewRecorder()
			f.svc.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/pinreset/v1/tenants/"+tt.tenant+"/publickey", nil))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			body := w.Body.Bytes()
			if tt.code != "" {
				if got := decodeError(t, body).Error.Code; got != tt.code {
					t.Errorf("error code = %q, want %q", got, tt.code)
				}
			} else {
				body = checkPublicKeyResponse(t, body, tt.tenant, &keyA.PublicKey)
			}
			if tt.name != "malformed_tenant" {
				golden(t, "publickey_"+tt.name+".json", body)
			}
			checkAudit(t, f, tt.tenant, "", tt.outcome, OpPublicKey)
		})
	}
}

// checkPublicKeyResponse verifies the key fields of a publickey body and returns the body with
// them replaced by placeholders, for the golden file.
func checkPublicKeyResponse(t *testing.T, body []byte, tenant string, want *rsa.PublicKey) []byte {
	t.Helper()
	var resp PublicKeyResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	pub, err := x509.ParsePKIXPublicKey(resp.PublicKeyDER)
	if err != nil {
		t.Fatalf("parsing publicKeyDer: %v", err)
	}
	if !want.Equal(pub) {
		t.Fatal("publicKeyDer is not the tenant's key")
	}
	if id, _ := KeyID(want); resp.KeyID != id || len(id) != 64 {
		t.Errorf("keyId = %q, want %q", resp.KeyID, id)
	}
	if resp.TenantID != tenant || resp.LabelPrefix != LabelPrefix+tenant+":" || resp.Algorithm != "RSA-OAEP-256" {
		t.Errorf("response = %+v", resp)
	}
	out := bytes.Replace(body, []byte(resp.KeyID), []byte("<keyId>"), 1)
	b64, _ := json.Marshal(resp.PublicKeyDER)
	return bytes.Replace(out, b64, []byte(`"<spki>"`), 1)
}

func TestConsent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.PublicKey(ctx, tenantNone); !errors.Is(err, ErrConsentRequired) {
		t.Fatalf("before consent: %v, want ErrConsentRequired", err)
	}
	if err := f.svc.Consent(ctx, f.tenants, tenantNone, AppService, true); err != nil {
		t.Fatalf("Consent service: %v", err)
	}
	_, err := f.svc.PublicKey(ctx, tenantNone)
	if ce, ok := errors.AsType[*ConsentRequiredError](err); !ok || !slices.Equal(ce.Missing, []App{AppClient}) {
		t.Fatalf("after service consent: %v, want client consent missing", err)
	}
	if err := f.svc.Consent(ctx, f.tenants, tenantNone, AppClient, true); err != nil {
		t.Fatalf("Consent client: %v", err)
	}
	if _, err := f.svc.PublicKey(ctx, tenantNone); err != nil {
		t.Fatalf("after both consents: %v", err)
	}
	sps, err := f.svc.ServicePrincipals(ctx, tenantNone)
	if err != nil {
		t.Fatalf("ServicePrincipals: %v", err)
	}
	want := []ServicePrincipal{
		{App: AppService, AppID: "b8456c59-1230-44c7-a4a2-99b085333e84", DisplayName: "Microsoft Pin Reset Service Production", Consented: true, ConsentedAt: f.now},
		{App: AppClient, AppID: "9115dd05-fad5-4f9c-acc7-305d08b1b04e", DisplayName: "Microsoft Pin Reset Client Production", Consented: true, ConsentedAt: f.now},
	}
	if !slices.Equal(sps, want) {
		t.Fatalf("ServicePrincipals = %+v, want %+v", sps, want)
	}

	if err := f.svc.Consent(ctx, f.tenants, tenantNone, AppClient, false); err != nil {
		t.Fatalf("withdrawing consent: %v", err)
	}
	sps, _ = f.svc.ServicePrincipals(ctx, tenantNone)
	if sps[1].Consented || !sps[1].ConsentedAt.IsZero() {
		t.Errorf("after withdrawal: %+v", sps[1])
	}

	var ops, oks int
	for _, r := range f.audit.records() {
		if r.Operation == OpConsent {
			ops++
			if r.Outcome == OutcomeOK {
				oks++
			}
		}
	}
	if ops != 3 || oks != 3 {
		t.Errorf("consent audit records = %d (%d ok), want 3 ok", ops, oks)
	}
}

func TestConsentRefusals(t *testing.T) {
	tests := []struct {
		name    string
		tenant  string
		app     App
		wantErr error
	}{
		{"unknown_app", tenantA, App("Graph"), ErrUnknownApp},
		{"unknown_tenant", tenantUnknown, AppService, ErrUnknownTenant},
		{"empty_tenant", "", AppClient, ErrUnknownTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if err := f.svc.Consent(context.Background(), f.tenants, tt.tenant, tt.app, true); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Consent error = %v, want %v", err, tt.wantErr)
			}
			checkAudit(t, f, tt.tenant, "", OutcomeRefused, OpConsent)
		})
	}
}

func TestServicePrincipalsUnknownTenant(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.ServicePrincipals(context.Background(), tenantUnknown); !errors.Is(err, ErrUnknownTenant) {
		t.Fatalf("ServicePrincipals error = %v, want ErrUnknownTenant", err)
	}
}

func TestNewConfig(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		bits    int
		nilDeps bool
		wantErr bool
	}{
		{name: "default", bits: 0},
		{name: "4096", bits: 4096},
		{name: "2048_too_small", bits: 2048, wantErr: true},
		{name: "too_large", bits: 1 << 16, wantErr: true},
		{name: "nil_dependency", nilDeps: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tokens TokenVerifier = fakeTokens{}
			if tt.nilDeps {
				tokens = nil
			}
			svc, err := New(Config{KeyBits: tt.bits}, f.tenants, f.keys, tokens, fakeDevices{}, f.audit)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && svc.bits < MinKeyBits {
				t.Errorf("key bits = %d", svc.bits)
			}
		})
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	status, code, msg := errorStatus(errors.New("disk on fire"))
	if status != 500 || code != "internal_error" || strings.Contains(msg, "disk") {
		t.Errorf("errorStatus = %d %q %q", status, code, msg)
	}
}

// TestReleaseNotUnrecorded: a protector whose release cannot be recorded (the store is
// down) is not released: Decrypt fails with ErrTemporarilyUnavailable (HTTP 503 with
// Retry-After) and returns no protector; when the record is stored it is released.
func TestReleaseNotUnrecorded(t *testing.T) {
	keyA, _ := testKeys(t)
	f := newFixture(t)
	req := DecryptRequest{TenantID: tenantA, DeviceID: "dev-a", Token: "tok-good", Ciphertext: encrypt(t, keyA, Label(tenantA, alice), protector())}
	f.audit.err = fmt.Errorf("appending: %w", ErrTemporarilyUnavailable)
	got, err := f.svc.Decrypt(context.Background(), req)
	if !errors.Is(err, ErrTemporarilyUnavailable) || got != nil {
		t.Fatalf("Decrypt with the audit log down = %x, %v; want no protector and ErrTemporarilyUnavailable", got, err)
	}
	if status, code, _ := errorStatus(err); status != http.StatusServiceUnavailable || code != "temporarily_unavailable" {
		t.Fatalf("HTTP answer %d %s, want 503 temporarily_unavailable", status, code)
	}
	f.audit.err = nil
	got, err = f.svc.Decrypt(context.Background(), req)
	if err != nil || !bytes.Equal(got, protector()) {
		t.Fatalf("Decrypt with the audit log up = %x, %v", got, err)
	}
	if rec := f.audit.one(t); rec.Outcome != OutcomeOK || rec.Reason != "protector released" {
		t.Fatalf("audit = %+v", rec)
	}
}

// fakeRedeemer records redeemed token IDs; err, when set, is what a redemption fails with.
type fakeRedeemer struct {
	mu   sync.Mutex
	used map[string]string
	err  error
}

func (r *fakeRedeemer) RedeemPinResetToken(_ context.Context, c Claims, deviceID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if first, ok := r.used[c.ID]; ok {
		return fmt.Errorf("used by %s: %w", first, ErrTokenReplayed)
	}
	r.used[c.ID] = deviceID
	return nil
}

// TestTokenSingleUse: with a Redeemer a token releases the protector once; a replay is
// refused (401 token_replayed) without the protector; a refused request does not use the
// token up; a redemption that cannot be stored releases nothing.
func TestTokenSingleUse(t *testing.T) {
	keyA, _ := testKeys(t)
	f := newFixture(t)
	red := &fakeRedeemer{used: map[string]string{}}
	f.svc.redeemer = red
	f.svc.tokens.(fakeTokens)["tok-jti"] = Claims{TenantID: tenantA, UserID: "u-alice", UPN: alice, MFA: true, Expiry: f.now.Add(time.Hour), ID: "jti-1"}
	good := DecryptRequest{TenantID: tenantA, DeviceID: "dev-a", Token: "tok-jti", Ciphertext: encrypt(t, keyA, Label(tenantA, alice), protector())}
	bad := good
	bad.Ciphertext = encrypt(t, keyA, Label(tenantA, "mallory@a.example"), protector())
	if _, err := f.svc.Decrypt(context.Background(), bad); !errors.Is(err, ErrBadCiphertext) {
		t.Fatalf("bad ciphertext: %v", err)
	}
	red.err = errors.New("store down")
	if got, err := f.svc.Decrypt(context.Background(), good); err == nil || got != nil || refused(err) {
		t.Fatalf("Decrypt with the redemption failing = %x, %v; want no protector and an internal error", got, err)
	}
	red.err = nil
	if got, err := f.svc.Decrypt(context.Background(), good); err != nil || !bytes.Equal(got, protector()) {
		t.Fatalf("first release = %x, %v", got, err)
	}
	got, err := f.svc.Decrypt(context.Background(), good)
	if !errors.Is(err, ErrTokenReplayed) || got != nil {
		t.Fatalf("replay = %x, %v; want ErrTokenReplayed", got, err)
	}
	if status, code, _ := errorStatus(err); status != http.StatusUnauthorized || code != "token_replayed" {
		t.Fatalf("replay answered %d %s, want 401 token_replayed", status, code)
	}
	f.svc.tokens.(fakeTokens)["tok-nojti"] = Claims{TenantID: tenantA, UserID: "u-alice", UPN: alice, MFA: true, Expiry: f.now.Add(time.Hour)}
	nojti := good
	nojti.Token = "tok-nojti"
	if got, err := f.svc.Decrypt(context.Background(), nojti); !errors.Is(err, ErrTokenInvalid) || got != nil {
		t.Fatalf("token without jti = %x, %v; want ErrTokenInvalid", got, err)
	}
}
