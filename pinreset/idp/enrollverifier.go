package idp

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// TokenClaims is what the enrollment package needs from a verified enrollment token.
type TokenClaims struct {
	TenantID string
	UserID   string
	UPN      string
	MFA      bool // amr contained "mfa"
	// ID is the token's jti and ExpiresAt its exp, so that the caller can make the token
	// single-use.
	ID        string
	ExpiresAt time.Time
}

// EnrollmentVerifier adapts an Issuer to the enrollment package's token check for the
// Federated auth policy (MS-MDE2 3.1.4.1.3, docs/protocol.md A.4/A.5). It accepts the token
// either as issued (the wresult value) or base64-encoded as the client puts it into the
// DeviceEnrollmentUserToken BinarySecurityToken; a compact JWS always contains '.', which
// standard base64 never does, so the two forms cannot be confused.
//
// The caller must still check that TokenClaims.TenantID is the tenant it resolved from the
// enrollment request's email domain: the verifier accepts any tenant's valid token.
type EnrollmentVerifier struct {
	*Issuer
	RequireMFA bool // refuse tokens whose amr lacks "mfa"
}

// VerifyEnrollmentToken verifies raw with audience AudienceEnrollment.
func (v EnrollmentVerifier) VerifyEnrollmentToken(ctx context.Context, raw string) (TokenClaims, error) {
	if v.Issuer == nil {
		return TokenClaims{}, fmt.Errorf("verifying enrollment token: no issuer")
	}
	raw = strings.TrimSpace(raw)
	if raw != "" && !strings.Contains(raw, ".") && len(raw) <= maxTokenLen*2 {
		dec, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return TokenClaims{}, fmt.Errorf("verifying enrollment token: %w: not a JWS nor base64", ErrTokenMalformed)
		}
		raw = string(dec)
	}
	c, err := v.Verify(ctx, raw, Expect{Audience: AudienceEnrollment, RequireMFA: v.RequireMFA})
	if err != nil {
		return TokenClaims{}, fmt.Errorf("verifying enrollment token: %w", err)
	}
	return TokenClaims{TenantID: c.TenantID, UserID: c.Subject, UPN: c.UPN, MFA: c.HasMFA(), ID: c.ID, ExpiresAt: c.ExpiresAt}, nil
}
