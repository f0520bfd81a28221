package enrollment

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// memDirectory is an in-memory Directory for tests.
type memDirectory struct {
	tenants map[string]Tenant // by domain
	users   map[string]memUser
}

type memUser struct{ tenantID, password, userID string }

func (d *memDirectory) TenantForDomain(_ context.Context, domain string) (Tenant, error) {
	t, ok := d.tenants[domain]
	if !ok {
		return Tenant{}, ErrUnknownDomain
	}
	return t, nil
}

func (d *memDirectory) CheckPassword(_ context.Context, tenantID, upn, password string) (string, error) {
	u, ok := d.users[strings.ToLower(upn)]
	if !ok || u.tenantID != tenantID || !hmac.Equal([]byte(u.password), []byte(password)) {
		return "", ErrBadCredentials
	}
	return u.userID, nil
}

// memRegistry is an in-memory Registry for tests; it records every write.
type memRegistry struct {
	mu      sync.Mutex
	devices map[string]Enrollment
	revoked map[string]bool
	writes  int
}

func newMemRegistry() *memRegistry {
	return &memRegistry{devices: map[string]Enrollment{}, revoked: map[string]bool{}}
}

func (r *memRegistry) Register(_ context.Context, e Enrollment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.devices[e.DeviceID]; ok {
		if old.TenantID != e.TenantID {
			return ErrOtherTenant
		}
		r.revoked[old.CertSerial] = true
	}
	r.devices[e.DeviceID] = e
	r.writes++
	return nil
}

func (r *memRegistry) Renew(_ context.Context, deviceID, oldSerial string, e Enrollment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.devices[deviceID]
	if !ok {
		return ErrNotEnrolled
	}
	if old.CertSerial != oldSerial {
		return ErrSerialMismatch
	}
	r.revoked[oldSerial] = true
	r.devices[deviceID] = e
	r.writes++
	return nil
}

func (r *memRegistry) Device(_ context.Context, deviceID string) (Enrollment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.devices[deviceID]
	if !ok {
		return Enrollment{}, ErrNotEnrolled
	}
	return e, nil
}

func (r *memRegistry) snapshot() (int, map[string]Enrollment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]Enrollment, len(r.devices))
	for k, v := range r.devices {
		m[k] = v
	}
	return r.writes, m
}

// hmacTokens issues and verifies HMAC-SHA256 signed enrollment tokens, the
// way the identity provider's real verifier checks iss, aud, tenant and exp.
type hmacTokens struct {
	key      []byte
	issuer   string
	audience string
	now      func() time.Time
	mu       sync.Mutex
	used     map[string]string // token ID → device that redeemed it
}

func (h *hmacTokens) RedeemEnrollmentToken(_ context.Context, c TokenClaims, deviceID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if first, ok := h.used[c.ID]; ok {
		return fmt.Errorf("token redeemed by %s: %w", first, ErrTokenUsed)
	}
	if h.used == nil {
		h.used = map[string]string{}
	}
	h.used[c.ID] = deviceID
	return nil
}

type tokenBody struct {
	Iss string `json:"iss"`
	Aud string `json:"aud"`
	Tid string `json:"tid"`
	Oid string `json:"oid"`
	UPN string `json:"upn"`
	Exp int64  `json:"exp"`
}

func (h *hmacTokens) sign(b tokenBody) string {
	payload, _ := json.Marshal(b)
	p := base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(p))
	return p + "." + hex.EncodeToString(m.Sum(nil))
}

func (h *hmacTokens) VerifyEnrollmentToken(_ context.Context, raw string) (TokenClaims, error) {
	p, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return TokenClaims{}, fmt.Errorf("token shape: %w", ErrInvalidToken)
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(p))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return TokenClaims{}, fmt.Errorf("token signature: %w", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return TokenClaims{}, fmt.Errorf("token payload: %w", ErrInvalidToken)
	}
	var b tokenBody
	if err := json.Unmarshal(payload, &b); err != nil {
		return TokenClaims{}, fmt.Errorf("token payload: %w", ErrInvalidToken)
	}
	switch {
	case b.Iss != h.issuer:
		return TokenClaims{}, fmt.Errorf("token issuer: %w", ErrInvalidToken)
	case b.Aud != h.audience:
		return TokenClaims{}, fmt.Errorf("token audience: %w", ErrInvalidToken)
	case h.now().Unix() >= b.Exp:
		return TokenClaims{}, fmt.Errorf("token expired: %w", ErrInvalidToken)
	case b.Tid == "":
		return TokenClaims{}, fmt.Errorf("token tenant: %w", ErrInvalidToken)
	}
	return TokenClaims{TenantID: b.Tid, UserID: b.Oid, UPN: b.UPN, ID: p, ExpiresAt: time.Unix(b.Exp, 0)}, nil
}

// decodeRequest decodes a request envelope the way the service does, codec refusals
// becoming Faults.
func decodeRequest(data []byte) (*mde2.Envelope, error) {
	env, err := mde2.DecodeRequest(data)
	return env, decodeFault(err)
}
