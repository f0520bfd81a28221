package idp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token audiences this provider issues.
const (
	// AudienceEnrollment is the aud of tokens returned as wresult by the MS-MDE2 federated
	// web-auth step (MS-MDE2 3.1.4.1.3 / docs/protocol.md A.5) and later carried in the
	// DeviceEnrollmentUserToken BinarySecurityToken (A.4).
	AudienceEnrollment = "urn:hellomdm:enrollment"
	// AudiencePINReset is the aud of tokens presented to the PIN reset service (docs/protocol.md D.2).
	AudiencePINReset = "urn:hellomdm:pinreset"
	// AudienceConsole is the aud of a sign-in to the admin web console (server/console),
	// which checks the user's admin role itself; the token is not handed out.
	AudienceConsole = "urn:hellomdm:console"
)

// Authentication method references (RFC 8176 §2).
const (
	AMRPassword = "pwd"
	AMRMFA      = "mfa"
)

// Token defaults.
const (
	DefaultTokenLifetime = 10 * time.Minute
	DefaultClockSkew     = 30 * time.Second
	maxTokenLen          = 8 << 10 // far above any token we issue; bounds parsing work
)

// algES256 is ECDSA P-256 with SHA-256 (RFC 7518 §3.4); the only alg accepted.
const algES256 = "ES256"

var b64url = base64.RawURLEncoding.Strict()

// decodeB64URL decodes unpadded base64url (RFC 4648 §5) in its one canonical spelling.
// Strict refuses non-zero trailing bits; encoding/base64 still skips CR and LF anywhere in
// the input, so those are refused here: no second spelling of a token or a form nonce
// decodes to the same bytes.
func decodeB64URL(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64url")
	}
	return b64url.DecodeString(s)
}

// KeySource yields a tenant's current token signing key (P-256) and its key id. The server
// persists keys; rotating a key invalidates that tenant's outstanding tokens, which live
// only minutes.
type KeySource interface {
	TenantSigningKey(ctx context.Context, tenantID string) (*ecdsa.PrivateKey, string, error)
}

// Claims are the JWT claims (RFC 7519 §4.1) of hellomdm identity tokens.
type Claims struct {
	Issuer    string    // iss: the server's issuer URL
	Audience  string    // aud: AudienceEnrollment or AudiencePINReset
	TenantID  string    // tid: tenant GUID
	Subject   string    // sub: user id
	UPN       string    // upn
	AMR       []string  // amr: ["pwd"] or ["pwd","mfa"] (RFC 8176)
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf
	ExpiresAt time.Time // exp
	ID        string    // jti
}

// HasMFA reports whether amr contains "mfa".
func (c Claims) HasMFA() bool { return slices.Contains(c.AMR, AMRMFA) }

// wireClaims is the JSON form; times are NumericDate seconds (RFC 7519 §2).
type wireClaims struct {
	Iss string   `json:"iss"`
	Aud string   `json:"aud"`
	Tid string   `json:"tid"`
	Sub string   `json:"sub"`
	UPN string   `json:"upn,omitempty"`
	AMR []string `json:"amr"`
	Iat int64    `json:"iat"`
	Nbf int64    `json:"nbf"`
	Exp int64    `json:"exp"`
	Jti string   `json:"jti"`
}

type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ,omitempty"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

// Expect is what Verify requires of a token.
type Expect struct {
	Audience   string // required
	TenantID   string // when set, tid must equal it and that tenant's key must have signed
	RequireMFA bool   // amr must contain "mfa"
}

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	URL      string           // iss value, e.g. "https://mdm.contoso.com/idp"; required
	Lifetime time.Duration    // token lifetime; DefaultTokenLifetime when zero
	Skew     time.Duration    // allowed clock skew on nbf/exp; DefaultClockSkew when zero
	Now      func() time.Time // time.Now when nil
	Rand     io.Reader        // for jti; crypto/rand when nil
}

// Issuer issues and verifies compact-JWS (RFC 7515 §7.1) ES256 tokens signed with
// per-tenant keys. Signing and signature/claim verification are golang-jwt's (a widely
// reviewed implementation); algorithm pinning, kid selection and the tenant, amr and
// structural checks are ours and stay around it.
type Issuer struct {
	url      string
	lifetime time.Duration
	skew     time.Duration
	now      func() time.Time
	rand     io.Reader
	keys     KeySource
}

// NewIssuer returns an Issuer for cfg and keys.
func NewIssuer(cfg IssuerConfig, keys KeySource) (*Issuer, error) {
	if cfg.URL == "" {
		return nil, errors.New("creating token issuer: empty issuer URL")
	}
	if keys == nil {
		return nil, errors.New("creating token issuer: nil key source")
	}
	if cfg.Lifetime < 0 || cfg.Skew < 0 {
		return nil, errors.New("creating token issuer: negative lifetime or skew")
	}
	is := &Issuer{url: cfg.URL, lifetime: cfg.Lifetime, skew: cfg.Skew, now: cfg.Now, rand: cfg.Rand, keys: keys}
	if is.lifetime == 0 {
		is.lifetime = DefaultTokenLifetime
	}
	if is.skew == 0 {
		is.skew = DefaultClockSkew
	}
	if is.now == nil {
		is.now = time.Now
	}
	if is.rand == nil {
		is.rand = rand.Reader
	}
	return is, nil
}

// URL returns the iss value.
func (is *Issuer) URL() string { return is.url }

// Issue signs c with c.TenantID's key. Audience, TenantID and Subject are required; Issue
// sets Issuer, IssuedAt, NotBefore, ID and (when zero) ExpiresAt.
func (is *Issuer) Issue(ctx context.Context, c Claims) (string, error) {
	raw, _, err := is.issue(ctx, c)
	return raw, err
}

func (is *Issuer) issue(ctx context.Context, c Claims) (string, Claims, error) {
	return is.issueFor(ctx, c, 0)
}

// issueFor is issue with a lifetime other than the issuer's (when lifetime > 0 and
// c.ExpiresAt is zero), counted from the same instant as iat.
func (is *Issuer) issueFor(ctx context.Context, c Claims, lifetime time.Duration) (string, Claims, error) {
	if lifetime <= 0 {
		lifetime = is.lifetime
	}
	if c.Audience == "" || c.TenantID == "" || c.Subject == "" {
		return "", Claims{}, errors.New("issuing token: audience, tenant and subject are required")
	}
	key, kid, err := is.signingKey(ctx, c.TenantID)
	if err != nil {
		return "", Claims{}, fmt.Errorf("issuing token: %w", err)
	}
	var jti [16]byte
	if _, err := io.ReadFull(is.rand, jti[:]); err != nil {
		return "", Claims{}, fmt.Errorf("issuing token: reading jti: %w", err)
	}
	now := is.now().Truncate(time.Second)
	c.Issuer, c.IssuedAt, c.NotBefore, c.ID = is.url, now, now, hex.EncodeToString(jti[:])
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = now.Add(lifetime)
	}
	if c.AMR == nil {
		c.AMR = []string{}
	}
	// The compact JWS is built and signed by golang-jwt (RFC 7515 §7.1, RFC 7518 §3.4 R || S
	// encoding); the header and claim names are ours and unchanged.
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, wireClaims{
		Iss: c.Issuer, Aud: c.Audience, Tid: c.TenantID, Sub: c.Subject, UPN: c.UPN, AMR: c.AMR,
		Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix(), Exp: c.ExpiresAt.Unix(), Jti: c.ID,
	})
	tok.Header = map[string]any{"alg": algES256, "typ": "JWT", "kid": kid}
	raw, err := tok.SignedString(key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("issuing token: signing: %w", err)
	}
	return raw, c, nil
}

func (is *Issuer) signingKey(ctx context.Context, tenantID string) (*ecdsa.PrivateKey, string, error) {
	key, kid, err := is.keys.TenantSigningKey(ctx, tenantID)
	if err != nil {
		return nil, "", fmt.Errorf("loading signing key of tenant %q: %w", tenantID, err)
	}
	if key == nil || key.Curve != elliptic.P256() || kid == "" {
		return nil, "", fmt.Errorf("signing key of tenant %q is not a P-256 key with a kid", tenantID)
	}
	return key, kid, nil
}

// Verify checks raw and returns its claims. It requires, in order: a well-formed compact
// JWS (our strict parse first: bounded length, strict base64url, one JSON object per part,
// every claim we issue present) whose header alg is exactly ES256 (RFC 8725 §3.1: never
// none, HS256 or anything the verifier did not choose; pinned again in the library) with no
// crit; the kid and signature of the tenant's current key
// (want.TenantID's when set, else the token's tid); iss equal to this issuer; aud equal to
// want.Audience; tid equal to the tenant whose key signed; nbf and exp against the clock
// with the configured skew; and "mfa" in amr when want.RequireMFA. Failures wrap the typed
// Err* values; an error loading the key is returned wrapped as is.
func (is *Issuer) Verify(ctx context.Context, raw string, want Expect) (Claims, error) {
	if want.Audience == "" {
		return Claims{}, errors.New("verifying token: expected audience is required")
	}
	tok, err := parseToken(raw)
	if err != nil {
		return Claims{}, fmt.Errorf("verifying token: %w", err)
	}
	tenant := want.TenantID
	if tenant == "" {
		tenant = tok.claims.TenantID
	}
	key, kid, err := is.signingKey(ctx, tenant)
	if err != nil {
		return Claims{}, fmt.Errorf("verifying token: %w", err)
	}
	if err := is.verifySignature(raw, tok.kid, kid, &key.PublicKey, want.Audience); err != nil {
		return Claims{}, fmt.Errorf("verifying token: %w", err)
	}
	// iss, aud, nbf and exp were checked by the library against the same rules; tid and amr
	// are ours.
	c := tok.claims
	switch {
	case c.TenantID != tenant:
		return Claims{}, fmt.Errorf("verifying token: tid %q, want %q: %w", c.TenantID, tenant, ErrTokenTenant)
	case want.RequireMFA && !c.HasMFA():
		return Claims{}, fmt.Errorf("verifying token: amr %v: %w", c.AMR, ErrMFARequired)
	}
	return c, nil
}

// verifySignature checks raw with golang-jwt, pinned to ES256 (jwt.WithValidMethods: "none",
// HS256 keyed with the public key and every other alg are refused before any key is used,
// RFC 8725 §3.1), under key wantKid only (a token naming another kid is refused without
// trying it), then iss equal to this issuer, aud equal to audience, exp required and exp/nbf
// against the issuer's clock with its skew as leeway (RFC 7519 §4.1.4, §4.1.5: valid while
// now-skew < exp and now+skew >= nbf). Failures wrap the typed Err* values.
func (is *Issuer) verifySignature(raw, tokKid, wantKid string, pub *ecdsa.PublicKey, audience string) error {
	if tokKid != wantKid {
		return fmt.Errorf("kid %q is not the tenant's key: %w", tokKid, ErrTokenSignature)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{algES256}),
		jwt.WithIssuer(is.url),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(is.skew),
		jwt.WithTimeFunc(is.now),
	)
	var w wireClaims
	tok, err := p.ParseWithClaims(raw, &w, func(t *jwt.Token) (any, error) {
		if k, _ := t.Header["kid"].(string); k != wantKid {
			return nil, fmt.Errorf("kid %q is not the tenant's key: %w", k, ErrTokenSignature)
		}
		return pub, nil
	})
	if err == nil {
		return nil
	}
	if tok != nil && tok.Method != nil && tok.Method.Alg() != algES256 {
		return fmt.Errorf("%w: alg %q is not %s: %v", ErrTokenMalformed, tok.Method.Alg(), algES256, err)
	}
	// Claim failures first, in the order Verify documents (iss, aud, nbf, exp); a signature
	// failure never reaches claim validation.
	for _, m := range []struct{ lib, ours error }{
		{jwt.ErrTokenInvalidIssuer, ErrTokenIssuer},
		{jwt.ErrTokenInvalidAudience, ErrTokenAudience},
		{jwt.ErrTokenNotValidYet, ErrTokenNotYetValid},
		{jwt.ErrTokenExpired, ErrTokenExpired},
		{ErrTokenSignature, ErrTokenSignature},
		{jwt.ErrTokenSignatureInvalid, ErrTokenSignature},
	} {
		if errors.Is(err, m.lib) {
			if m.lib == m.ours {
				return err
			}
			return fmt.Errorf("%w: %v", m.ours, err)
		}
	}
	return fmt.Errorf("%w: %v", ErrTokenMalformed, err)
}

// jwt.Claims for the library's validator; the JSON form stays wireClaims'.

func (w wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(w.Exp), nil }
func (w wireClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return numericDate(w.Iat), nil }
func (w wireClaims) GetNotBefore() (*jwt.NumericDate, error)      { return numericDate(w.Nbf), nil }
func (w wireClaims) GetIssuer() (string, error)                   { return w.Iss, nil }
func (w wireClaims) GetSubject() (string, error)                  { return w.Sub, nil }
func (w wireClaims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings{w.Aud}, nil }

func numericDate(sec int64) *jwt.NumericDate {
	if sec == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(sec, 0))
}

// parsedToken is a syntactically valid token whose signature is not yet checked.
type parsedToken struct {
	kid          string
	signingInput string
	sig          []byte // 64 bytes
	claims       Claims
}

// parseToken decodes a compact JWS without verifying it. Every failure wraps
// ErrTokenMalformed.
func parseToken(raw string) (parsedToken, error) {
	var t parsedToken
	bad := func(format string, a ...any) (parsedToken, error) {
		return parsedToken{}, fmt.Errorf("%w: %s", ErrTokenMalformed, fmt.Sprintf(format, a...))
	}
	if len(raw) == 0 || len(raw) > maxTokenLen {
		return bad("length %d out of range", len(raw))
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return bad("want 3 dot-separated parts, got %d", len(parts))
	}
	hb, err := decodeB64URL(parts[0])
	if err != nil {
		return bad("header: not base64url")
	}
	var h jwsHeader
	if err := strictJSON(hb, &h); err != nil {
		return bad("header: %v", err)
	}
	if h.Alg != algES256 {
		return bad("alg %q is not %s", h.Alg, algES256)
	}
	if h.Crit != nil {
		return bad("crit header not supported")
	}
	if h.Kid == "" {
		return bad("no kid")
	}
	if h.Typ != "" && h.Typ != "JWT" {
		return bad("typ %q", h.Typ)
	}
	pb, err := decodeB64URL(parts[1])
	if err != nil {
		return bad("payload: not base64url")
	}
	var w wireClaims
	if err := strictJSON(pb, &w); err != nil {
		return bad("payload: %v", err)
	}
	if w.Iss == "" || w.Aud == "" || w.Tid == "" || w.Sub == "" || w.Jti == "" || w.Exp == 0 || w.Nbf == 0 || w.Iat == 0 {
		return bad("missing one of iss, aud, tid, sub, jti, iat, nbf, exp")
	}
	sig, err := decodeB64URL(parts[2])
	if err != nil {
		return bad("signature: not base64url")
	}
	if len(sig) != 64 {
		return bad("signature is %d bytes, want 64", len(sig))
	}
	t.kid = h.Kid
	t.signingInput = raw[:len(parts[0])+1+len(parts[1])]
	t.sig = sig
	t.claims = Claims{
		Issuer: w.Iss, Audience: w.Aud, TenantID: w.Tid, Subject: w.Sub, UPN: w.UPN, AMR: w.AMR,
		IssuedAt: time.Unix(w.Iat, 0), NotBefore: time.Unix(w.Nbf, 0), ExpiresAt: time.Unix(w.Exp, 0),
		ID: w.Jti,
	}
	return t, nil
}

// strictJSON decodes one JSON object into v, refusing trailing data. Unknown members are
// ignored (RFC 7519 §4: claims not understood must be ignored).
func strictJSON(b []byte, v any) error {
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after JSON object")
	}
	return nil
}
