package idp

import (
	"errors"
	"fmt"
	"time"
)

// Password errors.
var (
	// ErrPasswordMismatch: the password does not match the stored hash.
	ErrPasswordMismatch = errors.New("idp: password does not match")
	// ErrPasswordHashMalformed: a stored hash is not a PHC argon2id string this package accepts.
	ErrPasswordHashMalformed = errors.New("idp: malformed password hash")
)

// One-time code (TOTP) errors.
var (
	// ErrTOTPRequired: the user has a TOTP secret and no code was given.
	ErrTOTPRequired = errors.New("idp: one-time code required")
	// ErrTOTPInvalid: the code is malformed or matches no step in the ±1 window.
	ErrTOTPInvalid = errors.New("idp: one-time code is not valid")
	// ErrTOTPReplayed: the code matches a step already used (RFC 6238 §5.2: a verifier
	// must not accept the second attempt of the same OTP). UserStore.UseTOTPStep returns
	// it too when a concurrent sign-in consumed the step first.
	ErrTOTPReplayed = errors.New("idp: one-time code already used")
)

// Sign-in errors.
var (
	// ErrInvalidCredentials: unknown user, unknown domain or wrong password. The three are
	// deliberately indistinguishable.
	ErrInvalidCredentials = errors.New("idp: invalid user name or password")
	// ErrRateLimited: too many failed sign-ins for this UPN; errors.As a *RateLimitError
	// for the wait.
	ErrRateLimited = errors.New("idp: too many failed sign-ins")
	// ErrFederated: the user's tenant is federated to a third-party identity provider and
	// the request did not come through it (see the simulation contract in doc.go).
	ErrFederated = errors.New("idp: tenant is federated")
	// ErrUnknownAudience: a sign-in asked for a token audience this provider does not issue.
	ErrUnknownAudience = errors.New("idp: unknown token audience")
	// ErrNotFound is what UserStore implementations wrap when a tenant or user does not
	// exist; any other store error is treated as an internal failure.
	ErrNotFound = errors.New("idp: not found")
	// ErrUnavailable is what UserStore implementations wrap when their store cannot answer
	// now (down or full): the sign-in fails with HTTP 503 and Retry-After, not 500.
	ErrUnavailable = errors.New("idp: temporarily unavailable")
)

// Token errors returned by Issuer.Verify.
var (
	// ErrTokenMalformed: not a compact JWS, bad base64url or JSON, missing claims, or a
	// header this package does not accept (alg other than ES256, crit present, no kid).
	ErrTokenMalformed = errors.New("idp: malformed token")
	// ErrTokenSignature: the kid is not the tenant's key or the signature does not verify.
	ErrTokenSignature = errors.New("idp: token signature not valid")
	// ErrTokenExpired: exp has passed (beyond the allowed clock skew).
	ErrTokenExpired = errors.New("idp: token expired")
	// ErrTokenNotYetValid: nbf is in the future (beyond the allowed clock skew).
	ErrTokenNotYetValid = errors.New("idp: token not yet valid")
	// ErrTokenIssuer: iss is not this server's issuer URL.
	ErrTokenIssuer = errors.New("idp: token issuer mismatch")
	// ErrTokenAudience: aud is not the expected audience.
	ErrTokenAudience = errors.New("idp: token audience mismatch")
	// ErrTokenTenant: tid is not the expected tenant or not the tenant whose key signed it.
	ErrTokenTenant = errors.New("idp: token tenant mismatch")
	// ErrMFARequired: the token's amr lacks "mfa" and the caller requires it.
	ErrMFARequired = errors.New("idp: multi-factor authentication required")
)

// UnavailableRetryAfter is the Retry-After sent with ErrUnavailable.
const UnavailableRetryAfter = 30 * time.Second

// RateLimitError is returned (wrapped) when failed sign-ins for a UPN exceeded the limit.
// errors.Is(err, ErrRateLimited) holds for it.
type RateLimitError struct {
	RetryAfter time.Duration // how long until the window resets
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: retry after %s", ErrRateLimited, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
