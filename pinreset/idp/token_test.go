package idp

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueProducesCompactES256(t *testing.T) {
	w := newWorld(t)
	raw, err := w.issuer.Issue(context.Background(), Claims{
		Audience: AudiencePINReset, TenantID: tenantA, Subject: "u-bob", UPN: "bob@contoso.com", AMR: []string{"pwd", "mfa"},
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	hb, _ := b64url.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "ES256" || h["kid"] != "kid-a-1" || h["typ"] != "JWT" {
		t.Errorf("header %v", h)
	}
	pb, _ := b64url.DecodeString(parts[1])
	var p map[string]any
	if err := json.Unmarshal(pb, &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "aud", "tid", "sub", "upn", "amr", "iat", "nbf", "exp", "jti"} {
		if _, ok := p[k]; !ok {
			t.Errorf("claim %s missing from %v", k, p)
		}
	}
	if p["exp"].(float64)-p["iat"].(float64) != 600 {
		t.Errorf("lifetime %v s, want 600", p["exp"].(float64)-p["iat"].(float64))
	}
	if sig, _ := b64url.DecodeString(parts[2]); len(sig) != 64 {
		t.Errorf("signature %d bytes, want raw r||s 64", len(sig))
	}
	c, err := w.issuer.Verify(context.Background(), raw, Expect{Audience: AudiencePINReset, TenantID: tenantA, RequireMFA: true})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Subject != "u-bob" || c.UPN != "bob@contoso.com" || !c.HasMFA() || c.Issuer != issuerURL || c.ID == "" {
		t.Errorf("claims %+v", c)
	}
}

func TestIssueErrors(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		c    Claims
	}{
		{"no audience", Claims{TenantID: tenantA, Subject: "u"}},
		{"no tenant", Claims{Audience: AudienceEnrollment, Subject: "u"}},
		{"no subject", Claims{Audience: AudienceEnrollment, TenantID: tenantA}},
		{"unknown tenant key", Claims{Audience: AudienceEnrollment, TenantID: "nope", Subject: "u"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.issuer.Issue(context.Background(), tc.c); err == nil {
				t.Fatal("Issue succeeded")
			}
		})
	}
}

func TestVerify(t *testing.T) {
	w := newWorld(t)
	keyA, keyB := w.keys.keys[tenantA], w.keys.keys[tenantB]
	hdrA := map[string]any{"alg": "ES256", "typ": "JWT", "kid": "kid-a-1"}
	with := func(edit func(m map[string]any)) map[string]any {
		m := claimsJSON()
		edit(m)
		return m
	}
	valid := signRaw(t, keyA, hdrA, claimsJSON())
	parts := strings.Split(valid, ".")
	hs256 := func() string {
		hb, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "kid-a-1"})
		input := b64url.EncodeToString(hb) + "." + parts[1]
		m := hmac.New(sha256.New, []byte("kid-a-1"))
		m.Write([]byte(input))
		return input + "." + b64url.EncodeToString(m.Sum(nil))
	}()
	none := func() string {
		hb, _ := json.Marshal(map[string]any{"alg": "none", "kid": "kid-a-1"})
		return b64url.EncodeToString(hb) + "." + parts[1] + "."
	}()
	tamperedPayload := func() string {
		pb, _ := json.Marshal(with(func(m map[string]any) { m["sub"] = "u-admin" }))
		return parts[0] + "." + b64url.EncodeToString(pb) + "." + parts[2]
	}()
	enrollA := Expect{Audience: AudienceEnrollment, TenantID: tenantA}
	tests := []struct {
		name    string
		raw     string
		want    Expect
		advance time.Duration
		wantErr error // nil: must verify
	}{
		{"valid", valid, enrollA, 0, nil},
		{"valid any tenant", valid, Expect{Audience: AudienceEnrollment}, 0, nil},
		{"valid near expiry within skew", valid, enrollA, 10*time.Minute + 20*time.Second, nil},
		{"expired", valid, enrollA, 11 * time.Minute, ErrTokenExpired},
		{"nbf in future", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["nbf"] = t0.Add(5 * time.Minute).Unix() })), enrollA, 0, ErrTokenNotYetValid},
		{"nbf within skew", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["nbf"] = t0.Add(20 * time.Second).Unix() })), enrollA, 0, nil},
		{"wrong audience", valid, Expect{Audience: AudiencePINReset, TenantID: tenantA}, 0, ErrTokenAudience},
		{"wrong issuer", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["iss"] = "https://evil.example/idp" })), enrollA, 0, ErrTokenIssuer},
		{"other tenant's key", signRaw(t, keyB, hdrA, claimsJSON()), enrollA, 0, ErrTokenSignature},
		{"other tenant's key and kid", signRaw(t, keyB, map[string]any{"alg": "ES256", "kid": "kid-b-1"}, claimsJSON()), Expect{Audience: AudienceEnrollment}, 0, ErrTokenSignature},
		{"tid of other tenant signed by A", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["tid"] = tenantB })), enrollA, 0, ErrTokenTenant},
		{"expected tenant B, token of A", valid, Expect{Audience: AudienceEnrollment, TenantID: tenantB}, 0, ErrTokenSignature},
		{"unknown kid", signRaw(t, keyA, map[string]any{"alg": "ES256", "kid": "kid-a-0"}, claimsJSON()), enrollA, 0, ErrTokenSignature},
		{"alg none", none, enrollA, 0, ErrTokenMalformed},
		{"alg HS256", hs256, enrollA, 0, ErrTokenMalformed},
		{"alg ES384", signRaw(t, keyA, map[string]any{"alg": "ES384", "kid": "kid-a-1"}, claimsJSON()), enrollA, 0, ErrTokenMalformed},
		{"alg lower case", signRaw(t, keyA, map[string]any{"alg": "es256", "kid": "kid-a-1"}, claimsJSON()), enrollA, 0, ErrTokenMalformed},
		{"crit header", signRaw(t, keyA, map[string]any{"alg": "ES256", "kid": "kid-a-1", "crit": []string{"exp"}}, claimsJSON()), enrollA, 0, ErrTokenMalformed},
		{"no kid", signRaw(t, keyA, map[string]any{"alg": "ES256"}, claimsJSON()), enrollA, 0, ErrTokenMalformed},
		{"tampered payload", tamperedPayload, enrollA, 0, ErrTokenSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), enrollA, 0, ErrTokenSignature},
		{"no mfa when required", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["amr"] = []string{"pwd"} })), Expect{Audience: AudienceEnrollment, TenantID: tenantA, RequireMFA: true}, 0, ErrMFARequired},
		{"no amr when required", signRaw(t, keyA, hdrA, with(func(m map[string]any) { delete(m, "amr") })), Expect{Audience: AudienceEnrollment, RequireMFA: true}, 0, ErrMFARequired},
		{"missing exp", signRaw(t, keyA, hdrA, with(func(m map[string]any) { delete(m, "exp") })), enrollA, 0, ErrTokenMalformed},
		{"missing tid", signRaw(t, keyA, hdrA, with(func(m map[string]any) { delete(m, "tid") })), enrollA, 0, ErrTokenMalformed},
		{"aud as array", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["aud"] = []string{AudienceEnrollment} })), enrollA, 0, ErrTokenMalformed},
		{"exp as string", signRaw(t, keyA, hdrA, with(func(m map[string]any) { m["exp"] = "soon" })), enrollA, 0, ErrTokenMalformed},
		{"empty", "", enrollA, 0, ErrTokenMalformed},
		{"one part", "abc", enrollA, 0, ErrTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], enrollA, 0, ErrTokenMalformed},
		{"four parts", valid + ".x", enrollA, 0, ErrTokenMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], enrollA, 0, ErrTokenMalformed},
		{"std base64 alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", enrollA, 0, ErrTokenMalformed},
		{"CR in signature", parts[0] + "." + parts[1] + "." + parts[2][:5] + "\r" + parts[2][5:], enrollA, 0, ErrTokenMalformed},
		{"LF in header", parts[0][:5] + "\n" + parts[0][5:] + "." + parts[1] + "." + parts[2], enrollA, 0, ErrTokenMalformed},
		{"short signature", parts[0] + "." + parts[1] + "." + parts[2][:40], enrollA, 0, ErrTokenMalformed},
		{"header not object", b64url.EncodeToString([]byte(`["ES256"]`)) + "." + parts[1] + "." + parts[2], enrollA, 0, ErrTokenMalformed},
		{"header trailing data", b64url.EncodeToString([]byte(`{"alg":"ES256","kid":"kid-a-1"}}`)) + "." + parts[1] + "." + parts[2], enrollA, 0, ErrTokenMalformed},
		{"payload not JSON", parts[0] + "." + b64url.EncodeToString([]byte("hello")) + "." + parts[2], enrollA, 0, ErrTokenMalformed},
		{"too long", parts[0] + "." + strings.Repeat("A", maxTokenLen) + "." + parts[2], enrollA, 0, ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w.clock.mu.Lock()
			w.clock.t = t0.Add(tc.advance)
			w.clock.mu.Unlock()
			c, err := w.issuer.Verify(context.Background(), tc.raw, tc.want)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.TenantID != tenantA || c.Subject != "u-alice" {
					t.Fatalf("claims %+v", c)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyRequiresAudienceAndKnownTenant(t *testing.T) {
	w := newWorld(t)
	valid := signRaw(t, w.keys.keys[tenantA], map[string]any{"alg": "ES256", "kid": "kid-a-1"}, claimsJSON())
	if _, err := w.issuer.Verify(context.Background(), valid, Expect{}); err == nil {
		t.Error("Verify without expected audience succeeded")
	}
	unknown := signRaw(t, w.keys.keys[tenantA], map[string]any{"alg": "ES256", "kid": "kid-a-1"},
		func() map[string]any { m := claimsJSON(); m["tid"] = "unknown-tenant"; return m }())
	if _, err := w.issuer.Verify(context.Background(), unknown, Expect{Audience: AudienceEnrollment}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Verify with unknown tenant: %v, want the key source's ErrNotFound", err)
	}
}

func TestEnrollmentVerifier(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	enroll, err := w.issuer.Issue(ctx, Claims{Audience: AudienceEnrollment, TenantID: tenantA, Subject: "u-alice", UPN: "alice@contoso.com", AMR: []string{"pwd"}})
	if err != nil {
		t.Fatal(err)
	}
	reset, err := w.issuer.Issue(ctx, Claims{Audience: AudiencePINReset, TenantID: tenantA, Subject: "u-alice", AMR: []string{"pwd", "mfa"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		v       EnrollmentVerifier
		raw     string
		wantErr error
	}{
		{"raw token", EnrollmentVerifier{Issuer: w.issuer}, enroll, nil},
		{"base64 token as in BinarySecurityToken", EnrollmentVerifier{Issuer: w.issuer}, base64.StdEncoding.EncodeToString([]byte(enroll)), nil},
		{"pin reset audience refused", EnrollmentVerifier{Issuer: w.issuer}, reset, ErrTokenAudience},
		{"mfa required", EnrollmentVerifier{Issuer: w.issuer, RequireMFA: true}, enroll, ErrMFARequired},
		{"garbage", EnrollmentVerifier{Issuer: w.issuer}, "!!!", ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.VerifyEnrollmentToken(ctx, tc.raw)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyEnrollmentToken: %v", err)
			}
			if c.ID == "" || c.ExpiresAt.IsZero() {
				t.Fatalf("claims %+v: no jti or exp", c)
			}
			c.ID, c.ExpiresAt = "", time.Time{}
			if c != (TokenClaims{TenantID: tenantA, UserID: "u-alice", UPN: "alice@contoso.com"}) {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

// flipLast changes the last base64url character of s to another valid one.
func flipLast(s string) string {
	b := []byte(s)
	// 64 bytes are 86 characters; the last carries 2 signature bits and 4 zero bits, so
	// only A, Q, g, w are canonical there. Swapping among them changes the signature.
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'Q'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func BenchmarkIssue(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	c := Claims{Audience: AudiencePINReset, TenantID: tenantA, Subject: "u-bob", UPN: "bob@contoso.com", AMR: []string{"pwd", "mfa"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.issuer.Issue(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	raw, err := w.issuer.Issue(ctx, Claims{Audience: AudiencePINReset, TenantID: tenantA, Subject: "u-bob", AMR: []string{"pwd", "mfa"}})
	if err != nil {
		b.Fatal(err)
	}
	want := Expect{Audience: AudiencePINReset, TenantID: tenantA, RequireMFA: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.issuer.Verify(ctx, raw, want); err != nil {
			b.Fatal(err)
		}
	}
}

// hs256With signs header (alg HS256) and payload with HMAC-SHA-256 keyed by key: the
// algorithm-confusion attack, where the verifier's public key bytes become the HMAC key.
func hs256With(key []byte, kid string, payload any) string {
	hb, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
	pb, _ := json.Marshal(payload)
	input := b64url.EncodeToString(hb) + "." + b64url.EncodeToString(pb)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + b64url.EncodeToString(m.Sum(nil))
}

// publicKeyForms are the byte forms of keyA's public key an attacker could use as an
// HMAC key: SubjectPublicKeyInfo DER, its PEM, and the uncompressed point.
func publicKeyForms(t *testing.T, key *ecdsa.PrivateKey) map[string][]byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	point, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"der":   der,
		"pem":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"point": point,
	}
}

// TestVerifyRefusesAlgorithmConfusion: through Verify, a token with alg none, or HS256
// keyed with any byte form of the tenant's public key, is refused as malformed.
func TestVerifyRefusesAlgorithmConfusion(t *testing.T) {
	w := newWorld(t)
	enrollA := Expect{Audience: AudienceEnrollment, TenantID: tenantA}
	tokens := map[string]string{}
	for form, b := range publicKeyForms(t, w.keys.keys[tenantA]) {
		tokens["HS256 with public key "+form] = hs256With(b, "kid-a-1", claimsJSON())
	}
	hb, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": "kid-a-1"})
	pb, _ := json.Marshal(claimsJSON())
	tokens["alg none, empty signature"] = b64url.EncodeToString(hb) + "." + b64url.EncodeToString(pb) + "."
	tokens["alg none, 64-byte signature"] = b64url.EncodeToString(hb) + "." + b64url.EncodeToString(pb) + "." + b64url.EncodeToString(make([]byte, 64))
	for name, raw := range tokens {
		t.Run(name, func(t *testing.T) {
			if _, err := w.issuer.Verify(context.Background(), raw, enrollA); !errors.Is(err, ErrTokenMalformed) {
				t.Fatalf("Verify err = %v, want %v", err, ErrTokenMalformed)
			}
		})
	}
}

// TestVerifySignatureLibraryPinning checks the library layer on its own, below our
// structural parse: with our alg check bypassed, golang-jwt pinned to ES256 still refuses
// alg none and HS256 keyed with the public key, refuses a kid other than the tenant's, a
// tampered payload and an expired token, and accepts the genuine token.
func TestVerifySignatureLibraryPinning(t *testing.T) {
	w := newWorld(t)
	keyA := w.keys.keys[tenantA]
	hdrA := map[string]any{"alg": "ES256", "typ": "JWT", "kid": "kid-a-1"}
	valid := signRaw(t, keyA, hdrA, claimsJSON())
	parts := strings.Split(valid, ".")
	hb, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": "kid-a-1"})
	tampered := claimsJSON()
	tampered["sub"] = "u-admin"
	tb, _ := json.Marshal(tampered)
	tests := []struct {
		name    string
		raw     string
		tokKid  string
		advance time.Duration
		wantErr error
	}{
		{"genuine", valid, "kid-a-1", 0, nil},
		{"alg none", b64url.EncodeToString(hb) + "." + parts[1] + ".", "kid-a-1", 0, ErrTokenMalformed},
		{"alg HS256 with public key der", hs256With(publicKeyForms(t, keyA)["der"], "kid-a-1", claimsJSON()), "kid-a-1", 0, ErrTokenMalformed},
		{"alg HS256 with public key point", hs256With(publicKeyForms(t, keyA)["point"], "kid-a-1", claimsJSON()), "kid-a-1", 0, ErrTokenMalformed},
		{"wrong kid in header", signRaw(t, keyA, map[string]any{"alg": "ES256", "kid": "kid-a-0"}, claimsJSON()), "kid-a-1", 0, ErrTokenSignature},
		{"wrong kid", valid, "kid-a-0", 0, ErrTokenSignature},
		{"tampered payload", parts[0] + "." + b64url.EncodeToString(tb) + "." + parts[2], "kid-a-1", 0, ErrTokenSignature},
		{"expired", valid, "kid-a-1", 11 * time.Minute, ErrTokenExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w.clock.mu.Lock()
			w.clock.t = t0.Add(tc.advance)
			w.clock.mu.Unlock()
			err := w.issuer.verifySignature(tc.raw, tc.tokKid, "kid-a-1", &keyA.PublicKey, AudienceEnrollment)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("verifySignature: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("verifySignature err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}
