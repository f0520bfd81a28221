package pinreset

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/webauth"
)

const resetTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

func serviceKey(t testing.TB) *rsa.PrivateKey {
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

func publicKeyJSON(t testing.TB, pub any, tenant, labelPrefix, keyID string) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if keyID == "" {
		sum := sha256.Sum256(der)
		keyID = hex.EncodeToString(sum[:])
	}
	raw, _ := json.Marshal(map[string]any{"tenantId": tenant, "keyId": keyID, "publicKeyDer": der, "labelPrefix": labelPrefix, "algorithm": "RSA-OAEP-256"})
	return raw
}

func TestParsePublicKey(t *testing.T) {
	k := serviceKey(t)
	label := hello.ProtectorLabelPrefix(resetTenant)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"valid", publicKeyJSON(t, &k.PublicKey, resetTenant, label, ""), true},
		{"other tenant", publicKeyJSON(t, &k.PublicKey, "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d", label, ""), false},
		{"other tenant's label prefix", publicKeyJSON(t, &k.PublicKey, resetTenant, hello.ProtectorLabelPrefix("other"), ""), false},
		{"tenant-only v1 label", publicKeyJSON(t, &k.PublicKey, resetTenant, "hellomdm-pin-reset:"+resetTenant, ""), false},
		{"full user label", publicKeyJSON(t, &k.PublicKey, resetTenant, string(hello.ProtectorLabel(resetTenant, "alice@contoso.com")), ""), false},
		{"no label prefix", publicKeyJSON(t, &k.PublicKey, resetTenant, "", ""), false},
		{"wrong key id", publicKeyJSON(t, &k.PublicKey, resetTenant, label, strings.Repeat("00", 32)), false},
		{"short key", publicKeyJSON(t, &small.PublicKey, resetTenant, label, ""), false},
		{"not JSON", []byte("<html>"), false},
		{"empty key", []byte(`{"labelPrefix":"` + label + `"}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := parsePublicKey(tc.body, resetTenant)
			if tc.ok {
				if err != nil || !pub.Equal(&k.PublicKey) {
					t.Fatalf("parsePublicKey = %v, %v", pub, err)
				}
				return
			}
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
		})
	}
}

func TestParseSignInInfo(t *testing.T) {
	tests := []struct {
		name string
		body string
		want SignInInfo
		ok   bool
	}{
		{"managed", `{"tenantId":"t","federated":false,"signInHost":"mdm.contoso.com"}`, SignInInfo{"t", false, "mdm.contoso.com", false}, true},
		{"government", `{"tenantId":"t","federated":false,"signInHost":"mdm.contoso.com","govCloud":true}`, SignInInfo{"t", false, "mdm.contoso.com", true}, true},
		{"federated", `{"tenantId":"t","federated":true,"signInHost":"adfs.fabrikam.com"}`, SignInInfo{"t", true, "adfs.fabrikam.com", false}, true},
		{"URL instead of host", `{"federated":true,"signInHost":"https://evil.example/x"}`, SignInInfo{}, false},
		{"no host", `{"federated":true}`, SignInInfo{}, false},
		{"not JSON", `nope`, SignInInfo{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSignInInfo([]byte(tc.body))
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("parseSignInInfo = %+v, %v", got, err)
			}
		})
	}
}

func TestParseServiceError(t *testing.T) {
	tests := []struct {
		name, body, code, msg string
		status                int
	}{
		{"json", `{"error":{"code":"mfa_required","message":"multi-factor authentication required"}}`, "mfa_required", "multi-factor authentication required", 403},
		{"html", `<html>bad gateway</html>`, "http_502", "Bad Gateway", 502},
		{"control characters", `{"error":{"code":"x\ny","message":"a\u0000b"}}`, "x?y", "a?b", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := parseServiceError(servicePINReset, "decrypt", tc.status, []byte(tc.body))
			if e.Code != tc.code || e.Message != tc.msg || e.Status != tc.status {
				t.Fatalf("parseServiceError = %+v", e)
			}
			if !strings.Contains(e.Error(), tc.code) {
				t.Errorf("Error() = %q lacks the code", e.Error())
			}
		})
	}
}

func jws(claims map[string]any) string {
	raw, _ := json.Marshal(claims)
	return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(raw) + ".c2ln"
}

func TestReadToken(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name string
		raw  string
		want tokenFacts
		ok   bool
	}{
		{"mfa", jws(map[string]any{"tid": "t", "upn": "a@b", "amr": []string{"pwd", "mfa"}, "exp": exp.Unix()}), tokenFacts{"t", "a@b", true, exp}, true},
		{"password only", jws(map[string]any{"tid": "t", "upn": "a@b", "amr": []string{"pwd"}, "exp": exp.Unix()}), tokenFacts{"t", "a@b", false, exp}, true},
		{"two parts", "a.b", tokenFacts{}, false},
		{"bad base64", "a.!!!.c", tokenFacts{}, false},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("[")) + ".c", tokenFacts{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readToken(tc.raw)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("readToken = %+v, %v", got, err)
			}
		})
	}
}

func TestWebSignInErrorMessage(t *testing.T) {
	plain := &WebSignInError{Host: "adfs.fabrikam.com"}
	if got, want := plain.Error(), "We can't open that page right now (adfs.fabrikam.com is not in ConfigureWebSignInAllowedUrls)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if plain.Unwrap() != nil {
		t.Error("Unwrap of a plain web sign-in refusal is not nil")
	}
	row := &WebSignInError{Host: "adfs.fabrikam.com", Refusal: &hello.RefusalError{Row: hello.RowWebSignInAllowList, Reason: "r"}}
	var ref *hello.RefusalError
	if !errors.As(row, &ref) || ref.Row != hello.RowWebSignInAllowList || !strings.HasPrefix(row.Error(), "We can't open that page right now") {
		t.Errorf("matrix web sign-in refusal: %v", row)
	}
}

func TestResetPINRequestValidation(t *testing.T) {
	ok := Request{UPN: "a@b", EntryPoint: hello.Settings, Kind: hello.NonDestructive, Password: "pw", NewPIN: "1357"}
	tests := []struct {
		name string
		edit func(*Request)
		ok   bool
	}{
		{"valid", func(*Request) {}, true},
		{"token instead of password", func(r *Request) { r.Password, r.AccessToken = "", "t" }, true},
		{"no entry point", func(r *Request) { r.EntryPoint = hello.EntryUnknown }, false},
		{"no kind", func(r *Request) { r.Kind = hello.KindUnknown }, false},
		{"no new PIN", func(r *Request) { r.NewPIN = "" }, false},
		{"no credentials", func(r *Request) { r.Password = "" }, false},
		{"huge token", func(r *Request) { r.Password, r.AccessToken = "", strings.Repeat("a", webauth.MaxTokenLen+1) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := r.normalise()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrResetRequest)) {
				t.Fatalf("normalise = %v", err)
			}
		})
	}
}

func TestProtectorStatusString(t *testing.T) {
	tests := []struct {
		st   ProtectorStatus
		want string
	}{
		{ProtectorStatus{State: ProtectorNotUsed}, "not used"},
		{ProtectorStatus{State: ProtectorPresent, TenantID: "t", KeyFingerprint: "ab"}, "present (tenant t"},
		{ProtectorStatus{State: ProtectorPending}, "pending: sign in with the PIN"},
		{ProtectorStatus{State: ProtectorPending, Issue: "admin consent required"}, "pending: not created: admin consent required"},
		{ProtectorStatus{State: ProtectorNoContainer}, "no Hello container"},
		{ProtectorStatus{State: ProtectorOutdated, TenantID: "t", KeyFingerprint: "ab"}, "outdated (tenant t, service key ab, tenant-only label): sign in with the PIN"},
		{ProtectorStatus{State: ProtectorOutdated, TenantID: "t", KeyFingerprint: "ab", Issue: "admin consent required"}, "outdated (tenant t, service key ab, tenant-only label): sign in with the PIN (hellomdm device hello unlock) to replace it; last attempt: admin consent required"},
	}
	for _, tc := range tests {
		t.Run(tc.st.State+tc.st.Issue, func(t *testing.T) {
			if got := tc.st.String(); !strings.HasPrefix(got, tc.want) {
				t.Errorf("String() = %q, want prefix %q", got, tc.want)
			}
		})
	}
}
