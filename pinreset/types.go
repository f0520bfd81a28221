package pinreset

import (
	"context"
	"crypto/rsa"
	"time"
)

// Tenants is the tenant directory as the PIN reset service needs it.
type Tenants interface {
	// PinResetTenant returns the tenant's PIN reset onboarding facts; an error wrapping
	// ErrUnknownTenant if there is no such tenant.
	PinResetTenant(ctx context.Context, tenantID string) (TenantInfo, error)
}

// ConsentStore stores consent changes. The caller of Service.Consent gives it, so that it
// can store the change in one transaction with records of its own (the admin's audit event).
type ConsentStore interface {
	// SetConsent records admin consent to (or its withdrawal from) one of the two enterprise
	// applications at at; an error wrapping ErrUnknownTenant if there is no such tenant.
	SetConsent(ctx context.Context, tenantID string, app App, granted bool, at time.Time) error
}

// TenantInfo is what the service needs to know about a tenant.
type TenantInfo struct {
	ID string
	// GovCloud marks a government cloud tenant; the service refuses it (pin-reset.md).
	GovCloud           bool
	ServiceConsented   bool
	ClientConsented    bool
	ServiceConsentedAt time.Time
	ClientConsentedAt  time.Time
}

// KeyStore keeps one RSA key per tenant.
type KeyStore interface {
	// TenantRSAKey returns the tenant's key. If the tenant has none yet, the implementation
	// calls create, persists the result durably and returns it. Two concurrent first calls
	// must end with one stored key that both callers receive: either call create while
	// holding the tenant's write lock or transaction, or, if another caller's key was stored
	// first, discard the new key and return the stored one. An error from create is returned
	// as is and nothing is stored.
	TenantRSAKey(ctx context.Context, tenantID string, create func() (*rsa.PrivateKey, error)) (*rsa.PrivateKey, error)
}

// Claims are the verified facts of a PIN reset access token.
type Claims struct {
	TenantID string
	UserID   string
	UPN      string
	// MFA reports that the sign-in used multi-factor authentication.
	MFA    bool
	Expiry time.Time
	// ID is the token's unique ID (jti), which a Redeemer records when the token releases a
	// protector.
	ID string
}

// TokenVerifier checks a PIN reset access token: signature, issuer, audience and expiry.
type TokenVerifier interface {
	// VerifyPinResetToken returns the token's claims, or an error if it does not verify. An
	// error wrapping ErrTokenExpired is reported as expired, any other as invalid.
	VerifyPinResetToken(ctx context.Context, raw string) (Claims, error)
}

// Redeemer makes PIN reset tokens single-use.
type Redeemer interface {
	// RedeemPinResetToken records the token c (by c.ID, until c.Expiry) as used to release
	// a protector to deviceID. The first call for a token succeeds; every later one, from
	// any device and on any replica sharing the implementation's state, returns an error
	// wrapping ErrTokenReplayed that names the device it was used by.
	RedeemPinResetToken(ctx context.Context, c Claims, deviceID string) error
}

// Devices reports a device's standing.
type Devices interface {
	// DeviceStanding returns the tenant a device is enrolled in and whether it is enrolled or
	// retired. An unknown device is enrolled == false with a nil error; err is for failures.
	DeviceStanding(ctx context.Context, deviceID string) (tenantID string, enrolled bool, retired bool, err error)
}

// Auditor receives one record per operation. An error means the record was not stored:
// the service then withholds a protector it was about to release (a release is never left
// unrecorded); for other operations the error is logged.
type Auditor interface {
	PinReset(ctx context.Context, e AuditRecord) error
}

// Audit operations and outcomes.
const (
	OpPublicKey = "publicKey"
	OpDecrypt   = "decrypt"
	OpConsent   = "consent"

	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	OutcomeError   = "error"
)

// AuditRecord describes one PIN reset operation. UserID and UPN are set once a token verified.
type AuditRecord struct {
	TenantID  string
	DeviceID  string
	UserID    string
	UPN       string
	Operation string // OpPublicKey, OpDecrypt or OpConsent
	Outcome   string // OutcomeOK, OutcomeRefused or OutcomeError
	Reason    string
}

// App is one of the two Entra enterprise applications an administrator consents to before
// non-destructive PIN reset works in a tenant (pin-reset.md, "Onboarding").
type App string

// The two applications.
const (
	AppService App = "PIN Reset Service"
	AppClient  App = "PIN Reset Client"
)

// Microsoft's production application IDs, from the admin consent links in pin-reset.md.
const (
	ServiceAppID = "b8456c59-1230-44c7-a4a2-99b085333e84"
	ClientAppID  = "9115dd05-fad5-4f9c-acc7-305d08b1b04e"
)

// Valid reports whether a is AppService or AppClient.
func (a App) Valid() bool { return a == AppService || a == AppClient }

// AppID returns the application's ID, or "" for an unknown App.
func (a App) AppID() string {
	switch a {
	case AppService:
		return ServiceAppID
	case AppClient:
		return ClientAppID
	}
	return ""
}

// DisplayName returns the name under which the application appears among a tenant's
// enterprise applications (pin-reset.md), or the App string itself if unknown.
func (a App) DisplayName() string {
	switch a {
	case AppService:
		return "Microsoft Pin Reset Service Production"
	case AppClient:
		return "Microsoft Pin Reset Client Production"
	}
	return string(a)
}

// ServicePrincipal is one enterprise application as a tenant's administrator sees it.
type ServicePrincipal struct {
	App         App       `json:"app"`
	AppID       string    `json:"appId"`
	DisplayName string    `json:"displayName"`
	Consented   bool      `json:"consented"`
	ConsentedAt time.Time `json:"consentedAt,omitzero"`
}
