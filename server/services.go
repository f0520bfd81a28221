package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/enrollment"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// Services builds the enrollment service (MS-MDE2), the identity provider and the PIN reset
// service over the app's store and CA, and returns them as mounts.
func Services(app *App) ([]Mount, omadm.PolicyHook, error) {
	ctx := context.Background()
	now := time.Now
	st := app.Store
	keys := NewKeys(st)
	issuer, err := idp.NewIssuer(idp.IssuerConfig{URL: app.PublicURL.JoinPath("/idp").String()}, idpKeys{keys})
	if err != nil {
		return nil, nil, err
	}
	formKey, err := keys.Secret(ctx, "idp-form-key", 32)
	if err != nil {
		return nil, nil, err
	}
	if app.consoleKey, err = keys.Secret(ctx, "console-key", 32); err != nil {
		return nil, nil, err
	}
	// One bound on concurrent argon2id checks for sign-in and enrollment alike.
	passwords := idp.NewPasswordChecker(0)
	sa := serviceAudit{st: st, now: now, log: app.log, metrics: app.Metrics}
	sec, err := app.security.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	// Failed sign-ins are counted in the store, so the per-UPN limit holds across replicas.
	idpSvc, err := idp.New(idp.Config{ServerHost: app.PublicURL.Hostname(), FormKey: formKey, Passwords: passwords, OnSignIn: sa.signIn, OnReturnRefused: sa.returnRefused,
		FailureLimit: sec.SignInFailureLimit, FailureWindow: sec.SignInFailureWindow, EnrollmentTokenLifetime: sec.EnrollmentTokenLifetime,
		Failures: idpFailures{st}, Logger: app.log}, idpUsers{st}, issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("identity provider: %w", err)
	}
	// OnPremise enrollment checks passwords under the identity provider's limit: one count
	// and one lockout per user for every endpoint that checks a password.
	enr, err := enrollment.New(enrollment.Config{PublicURL: app.PublicURL, OnRefused: sa.enrollmentRefused, ClientAddr: app.clientAddr,
		Logger: app.log},
		app.CA, enrollmentDirectory{st: st, passwords: passwords, limit: idpSvc}, enrollmentTokens{v: idp.EnrollmentVerifier{Issuer: issuer}, st: st, now: now}, enrollmentRegistry{st: st, now: now})
	if err != nil {
		return nil, nil, fmt.Errorf("enrollment: %w", err)
	}
	pr, err := pinreset.New(pinreset.Config{Logger: app.log, DeviceID: app.deviceForPinReset,
		Redeemer: pinresetRedeemer{st: st, now: now}},
		pinresetTenants{st}, pinresetKeys{keys}, pinresetTokens{issuer}, pinresetDevices{st}, pinresetAudit{st: st, now: now, log: app.log})
	if err != nil {
		return nil, nil, fmt.Errorf("PIN reset service: %w", err)
	}
	app.IDP, app.PinReset = idpSvc, pr
	hook, err := omadm.NewPolicyHook(st)
	if err != nil {
		return nil, nil, err
	}
	return []Mount{
		{Prefix: "/EnrollmentServer/", Handler: enr.Handler()},
		{Prefix: "/idp/", Handler: idpSvc.Handler()},
		{Prefix: "/pinreset/", Handler: pr.Handler()},
	}, hook, nil
}

// clientAddr is the address a request comes from: the forwarded one only from a trusted
// proxy (Server.sourceAddr), else the peer's.
func (a *App) clientAddr(r *http.Request) string {
	if a.Server == nil {
		return r.RemoteAddr
	}
	return a.Server.sourceAddr(r)
}

// deviceForPinReset names the device of a PIN reset request by its client certificate, which
// must be the device's current one. A store that cannot answer is reported as such (503),
// not as a missing certificate.
func (a *App) deviceForPinReset(r *http.Request) (string, error) {
	if a.Server == nil {
		return "", pinreset.ErrNoClientCert
	}
	id, err := a.Server.identifyDevice(r)
	if err != nil {
		return "", fmt.Errorf("%w: %v", pinreset.ErrNoClientCert, err)
	}
	d, err := a.Store.Device(r.Context(), id.DeviceID)
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return "", unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
	case err != nil || !strings.EqualFold(d.CertSerial, id.Serial):
		return "", pinreset.ErrNoClientCert
	}
	return id.DeviceID, nil
}

type pinresetTenants struct{ st store.Store }

func (p pinresetTenants) PinResetTenant(ctx context.Context, tenantID string) (pinreset.TenantInfo, error) {
	t, err := p.st.Tenant(ctx, tenantID)
	if isNotFound(err) {
		return pinreset.TenantInfo{}, pinreset.ErrUnknownTenant
	}
	if err != nil {
		return pinreset.TenantInfo{}, unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
	}
	info := pinreset.TenantInfo{ID: t.ID, GovCloud: t.GovCloud}
	if t.PinResetServiceConsentAt != nil {
		info.ServiceConsented, info.ServiceConsentedAt = true, *t.PinResetServiceConsentAt
	}
	if t.PinResetClientConsentAt != nil {
		info.ClientConsented, info.ClientConsentedAt = true, *t.PinResetClientConsentAt
	}
	return info, nil
}

// idpKeys is the identity provider's key source: the shared Keys, with a store outage
// reported as idp.ErrUnavailable.
type idpKeys struct{ k *Keys }

func (i idpKeys) TenantSigningKey(ctx context.Context, tenantID string) (*ecdsa.PrivateKey, string, error) {
	key, kid, err := i.k.TenantSigningKey(ctx, tenantID)
	return key, kid, unavailableAs(idp.ErrUnavailable, err)
}

// pinresetKeys is the PIN reset service's KeyStore: the shared Keys, with a store outage
// reported as pinreset.ErrTemporarilyUnavailable.
type pinresetKeys struct{ k *Keys }

func (p pinresetKeys) TenantRSAKey(ctx context.Context, tenantID string, create func() (*rsa.PrivateKey, error)) (*rsa.PrivateKey, error) {
	key, err := p.k.TenantRSAKey(ctx, tenantID, create)
	return key, unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
}

type pinresetTokens struct{ issuer *idp.Issuer }

func (p pinresetTokens) VerifyPinResetToken(ctx context.Context, raw string) (pinreset.Claims, error) {
	c, err := p.issuer.Verify(ctx, raw, idp.Expect{Audience: idp.AudiencePINReset})
	if errors.Is(err, store.ErrUnavailable) {
		return pinreset.Claims{}, unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
	}
	if errors.Is(err, idp.ErrTokenExpired) {
		return pinreset.Claims{}, fmt.Errorf("%w: %v", pinreset.ErrTokenExpired, err)
	}
	if err != nil {
		return pinreset.Claims{}, err
	}
	return pinreset.Claims{TenantID: c.TenantID, UserID: c.Subject, UPN: c.UPN, MFA: c.HasMFA(), Expiry: c.ExpiresAt, ID: c.ID}, nil
}

// redeemToken records a single-use token's key as used by deviceID until the token could no
// longer verify anyway (its exp plus the issuer's clock skew, and never in the past). It
// returns store.ErrConflict with the device that redeemed it first when it was used before.
func redeemToken(ctx context.Context, st store.Redemptions, now time.Time, key string, exp time.Time, deviceID string) (string, error) {
	until := exp.Add(idp.DefaultClockSkew)
	if !until.After(now) {
		until = now.Add(idp.DefaultClockSkew)
	}
	return st.Redeem(ctx, key, deviceID, until, now)
}

// pinresetRedeemer makes PIN reset tokens single-use through the store (store.Redemptions),
// on every replica.
type pinresetRedeemer struct {
	st  store.Redemptions
	now func() time.Time
}

// RedeemPinResetToken records the token's jti as used by deviceID (see redeemToken).
func (p pinresetRedeemer) RedeemPinResetToken(ctx context.Context, c pinreset.Claims, deviceID string) error {
	first, err := redeemToken(ctx, p.st, p.now(), "pinreset-token:"+c.TenantID+":"+c.ID, c.Expiry, deviceID)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("token %s already released a protector to device %s: %w", c.ID, first, pinreset.ErrTokenReplayed)
	}
	return unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
}

type pinresetDevices struct{ st store.Store }

func (p pinresetDevices) DeviceStanding(ctx context.Context, deviceID string) (string, bool, bool, error) {
	d, err := p.st.Device(ctx, deviceID)
	if isNotFound(err) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
	}
	return d.TenantID, d.State == store.DeviceEnrolled, d.State == store.DeviceRetired, nil
}

type pinresetAudit struct {
	st  store.Store
	now func() time.Time
	log interface {
		Error(msg string, args ...any)
	}
}

// PinReset records every PIN reset service call in the tenant's audit log. A record that
// cannot be stored is an error (pinreset.ErrTemporarilyUnavailable when the store is down),
// so that the service withholds a protector rather than release it unrecorded.
func (p pinresetAudit) PinReset(ctx context.Context, r pinreset.AuditRecord) error {
	if r.TenantID == "" {
		return nil
	}
	if _, err := p.st.Tenant(ctx, r.TenantID); isNotFound(err) {
		return nil // an unknown tenant has no log
	} else if err != nil {
		return unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
	}
	kind := audit.KindPINResetRequested
	switch {
	case r.Outcome != pinreset.OutcomeOK:
		kind = audit.KindPINResetRefused
	case r.Operation == pinreset.OpDecrypt:
		kind = audit.KindPINResetSucceeded
	}
	actor := audit.Actor{Type: audit.ActorDevice, ID: r.DeviceID}
	if r.UPN != "" {
		actor = audit.Actor{Type: audit.ActorUser, ID: r.UPN, TokenID: r.DeviceID}
	}
	details, _ := json.Marshal(map[string]string{"operation": r.Operation, "outcome": r.Outcome, "reason": r.Reason, "userId": r.UserID})
	ev := &audit.Event{ID: newEventID(), Time: p.now().UTC(), TenantID: r.TenantID, Kind: kind, Actor: actor,
		Subject: audit.Subject{Type: audit.SubjectDevice, ID: r.DeviceID}, DeviceID: r.DeviceID, Action: r.Operation, Details: details}
	return unavailableAs(pinreset.ErrTemporarilyUnavailable, p.st.AppendAudit(ctx, ev))
}

// enrollmentTokens adapts the identity provider's verifier to enrollment.TokenVerifier and
// makes its tokens single-use through the store (store.Redemptions), on every replica.
type enrollmentTokens struct {
	v   idp.EnrollmentVerifier
	st  store.Redemptions
	now func() time.Time
}

// RedeemEnrollmentToken records the token's jti as used by deviceID's enrollment (see
// redeemToken).
func (e enrollmentTokens) RedeemEnrollmentToken(ctx context.Context, c enrollment.TokenClaims, deviceID string) error {
	first, err := redeemToken(ctx, e.st, e.now(), "enrollment-token:"+c.TenantID+":"+c.ID, c.ExpiresAt, deviceID)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("token %s already enrolled device %s: %w", c.ID, first, enrollment.ErrTokenUsed)
	}
	return unavailableAs(enrollment.ErrUnavailable, err)
}

func (e enrollmentTokens) VerifyEnrollmentToken(ctx context.Context, raw string) (enrollment.TokenClaims, error) {
	c, err := e.v.VerifyEnrollmentToken(ctx, raw)
	if errors.Is(err, store.ErrUnavailable) {
		return enrollment.TokenClaims{}, unavailableAs(enrollment.ErrUnavailable, err)
	}
	if err != nil {
		return enrollment.TokenClaims{}, fmt.Errorf("%w: %v", enrollment.ErrInvalidToken, err)
	}
	return enrollment.TokenClaims{TenantID: c.TenantID, UserID: c.UserID, UPN: c.UPN, ID: c.ID, ExpiresAt: c.ExpiresAt}, nil
}
