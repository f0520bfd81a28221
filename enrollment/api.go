package enrollment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Authentication policies a tenant can require (MS-MDE2 3.1.4.1.3.2,
// DiscoveryResponse AuthPolicy).
const (
	AuthPolicyOnPremise = mde2.AuthPolicyOnPremise
	AuthPolicyFederated = mde2.AuthPolicyFederated
)

// Sentinel errors shared with the Directory, TokenVerifier and Registry
// implementations. The Service maps them to SOAP faults at the edge.
var (
	// ErrUnknownDomain: no tenant owns the e-mail domain.
	ErrUnknownDomain = errors.New("enrollment: unknown domain")
	// ErrBadCredentials: the user name or password is wrong (or the user is unknown).
	ErrBadCredentials = errors.New("enrollment: bad credentials")
	// ErrInvalidToken: the enrollment token failed verification (signature, iss,
	// aud, tenant or expiry).
	ErrInvalidToken = errors.New("enrollment: invalid token")
	// ErrTokenUsed: the enrollment token already enrolled a device (it is single-use).
	ErrTokenUsed = errors.New("enrollment: token already used")
	// ErrOtherTenant: the DeviceID is already enrolled in another tenant.
	ErrOtherTenant = errors.New("enrollment: device enrolled in another tenant")
	// ErrNotEnrolled: the device is unknown or unenrolled.
	ErrNotEnrolled = errors.New("enrollment: device not enrolled")
	// ErrSerialMismatch: Renew was asked to replace a certificate that is not
	// the device's current one.
	ErrSerialMismatch = errors.New("enrollment: certificate serial is not current")
	// ErrUnavailable: the Directory, TokenVerifier or Registry cannot answer now (its store
	// is down or full); nothing was stored. The client gets a fault telling it to retry
	// later (see unavailableFault).
	ErrUnavailable = errors.New("enrollment: temporarily unavailable")
)

// LockedOutError is returned (wrapped) by Directory.CheckPassword when the user name has
// had too many failed sign-ins, at any endpoint that checks passwords, and no password was
// checked. It is returned for existing and unknown users alike.
type LockedOutError struct {
	RetryAfter time.Duration // until the lockout ends
}

func (e *LockedOutError) Error() string {
	return fmt.Sprintf("enrollment: too many failed sign-ins; retry after %s", e.RetryAfter.Round(time.Second))
}

// Tenant is what the Directory knows about the owner of an e-mail domain.
type Tenant struct {
	ID, DisplayName string
	// AuthPolicy is AuthPolicyOnPremise or AuthPolicyFederated.
	AuthPolicy string
}

// Directory finds tenants and checks OnPremise passwords.
type Directory interface {
	// TenantForDomain returns the tenant owning domain (lower case), or
	// ErrUnknownDomain.
	TenantForDomain(ctx context.Context, domain string) (Tenant, error)
	// CheckPassword returns the user's ID, or ErrBadCredentials, or a *LockedOutError when
	// the user name is locked out after too many failed sign-ins.
	CheckPassword(ctx context.Context, tenantID, upn, password string) (userID string, err error)
}

// TokenClaims are the facts a verified Federated enrollment token asserts.
type TokenClaims struct {
	TenantID, UserID, UPN string
	// ID is the token's unique ID (jti) and ExpiresAt its expiry, for RedeemEnrollmentToken.
	ID        string
	ExpiresAt time.Time
}

// TokenVerifier checks the opaque token the Federated sign-in page handed to
// the client (MS-MDE2 3.4.4.1.1.1; docs/protocol.md A.5). Implementations must check
// signature, issuer, audience, tenant and expiry, and return ErrInvalidToken
// (wrapped) when any fails.
type TokenVerifier interface {
	VerifyEnrollmentToken(ctx context.Context, raw string) (TokenClaims, error)
	// RedeemEnrollmentToken marks a verified token as used by the enrollment of deviceID.
	// A token is single-use: the first call for its ID succeeds, every later one returns
	// ErrTokenUsed (wrapped), with whom it was bound to in the message, across every
	// replica sharing the implementation's state.
	RedeemEnrollmentToken(ctx context.Context, c TokenClaims, deviceID string) error
}

// Enrollment is one enrolled device and its current identity certificate.
type Enrollment struct {
	DeviceID, HWDevID, TenantID, UserID, UPN, DeviceName, OSVersion, OSEdition string
	// EnrollmentType is "Full" (user) or "Device".
	EnrollmentType, DeviceType, ApplicationVersion string
	NotInOobe                                      bool
	// CertSerial is the certificate serial as upper-case hex; CertThumbprint the
	// upper-case hex SHA-1 of the certificate DER.
	CertSerial, CertThumbprint string
	CertNotAfter, EnrolledAt   time.Time
	MACs                       []string
	Locale                     string
}

// Registry stores enrolled devices.
type Registry interface {
	// Register stores the device and its certificate atomically. Re-enrolling
	// the same DeviceID in the same tenant replaces the certificate and revokes
	// the old one; a DeviceID enrolled in another tenant → ErrOtherTenant,
	// nothing stored.
	Register(ctx context.Context, e Enrollment) error
	// Renew replaces the certificate of an enrolled device (old serial revoked).
	Renew(ctx context.Context, deviceID, oldSerial string, e Enrollment) error
	// Device returns the enrollment, or ErrNotEnrolled when unknown or unenrolled.
	Device(ctx context.Context, deviceID string) (Enrollment, error)
}
