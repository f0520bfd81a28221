package pinreset

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Protocol constants.
const (
	// ProtectorSize is the size of the PIN reset protector: a 256-bit AES key (pin-reset.md).
	ProtectorSize = 32
	// MinKeyBits is the smallest tenant RSA key the service creates or accepts.
	MinKeyBits = 3072
	// maxKeyBits bounds Config.KeyBits; generation beyond it takes minutes.
	maxKeyBits = 8192
	// Algorithm names the encryption in PublicKeyResponse: RSA-OAEP with SHA-256 for both the
	// hash and MGF1 (the JOSE name, RFC 7518 section 4.3).
	Algorithm = "RSA-OAEP-256"
	// LabelPrefix starts every OAEP label; the tenant ID, a colon and the user's lower-cased
	// UPN follow (see Label). "v2" tells these labels apart from the tenant-only labels
	// ("hellomdm-pin-reset:" + tenant ID) of earlier releases, which no longer decrypt.
	LabelPrefix = "hellomdm-pin-reset:v2:"
	// maxTenantIDLen bounds tenant IDs taken from the URL before any store lookup.
	maxTenantIDLen = 128
	// maxTokenLen bounds bearer tokens before they reach the verifier.
	maxTokenLen = 16 << 10
)

// TenantLabelPrefix returns the part of the OAEP label shared by all users of tenantID:
// LabelPrefix, the tenant ID and a colon. PublicKeyResponse.LabelPrefix carries it.
func TenantLabelPrefix(tenantID string) string { return LabelPrefix + tenantID + ":" }

// Label returns the OAEP label binding a protector ciphertext to tenantID and to the user
// upn: TenantLabelPrefix(tenantID) followed by strings.ToLower(upn). The device builds the
// same label from its Hello container's user (hello.ProtectorLabel); the service from the
// UPN of the verified token, so a protector decrypts only for a token of its own user. UPNs
// compare case-insensitively, hence the lower case. A user whose UPN is renamed can no
// longer have an earlier protector decrypted and must reset the PIN destructively, as for
// any changed identity.
func Label(tenantID, upn string) []byte {
	return []byte(TenantLabelPrefix(tenantID) + strings.ToLower(upn))
}

// KeyID identifies a public key: lower-case hex SHA-256 of its SubjectPublicKeyInfo DER.
func KeyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Config tunes a Service. The zero value is usable.
type Config struct {
	// KeyBits is the size of new tenant keys; default and minimum MinKeyBits.
	KeyBits int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives operational logs; default discards.
	Logger *slog.Logger
	// Rand is the randomness for key generation; default crypto/rand.Reader. Go 1.26 ignores
	// it unless GODEBUG=cryptocustomrand=1.
	Rand io.Reader
	// DeviceID names the device behind an HTTP request from its verified client certificate;
	// an error wrapping ErrNoClientCert when there is none it accepts, or another error
	// (ErrTemporarilyUnavailable) when it cannot tell now. Default: the Subject CommonName
	// of r.TLS.VerifiedChains[0][0].
	DeviceID func(r *http.Request) (string, error)
	// Redeemer makes tokens single-use: a token releases a protector once, to the device
	// whose certificate presented it. The server always sets it (its store); without one a
	// token may release protectors for as long as it is valid.
	Redeemer Redeemer
}

// Service is the PIN reset service. It is safe for concurrent use.
type Service struct {
	bits     int
	now      func() time.Time
	log      *slog.Logger
	rand     io.Reader
	deviceID func(*http.Request) (string, error)
	redeemer Redeemer

	tenants Tenants
	keys    KeyStore
	tokens  TokenVerifier
	devices Devices
	audit   Auditor
}

// New returns a Service over its collaborators, all required.
func New(cfg Config, tenants Tenants, keys KeyStore, tokens TokenVerifier, devices Devices, audit Auditor) (*Service, error) {
	if tenants == nil || keys == nil || tokens == nil || devices == nil || audit == nil {
		return nil, errors.New("creating PIN reset service: nil dependency")
	}
	s := &Service{
		bits: cfg.KeyBits, now: cfg.Now, log: cfg.Logger, rand: cfg.Rand, deviceID: cfg.DeviceID, redeemer: cfg.Redeemer,
		tenants: tenants, keys: keys, tokens: tokens, devices: devices, audit: audit,
	}
	switch {
	case s.bits == 0:
		s.bits = MinKeyBits
	case s.bits < MinKeyBits || s.bits > maxKeyBits:
		return nil, fmt.Errorf("creating PIN reset service: key size %d outside [%d, %d]", s.bits, MinKeyBits, maxKeyBits)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "pinreset")
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.deviceID == nil {
		s.deviceID = certDeviceID
	}
	return s, nil
}

// certDeviceID is the default Config.DeviceID.
func certDeviceID(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return "", ErrNoClientCert
	}
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	if cn == "" {
		return "", ErrNoClientCert
	}
	return cn, nil
}

// PublicKey returns the tenant's public key, creating the tenant's key pair on first use.
// It refuses unknown tenants, government cloud tenants and tenants without both consents.
func (s *Service) PublicKey(ctx context.Context, tenantID string) (*rsa.PublicKey, error) {
	rec := AuditRecord{TenantID: tenantID, Operation: OpPublicKey}
	pub, err := s.publicKey(ctx, tenantID)
	if err == nil {
		rec.Reason = "public key served"
	}
	s.record(ctx, rec, err)
	return pub, err
}

func (s *Service) publicKey(ctx context.Context, tenantID string) (*rsa.PublicKey, error) {
	if _, err := s.eligibleTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	key, err := s.tenantKey(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &key.PublicKey, nil
}

// DecryptRequest is one protector release request.
type DecryptRequest struct {
	TenantID string
	// DeviceID comes from the device's verified client certificate, never from the body.
	DeviceID   string
	Token      string
	Ciphertext []byte
}

// Decrypt checks the request (see the package documentation for the order) and returns the
// 32-byte protector. The caller should clear it once sent.
func (s *Service) Decrypt(ctx context.Context, req DecryptRequest) ([]byte, error) {
	rec := AuditRecord{TenantID: req.TenantID, DeviceID: req.DeviceID, Operation: OpDecrypt}
	protector, err := s.decrypt(ctx, req, &rec)
	if err == nil {
		rec.Reason = "protector released"
	}
	if rerr := s.record(ctx, rec, err); rerr != nil && err == nil {
		// The release is recorded before the protector leaves, or it does not leave.
		clear(protector)
		if errors.Is(rerr, ErrTemporarilyUnavailable) {
			return nil, fmt.Errorf("recording the release: %w", rerr)
		}
		return nil, fmt.Errorf("recording the release: %v", rerr)
	}
	return protector, err
}

func (s *Service) decrypt(ctx context.Context, req DecryptRequest, rec *AuditRecord) ([]byte, error) {
	if _, err := s.eligibleTenant(ctx, req.TenantID); err != nil {
		return nil, err
	}
	claims, err := s.verifyToken(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	rec.UserID, rec.UPN = claims.UserID, claims.UPN
	if err := s.checkClaims(claims, req.TenantID); err != nil {
		return nil, err
	}
	if err := s.checkDevice(ctx, req); err != nil {
		return nil, err
	}
	plain, err := s.openProtector(ctx, req, claims.UPN)
	if err != nil {
		return nil, err
	}
	if err := s.redeem(ctx, claims, req.DeviceID); err != nil {
		clear(plain)
		return nil, err
	}
	return plain, nil
}

// verifyToken has the token verifier check the token and returns its claims.
func (s *Service) verifyToken(ctx context.Context, token string) (Claims, error) {
	if token == "" || len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("checking token: %w", ErrTokenInvalid)
	}
	claims, err := s.tokens.VerifyPinResetToken(ctx, token)
	switch {
	case errors.Is(err, ErrTemporarilyUnavailable):
		// The verifier could not load the keys to check the token: a failure, not a refusal.
		return Claims{}, fmt.Errorf("checking token: %w", err)
	case errors.Is(err, ErrTokenExpired):
		return Claims{}, fmt.Errorf("checking token: %w", err)
	case err != nil:
		// The verifier's error is kept as text only, so that nothing it wraps can turn a bad
		// token into another refusal.
		return Claims{}, fmt.Errorf("checking token: %w: %v", ErrTokenInvalid, err)
	}
	return claims, nil
}

// checkClaims refuses a verified token that has expired, was issued in another tenant than
// tenantID, or records no multi-factor sign-in.
func (s *Service) checkClaims(claims Claims, tenantID string) error {
	if claims.Expiry.IsZero() {
		return fmt.Errorf("checking token of %q: no expiry: %w", claims.UPN, ErrTokenInvalid)
	}
	if !s.now().Before(claims.Expiry) {
		return fmt.Errorf("checking token of %q: %w", claims.UPN, ErrTokenExpired)
	}
	if claims.TenantID != tenantID {
		return fmt.Errorf("checking token of %q (tenant %q): %w", claims.UPN, claims.TenantID, ErrWrongTenant)
	}
	if !claims.MFA {
		return fmt.Errorf("checking token of %q: %w", claims.UPN, ErrMFARequired)
	}
	return nil
}

// checkDevice refuses a request without a device certificate, or from a device that is
// retired, not enrolled, or enrolled in another tenant.
func (s *Service) checkDevice(ctx context.Context, req DecryptRequest) error {
	if req.DeviceID == "" {
		return fmt.Errorf("checking device: %w", ErrNoClientCert)
	}
	devTenant, enrolled, retired, err := s.devices.DeviceStanding(ctx, req.DeviceID)
	switch {
	case err != nil:
		return fmt.Errorf("looking up device %q: %w", req.DeviceID, err)
	case retired:
		return fmt.Errorf("checking device %q: %w", req.DeviceID, ErrDeviceRetired)
	case !enrolled:
		return fmt.Errorf("checking device %q: %w", req.DeviceID, ErrDeviceNotEnrolled)
	case devTenant != req.TenantID:
		return fmt.Errorf("checking device %q (tenant %q): %w", req.DeviceID, devTenant, ErrDeviceWrongTenant)
	}
	return nil
}

// openProtector decrypts the request's ciphertext with the tenant's key under the label of
// upn, the token's user, and returns the protector.
func (s *Service) openProtector(ctx context.Context, req DecryptRequest, upn string) ([]byte, error) {
	key, err := s.tenantKey(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	if len(req.Ciphertext) != key.Size() {
		return nil, fmt.Errorf("checking ciphertext: %d bytes for a %d-byte key: %w", len(req.Ciphertext), key.Size(), ErrBadCiphertext)
	}
	// Only the token user's label is tried: a protector of another user (or one made with
	// the old tenant-only label) fails like any other bad ciphertext.
	plain, err := rsa.DecryptOAEP(sha256.New(), s.rand, key, req.Ciphertext, Label(req.TenantID, upn))
	if err != nil {
		// crypto/rsa returns one opaque error for every OAEP failure, so nothing about the
		// padding or whose protector it is leaks; neither does this.
		return nil, fmt.Errorf("decrypting protector of %q: %w", upn, ErrBadCiphertext)
	}
	if len(plain) != ProtectorSize {
		n := len(plain)
		clear(plain)
		return nil, fmt.Errorf("decrypting protector: got %d bytes: %w", n, ErrBadProtector)
	}
	return plain, nil
}

// redeem uses the token up, when the service has a redeemer. The token is redeemed last,
// once everything else passed, and the protector is released only when that record is
// stored: a token releases one protector, once, to the device certificate (deviceID, named
// by its verified certificate) that presented it. A refused request does not use the token
// up.
func (s *Service) redeem(ctx context.Context, claims Claims, deviceID string) error {
	if s.redeemer == nil {
		return nil
	}
	if claims.ID == "" {
		return fmt.Errorf("checking token of %q: no token ID to make it single-use: %w", claims.UPN, ErrTokenInvalid)
	}
	if err := s.redeemer.RedeemPinResetToken(ctx, claims, deviceID); err != nil {
		if errors.Is(err, ErrTokenReplayed) {
			return fmt.Errorf("checking token of %q: %w", claims.UPN, err)
		}
		return fmt.Errorf("redeeming token of %q: %w", claims.UPN, err)
	}
	return nil
}

// eligibleTenant loads the tenant and refuses it if unknown, in a government cloud, or lacking
// a consent.
func (s *Service) eligibleTenant(ctx context.Context, tenantID string) (TenantInfo, error) {
	if !validTenantID(tenantID) {
		return TenantInfo{}, fmt.Errorf("looking up tenant: %w", ErrUnknownTenant)
	}
	t, err := s.tenants.PinResetTenant(ctx, tenantID)
	if err != nil {
		return TenantInfo{}, fmt.Errorf("looking up tenant %q: %w", tenantID, err)
	}
	if t.GovCloud {
		return TenantInfo{}, fmt.Errorf("tenant %q is in a government cloud: %w", tenantID, ErrServiceUnavailable)
	}
	var missing []App
	if !t.ServiceConsented {
		missing = append(missing, AppService)
	}
	if !t.ClientConsented {
		missing = append(missing, AppClient)
	}
	if missing != nil {
		return TenantInfo{}, &ConsentRequiredError{TenantID: tenantID, Missing: missing}
	}
	return t, nil
}

// validTenantID accepts non-empty printable ASCII IDs of bounded length.
func validTenantID(id string) bool {
	if id == "" || len(id) > maxTenantIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// tenantKey returns the tenant's private key, created on first use.
func (s *Service) tenantKey(ctx context.Context, tenantID string) (*rsa.PrivateKey, error) {
	key, err := s.keys.TenantRSAKey(ctx, tenantID, func() (*rsa.PrivateKey, error) {
		s.log.Info("creating tenant PIN reset key", "tenant", tenantID, "bits", s.bits)
		return rsa.GenerateKey(s.rand, s.bits)
	})
	if err != nil {
		return nil, fmt.Errorf("loading key of tenant %q: %w", tenantID, err)
	}
	if key == nil || key.N == nil || key.N.BitLen() < MinKeyBits {
		return nil, fmt.Errorf("loading key of tenant %q: %w", tenantID, ErrWeakKey)
	}
	return key, nil
}

// Consent records admin consent to (granted) or its withdrawal from one application, stored
// through to.
func (s *Service) Consent(ctx context.Context, to ConsentStore, tenantID string, app App, granted bool) error {
	rec := AuditRecord{TenantID: tenantID, Operation: OpConsent}
	err := s.consent(ctx, to, tenantID, app, granted)
	if err == nil {
		verb := "granted"
		if !granted {
			verb = "withdrawn"
		}
		rec.Reason = "consent to " + app.DisplayName() + " " + verb
	}
	s.record(ctx, rec, err)
	return err
}

func (s *Service) consent(ctx context.Context, to ConsentStore, tenantID string, app App, granted bool) error {
	if to == nil {
		return errors.New("recording consent: no consent store")
	}
	if !app.Valid() {
		return fmt.Errorf("recording consent to %q: %w", app, ErrUnknownApp)
	}
	if !validTenantID(tenantID) {
		return fmt.Errorf("recording consent: %w", ErrUnknownTenant)
	}
	if err := to.SetConsent(ctx, tenantID, app, granted, s.now()); err != nil {
		return fmt.Errorf("recording consent of tenant %q to %s: %w", tenantID, app, err)
	}
	return nil
}

// ServicePrincipals returns the two enterprise applications with the tenant's consent state,
// AppService first.
func (s *Service) ServicePrincipals(ctx context.Context, tenantID string) ([]ServicePrincipal, error) {
	if !validTenantID(tenantID) {
		return nil, fmt.Errorf("listing service principals: %w", ErrUnknownTenant)
	}
	t, err := s.tenants.PinResetTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing service principals of tenant %q: %w", tenantID, err)
	}
	sp := func(a App, ok bool, at time.Time) ServicePrincipal {
		if !ok {
			at = time.Time{}
		}
		return ServicePrincipal{App: a, AppID: a.AppID(), DisplayName: a.DisplayName(), Consented: ok, ConsentedAt: at}
	}
	return []ServicePrincipal{
		sp(AppService, t.ServiceConsented, t.ServiceConsentedAt),
		sp(AppClient, t.ClientConsented, t.ClientConsentedAt),
	}, nil
}

// record writes the audit record for one operation and logs it; it returns the Auditor's
// error.
func (s *Service) record(ctx context.Context, rec AuditRecord, err error) error {
	level := slog.LevelInfo
	switch {
	case err == nil:
		rec.Outcome = OutcomeOK
	case refused(err):
		rec.Outcome, rec.Reason, level = OutcomeRefused, err.Error(), slog.LevelWarn
	default:
		rec.Outcome, rec.Reason, level = OutcomeError, err.Error(), slog.LevelError
	}
	aerr := s.audit.PinReset(ctx, rec)
	s.log.Log(ctx, level, "pin reset "+rec.Operation, "tenant", rec.TenantID, "device", rec.DeviceID,
		"upn", rec.UPN, "outcome", rec.Outcome, "reason", rec.Reason)
	if aerr != nil {
		s.log.ErrorContext(ctx, "recording pin reset "+rec.Operation, "tenant", rec.TenantID, "device", rec.DeviceID, "err", aerr)
	}
	return aerr
}
