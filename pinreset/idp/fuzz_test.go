package idp

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseToken feeds arbitrary input to the compact-JWS parser. It must never panic, and
// whatever it accepts must satisfy the parser's own promises.
func FuzzParseToken(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := parseToken(raw)
		if err != nil {
			if !errors.Is(err, ErrTokenMalformed) {
				t.Fatalf("parse error %v does not wrap ErrTokenMalformed", err)
			}
			return
		}
		if len(tok.sig) != 64 || tok.kid == "" {
			t.Fatalf("accepted token with sig %d bytes, kid %q", len(tok.sig), tok.kid)
		}
		if !strings.HasPrefix(raw, tok.signingInput+".") || strings.Count(tok.signingInput, ".") != 1 {
			t.Fatalf("signing input %q is not the first two parts of %q", tok.signingInput, raw)
		}
		c := tok.claims
		if c.Issuer == "" || c.Audience == "" || c.TenantID == "" || c.Subject == "" || c.ID == "" {
			t.Fatalf("accepted token missing required claims: %+v", c)
		}
	})
}

// FuzzVerifyToken runs full verification against the fixed test keys. Nothing may panic,
// and a token that verifies must carry exactly what was expected.
func FuzzVerifyToken(f *testing.F) {
	w := newWorld(f)
	valid := signRaw(f, w.keys.keys[tenantA], map[string]any{"alg": "ES256", "kid": "kid-a-1"}, claimsJSON())
	f.Add(valid)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, want := range []Expect{
			{Audience: AudienceEnrollment},
			{Audience: AudienceEnrollment, TenantID: tenantA, RequireMFA: true},
			{Audience: AudiencePINReset, TenantID: tenantB},
		} {
			c, err := w.issuer.Verify(context.Background(), raw, want)
			if err != nil {
				continue
			}
			if c.Audience != want.Audience || c.Issuer != issuerURL {
				t.Fatalf("verified token with aud %q iss %q, want %+v", c.Audience, c.Issuer, want)
			}
			if want.TenantID != "" && c.TenantID != want.TenantID {
				t.Fatalf("verified token of tenant %q, want %q", c.TenantID, want.TenantID)
			}
			if want.RequireMFA && !c.HasMFA() {
				t.Fatalf("verified token without mfa")
			}
			if c.NotBefore.After(t0.Add(DefaultClockSkew)) || !c.ExpiresAt.After(t0.Add(-DefaultClockSkew)) {
				t.Fatalf("verified token outside its validity: %+v", c)
			}
		}
	})
}

// FuzzFormNonce checks the sign-in form nonce parser: no panic, and only a nonce minted
// with the key for the same appru is accepted.
func FuzzFormNonce(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	good, err := newFormNonce(key, seededRand(7), t0.Add(time.Minute), appru)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, appru)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, nonce, forAppru string) {
		if err := checkFormNonce(key, nonce, t0, forAppru); err == nil {
			if nonce != good || forAppru != appru {
				t.Fatalf("accepted nonce %q for %q", nonce, forAppru)
			}
		}
	})
}

// FuzzValidateAppru: whatever validateAppru accepts is an ms-app, http or https URL
// without spaces or control characters.
func FuzzValidateAppru(f *testing.F) {
	f.Add(appru)
	f.Add("javascript:alert(1)")
	f.Fuzz(func(t *testing.T, raw string) {
		if validateAppru(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted unparsable %q", raw)
		}
		switch strings.ToLower(u.Scheme) {
		case "ms-app", "http", "https":
		default:
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] < 0x21 || raw[i] == 0x7f {
				t.Fatalf("accepted space or control character in %q", raw)
			}
		}
	})
}
