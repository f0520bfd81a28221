package pinreset

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/internal/httpx"
	"github.com/hellomdm/hellomdm/device/webauth"
)

// The device side of hellomdm's identity provider and PIN reset service (docs/protocol.md D.2; the
// HTTP contracts are documented in pinreset/doc.go and pinreset/idp/doc.go, which the device
// does not import).
const (
	// audiencePINReset is the token audience the PIN reset service accepts.
	audiencePINReset = "urn:hellomdm:pinreset"
)

// Names of the two server-side services in errors.
const (
	serviceIDP      = "identity provider"
	servicePINReset = "PIN reset service"
)

// ServiceError is a refusal by the server's identity provider or PIN reset service: the
// HTTP status and the {"error":{"code","message"}} body. Codes include invalid_credentials,
// otp_required, otp_invalid, otp_replayed, federated, rate_limited (identity provider) and
// consent_required, invalid_token, token_expired, wrong_tenant, mfa_required,
// bad_ciphertext, device_not_enrolled (PIN reset service).
type ServiceError struct {
	Service string // "identity provider" or "PIN reset service"
	Op      string // what the device asked for
	Status  int
	Code    string
	Message string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s refused %s (HTTP %d %s): %s", e.Service, e.Op, e.Status, e.Code, e.Message)
}

// ErrBadResponse is wrapped when the server's answer is not what the contract promises.
var ErrBadResponse = webauth.ErrBadResponse

// client talks to the server for the PIN reset flows: plain TLS trusting the
// provisioned root for the identity provider and the public key, mutual TLS with the
// device certificate for the decrypt call.
type client struct {
	base  *url.URL
	plain *http.Client
	mtls  *http.Client
}

// newClient is the client of the enrolled device's server.
func (m *Manager) newClient() (*client, error) {
	cert, roots, err := m.dev.Credentials()
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(m.dev.Enrollment().ServerURL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("server URL %q of the enrollment is not an https URL", m.dev.Enrollment().ServerURL)
	}
	return &client{base: base, plain: httpx.Client(roots, nil, m.cfg.Timeout), mtls: httpx.Client(roots, &cert, m.cfg.Timeout)}, nil
}

// host is the server's own host name, which web sign-in may always open.
func (c *client) host() string { return c.base.Hostname() }

// call sends one request and returns the body of a 200 answer or a *ServiceError.
func (c *client) call(ctx context.Context, hc *http.Client, service, op string, req *http.Request) ([]byte, error) {
	resp, err := httpx.Do(ctx, hc, req)
	if err != nil {
		return nil, fmt.Errorf("reaching the %s for %s: %w", service, op, err)
	}
	if resp.Status != http.StatusOK {
		return nil, parseServiceError(service, op, resp.Status, resp.Body)
	}
	return resp.Body, nil
}

func (c *client) newJSON(method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base.JoinPath(path).String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// publicKey fetches the tenant's PIN reset service key (GET
// /pinreset/v1/tenants/{tid}/publickey) and checks it: the tenant, the RSA-OAEP label
// prefix hello.ProtectorLabelPrefix(tid) (the agent appends the user itself, see
// hello.ProtectorLabel), the key ID and the key size.
func (c *client) publicKey(ctx context.Context, tenantID string) (*rsa.PublicKey, error) {
	if tenantID == "" {
		return nil, errors.New("fetching the PIN reset service key: the device's tenant is unknown")
	}
	req, err := c.newJSON(http.MethodGet, "/pinreset/v1/tenants/"+url.PathEscape(tenantID)+"/publickey", nil)
	if err != nil {
		return nil, fmt.Errorf("fetching the PIN reset service key: %w", err)
	}
	body, err := c.call(ctx, c.plain, servicePINReset, "the public key", req)
	if err != nil {
		return nil, err
	}
	return parsePublicKey(body, tenantID)
}

// publicKeyBody is the answer of GET publickey.
type publicKeyBody struct {
	TenantID     string `json:"tenantId"`
	KeyID        string `json:"keyId"`
	PublicKeyDER []byte `json:"publicKeyDer"`
	LabelPrefix  string `json:"labelPrefix"`
}

// parsePublicKey decodes and checks a publickey answer for tenantID.
func parsePublicKey(body []byte, tenantID string) (*rsa.PublicKey, error) {
	var b publicKeyBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("decoding the PIN reset service key: %w: %v", ErrBadResponse, err)
	}
	bad := func(what string) error {
		return fmt.Errorf("checking the PIN reset service key: %w: %s", ErrBadResponse, what)
	}
	if b.TenantID != "" && b.TenantID != tenantID {
		return nil, bad(fmt.Sprintf("key of tenant %q, want %q", b.TenantID, tenantID))
	}
	// A service that announces another label scheme would not decrypt what the agent makes.
	if want := hello.ProtectorLabelPrefix(tenantID); b.LabelPrefix != want {
		return nil, bad(fmt.Sprintf("label prefix %q is not %q", b.LabelPrefix, want))
	}
	sum := sha256.Sum256(b.PublicKeyDER)
	if !strings.EqualFold(b.KeyID, hex.EncodeToString(sum[:])) {
		return nil, bad("keyId is not the SHA-256 of the key")
	}
	k, err := x509.ParsePKIXPublicKey(b.PublicKeyDER)
	if err != nil {
		return nil, bad("publicKeyDer: " + err.Error())
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, bad("not an RSA key")
	}
	if pub.N.BitLen() < hello.MinServiceKeyBits {
		return nil, bad(fmt.Sprintf("%d-bit key, want at least %d", pub.N.BitLen(), hello.MinServiceKeyBits))
	}
	return pub, nil
}

// SignInInfo is what the identity provider says about signing a UPN in (GET
// /idp/signin-info): the tenant, whether it is federated, and the host the web sign-in must
// open.
type SignInInfo struct {
	TenantID   string `json:"tenantId"`
	Federated  bool   `json:"federated"`
	SignInHost string `json:"signInHost"`
	// GovCloud: the tenant is in Azure Government (hello.GovSignInHost, no PIN reset
	// service).
	GovCloud bool `json:"govCloud"`
}

func (c *client) signInInfo(ctx context.Context, upn string) (SignInInfo, error) {
	req, err := c.newJSON(http.MethodGet, "/idp/signin-info", nil)
	if err != nil {
		return SignInInfo{}, fmt.Errorf("asking how to sign in: %w", err)
	}
	req.URL.RawQuery = url.Values{"upn": {upn}}.Encode()
	body, err := c.call(ctx, c.plain, serviceIDP, "sign-in info", req)
	if err != nil {
		return SignInInfo{}, err
	}
	return parseSignInInfo(body)
}

// parseSignInInfo decodes a signin-info answer; the sign-in host must be a bare host name.
func parseSignInInfo(body []byte) (SignInInfo, error) {
	var info SignInInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return SignInInfo{}, fmt.Errorf("decoding sign-in info: %w: %v", ErrBadResponse, err)
	}
	h := info.SignInHost
	if h == "" || len(h) > 253 || strings.ContainsAny(h, "/\\?#@ :\t\r\n") {
		return SignInInfo{}, fmt.Errorf("decoding sign-in info: %w: sign-in host %q is not a host name", ErrBadResponse, h)
	}
	return info, nil
}

// token signs upn in for the PIN reset audience (POST /idp/token). viaHost, when set, is the
// federated identity provider host the web sign-in reached.
func (c *client) token(ctx context.Context, upn, password, otp, viaHost string) (string, error) {
	req, err := c.newJSON(http.MethodPost, "/idp/token", map[string]string{
		"upn": upn, "password": password, "otp": otp, "audience": audiencePINReset,
	})
	if err != nil {
		return "", fmt.Errorf("signing in: %w", err)
	}
	if viaHost != "" {
		req.Header.Set(webauth.FederationHostHeader, viaHost)
	}
	body, err := c.call(ctx, c.plain, serviceIDP, "the sign-in of "+upn, req)
	if err != nil {
		return "", err
	}
	return webauth.ParseTokenBody(body)
}

// decrypt sends the escrowed protector and the token to the PIN reset service over mutual
// TLS and returns the plaintext protector.
func (c *client) decrypt(ctx context.Context, tenantID, token string, ciphertext []byte) ([]byte, error) {
	req, err := c.newJSON(http.MethodPost, "/pinreset/v1/tenants/"+url.PathEscape(tenantID)+"/decrypt",
		map[string][]byte{"ciphertext": ciphertext})
	if err != nil {
		return nil, fmt.Errorf("asking for the protector: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	body, err := c.call(ctx, c.mtls, servicePINReset, "to release the protector", req)
	if err != nil {
		return nil, err
	}
	defer clear(body)
	return parseProtector(body)
}

func parseProtector(body []byte) ([]byte, error) {
	var b struct {
		Protector []byte `json:"protector"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("decoding the protector: %w: %v", ErrBadResponse, err)
	}
	if len(b.Protector) != hello.ProtectorSize {
		clear(b.Protector)
		return nil, fmt.Errorf("decoding the protector: %w: %d bytes, want %d", ErrBadResponse, len(b.Protector), hello.ProtectorSize)
	}
	return b.Protector, nil
}

// parseServiceError turns a refusal into a *ServiceError; a body that is not the JSON error
// shape keeps the HTTP status text.
func parseServiceError(service, op string, status int, body []byte) *ServiceError {
	e := &ServiceError{Service: service, Op: op, Status: status, Code: "http_" + fmt.Sprint(status), Message: http.StatusText(status)}
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error.Code != "" {
		e.Code = printable(b.Error.Code, 64)
		e.Message = printable(b.Error.Message, 512)
	}
	return e
}

// printable keeps at most n bytes of s with control characters replaced, for error text
// that came from the network.
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// tokenFacts are the claims the device reads from a PIN reset token without verifying its
// signature (it came from the server over TLS, or from the user); the PIN reset service
// verifies tokens for real.
type tokenFacts struct {
	TenantID string
	UPN      string
	MFA      bool
	Expiry   time.Time
}

// readToken decodes the claims of a compact JWS (RFC 7515 section 7.1).
func readToken(raw string) (tokenFacts, error) {
	parts := strings.Split(raw, ".")
	if len(raw) > webauth.MaxTokenLen || len(parts) != 3 {
		return tokenFacts{}, errors.New("reading the sign-in token: not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenFacts{}, fmt.Errorf("reading the sign-in token: %w", err)
	}
	var c struct {
		Tid string   `json:"tid"`
		UPN string   `json:"upn"`
		AMR []string `json:"amr"`
		Exp int64    `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return tokenFacts{}, fmt.Errorf("reading the sign-in token: %w", err)
	}
	f := tokenFacts{TenantID: c.Tid, UPN: c.UPN}
	for _, m := range c.AMR {
		if m == "mfa" { // RFC 8176
			f.MFA = true
		}
	}
	if c.Exp > 0 && c.Exp < 1<<40 {
		f.Expiry = time.Unix(c.Exp, 0)
	}
	return f, nil
}
