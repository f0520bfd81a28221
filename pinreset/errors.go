package pinreset

import (
	"errors"
	"strings"
	"time"
)

// Refusals. Each is returned wrapped; test with errors.Is. The HTTP adapter maps them to a
// status and an error code (see [ErrorBody]).
var (
	// ErrUnknownTenant: no such tenant (HTTP 404, "unknown_tenant").
	ErrUnknownTenant = errors.New("unknown tenant")
	// ErrServiceUnavailable: the tenant is in a government cloud, where the Microsoft PIN reset
	// service is not offered (pin-reset.md); HTTP 503, "service_unavailable".
	ErrServiceUnavailable = errors.New("service not available")
	// ErrConsentRequired: an administrator has not consented to one or both enterprise
	// applications; the returned error is a *ConsentRequiredError (HTTP 403).
	ErrConsentRequired = errors.New("admin consent required")
	// ErrTokenInvalid: the token is missing or the TokenVerifier rejected it (HTTP 401).
	ErrTokenInvalid = errors.New("token invalid")
	// ErrTokenExpired: the token's expiry has passed (HTTP 401).
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenReplayed: the token already released a protector; a token is single-use
	// (HTTP 401).
	ErrTokenReplayed = errors.New("token already used")
	// ErrWrongTenant: the token was issued for another tenant (HTTP 403).
	ErrWrongTenant = errors.New("token issued for another tenant")
	// ErrMFARequired: the sign-in behind the token did not use MFA, which PIN reset requires
	// (pin-reset.md: "Users must complete MFA"); HTTP 403.
	ErrMFARequired = errors.New("multi-factor authentication required")
	// ErrNoClientCert: the request carried no verified device certificate (HTTP 403).
	ErrNoClientCert = errors.New("device client certificate required")
	// ErrDeviceNotEnrolled: the certificate names a device that is not enrolled (HTTP 403).
	ErrDeviceNotEnrolled = errors.New("device not enrolled")
	// ErrDeviceRetired: the device was retired (HTTP 403).
	ErrDeviceRetired = errors.New("device retired")
	// ErrDeviceWrongTenant: the device is enrolled in another tenant (HTTP 403).
	ErrDeviceWrongTenant = errors.New("device belongs to another tenant")
	// ErrBadRequest: the request body is malformed or too large (HTTP 400).
	ErrBadRequest = errors.New("bad request")
	// ErrBadCiphertext: the ciphertext has the wrong size or does not decrypt under the
	// tenant's key and the token user's label: made for another tenant or another user,
	// under the tenant-only label of earlier releases, or tampered with (HTTP 400).
	ErrBadCiphertext = errors.New("ciphertext does not decrypt")
	// ErrBadProtector: the ciphertext decrypted, but not to a 32-byte protector (HTTP 400).
	ErrBadProtector = errors.New("decrypted protector is not 32 bytes")
	// ErrUnknownApp: Consent was called with an application other than AppService/AppClient.
	ErrUnknownApp = errors.New("unknown PIN reset application")
)

// ErrTemporarilyUnavailable is what a collaborator (Tenants, KeyStore, Devices, Auditor)
// wraps when it cannot answer now because its store is down or full. It is a failure, not
// a refusal: nothing was released or changed, and the client is told to retry (HTTP 503,
// "temporarily_unavailable", with Retry-After).
var ErrTemporarilyUnavailable = errors.New("temporarily unavailable; try again later")

// UnavailableRetryAfter is the Retry-After sent with ErrTemporarilyUnavailable.
const UnavailableRetryAfter = 30 * time.Second

// ErrWeakKey is returned (wrapped) when the KeyStore hands back a key below MinKeyBits. It is
// an internal failure, not a refusal: the stored key must be replaced by an operator.
var ErrWeakKey = errors.New("tenant RSA key shorter than minimum")

// ConsentRequiredError names the enterprise applications that still lack admin consent.
// errors.Is(err, ErrConsentRequired) holds for it.
type ConsentRequiredError struct {
	TenantID string
	Missing  []App // AppService before AppClient
}

func (e *ConsentRequiredError) Error() string {
	names := make([]string, len(e.Missing))
	for i, a := range e.Missing {
		names[i] = a.DisplayName() + " (" + a.AppID() + ")"
	}
	return "admin consent required for " + strings.Join(names, " and ")
}

// Is reports ErrConsentRequired.
func (e *ConsentRequiredError) Is(target error) bool { return target == ErrConsentRequired }

// refused reports whether err is a refusal of the request rather than a failure of the service.
func refused(err error) bool {
	for _, r := range []error{
		ErrUnknownTenant, ErrServiceUnavailable, ErrConsentRequired, ErrTokenInvalid,
		ErrTokenExpired, ErrTokenReplayed, ErrWrongTenant, ErrMFARequired, ErrNoClientCert,
		ErrDeviceNotEnrolled, ErrDeviceRetired, ErrDeviceWrongTenant, ErrBadRequest,
		ErrBadCiphertext, ErrBadProtector, ErrUnknownApp,
	} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}
