package hello

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MinServiceKeyBits is the smallest RSA modulus accepted for the PIN reset service key.
const MinServiceKeyBits = 2048

// ProtectorLabelVersion is the label version of the protectors this package creates.
// Version 1, the tenant-only label "hellomdm-pin-reset:" + tenant ID of earlier releases,
// bound a protector to its tenant but not to its user: any MFA-verified user of the tenant
// could have any protector of the tenant decrypted. The PIN reset service no longer decrypts
// version 1 protectors; ProtectorOutdated reports them so the agent replaces them.
const ProtectorLabelVersion = 2

// ProtectorLabelPrefix is the part of ProtectorLabel shared by all users of tenantID:
// "hellomdm-pin-reset:v2:", the tenant ID and a colon. The PIN reset service announces it in
// its public key answer (labelPrefix), and the agent checks it there.
func ProtectorLabelPrefix(tenantID string) string {
	return "hellomdm-pin-reset:v2:" + tenantID + ":"
}

// ProtectorLabel is the RSA-OAEP label under which a PIN reset protector is encrypted to the
// PIN reset service: ProtectorLabelPrefix(tenantID) followed by the lower-cased UPN of the
// user the container belongs to (Container.User). The service must decrypt with RSA-OAEP,
// SHA-256 (hash and MGF1) and the label it builds the same way from the UPN of the user's
// MFA token (pinreset.Label), so a ciphertext escrowed for one tenant can't be replayed
// under another, and one escrowed for one user can't be released to another user of the
// tenant, even one who copied it from a shared device. UPNs compare case-insensitively,
// hence the lower case; a renamed UPN makes the protector undecryptable, which leaves the
// destructive reset, as for any changed identity. (Microsoft does not publish its service's
// padding; this is hellomdm's choice.)
func ProtectorLabel(tenantID, upn string) []byte {
	return []byte(ProtectorLabelPrefix(tenantID) + strings.ToLower(upn))
}

// KeyFingerprint is the SHA-256 of the PKIX DER encoding of pub, recorded with a protector
// so the service can tell which of its keys encrypted it.
func KeyFingerprint(pub *rsa.PublicKey) ([]byte, error) {
	if pub == nil {
		return nil, errors.New("fingerprinting PIN reset service key: nil key")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("fingerprinting PIN reset service key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

func validTenant(tenantID string) error {
	switch {
	case tenantID == "":
		return errors.New("empty tenant ID")
	case len(tenantID) > 256:
		return errors.New("tenant ID longer than 256 bytes")
	case strings.ContainsRune(tenantID, 0):
		return errors.New("tenant ID contains NUL")
	}
	return nil
}

// newResetProtector makes a fresh protector for ckey: a random 256-bit key wrapping the
// container key, itself kept only as RSA-OAEP ciphertext to pub under
// ProtectorLabel(tenantID, f.User). The plaintext protector is
// cleared before returning.
func newResetProtector(f *containerFile, ckey []byte, pub *rsa.PublicKey, tenantID string, now time.Time, rnd io.Reader) (*resetProtector, error) {
	if pub == nil {
		return nil, errors.New("nil PIN reset service key")
	}
	if pub.N == nil || pub.N.BitLen() < MinServiceKeyBits {
		return nil, fmt.Errorf("PIN reset service key shorter than %d bits", MinServiceKeyBits)
	}
	if err := validTenant(tenantID); err != nil {
		return nil, err
	}
	fp, err := KeyFingerprint(pub)
	if err != nil {
		return nil, err
	}
	protector, err := randomBytes(rnd, ProtectorSize)
	if err != nil {
		return nil, fmt.Errorf("creating PIN reset protector: %w", err)
	}
	defer clear(protector)
	wrapped, err := seal(rnd, protector, ckey, resetAAD(f, tenantID, fp))
	if err != nil {
		return nil, fmt.Errorf("wrapping container key under protector: %w", err)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rnd, pub, protector, ProtectorLabel(tenantID, f.User))
	if err != nil {
		return nil, fmt.Errorf("encrypting PIN reset protector: %w", err)
	}
	return &resetProtector{
		TenantID: tenantID, LabelVersion: ProtectorLabelVersion, KeyFingerprint: fp,
		Ciphertext: ct, Wrapped: wrapped, CreatedAt: now,
	}, nil
}

func resetAAD(f *containerFile, tenantID string, fp []byte) []byte {
	return aad("reset", f.User, f.NgcKeyID, tenantID, hex.EncodeToString(fp))
}

// CreateProtector adds (or replaces) the PIN reset protector, escrowed to the PIN reset
// service's public key pub for tenantID and the container's user, under the current label
// version. This is what EnablePinRecovery=true triggers, and what replaces an outdated
// protector (ProtectorOutdated).
func (u *Unlocked) CreateProtector(pub *rsa.PublicKey, tenantID string, rnd io.Reader) error {
	err := u.update(rnd, func(f *containerFile, _ *sealedContent) error {
		r, err := newResetProtector(f, u.key, pub, tenantID, u.c.opts.now().UTC(), rnd)
		if err != nil {
			return err
		}
		f.Reset = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("creating PIN reset protector: %w", err)
	}
	return nil
}

// HasProtector reports whether a PIN reset protector exists (non-destructive reset is
// possible).
func (c *Container) HasProtector() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.Reset != nil
}

// ProtectorOutdated reports whether the container holds a protector made under a label
// version older than ProtectorLabelVersion. The PIN reset service does not decrypt such a
// protector, so it does not make non-destructive reset possible (Status reports
// DestructiveOnly); CreateProtector replaces it the next time the container is unlocked.
func (c *Container) ProtectorOutdated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.Reset != nil && c.f.Reset.labelVersion() < ProtectorLabelVersion
}

// DestroyProtector removes the PIN reset protector (EnablePinRecovery=false). It needs no
// PIN and is a no-op when there is none.
func (c *Container) DestroyProtector() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f.Reset == nil {
		return nil
	}
	next := c.f
	next.Reset = nil
	if err := c.commitLocked(next); err != nil {
		return fmt.Errorf("destroying PIN reset protector: %w", err)
	}
	return nil
}

// ProtectorCiphertext returns the escrowed protector (RSA-OAEP ciphertext for the PIN reset
// service) and its tenant ID, or ErrNoProtector.
func (c *Container) ProtectorCiphertext() (ciphertext []byte, tenantID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f.Reset == nil {
		return nil, "", fmt.Errorf("reading PIN reset protector: %w", ErrNoProtector)
	}
	return append([]byte(nil), c.f.Reset.Ciphertext...), c.f.Reset.TenantID, nil
}

// ProtectorInfo describes the escrowed protector without its ciphertext.
type ProtectorInfo struct {
	TenantID string
	// LabelVersion is the version of the RSA-OAEP label the protector was encrypted under:
	// 1 (tenant only) or ProtectorLabelVersion (tenant and user).
	LabelVersion   int
	KeyFingerprint []byte // see KeyFingerprint
	CreatedAt      time.Time
}

// Protector returns details of the PIN reset protector, or ErrNoProtector.
func (c *Container) Protector() (ProtectorInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.f.Reset
	if r == nil {
		return ProtectorInfo{}, fmt.Errorf("reading PIN reset protector: %w", ErrNoProtector)
	}
	return ProtectorInfo{
		TenantID: r.TenantID, LabelVersion: r.labelVersion(),
		KeyFingerprint: append([]byte(nil), r.KeyFingerprint...), CreatedAt: r.CreatedAt,
	}, nil
}

// ResetWithProtector is the non-destructive PIN reset: protectorPlain (as returned by the PIN
// reset service) unwraps the container key, which is re-wrapped under newPIN (checked against
// policy and its History), and a fresh protector is escrowed to pub for the same tenant. The
// key pair, NgcKeyId and certificate are unchanged. protectorPlain is cleared before
// returning, whatever the outcome. The failed-attempt counter is cleared, which ends a PIN
// lockout (ErrPINLocked). On any error nothing changes on disk.
func ResetWithProtector(c *Container, protectorPlain []byte, newPIN string, policy PINPolicy, pub *rsa.PublicKey, rnd io.Reader) error {
	defer clear(protectorPlain)
	if c == nil {
		return errors.New("resetting PIN: nil container")
	}
	if rnd == nil {
		return errors.New("resetting PIN: nil randomness source")
	}
	if err := policy.Check(newPIN); err != nil {
		return fmt.Errorf("resetting PIN: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.f
	r := next.Reset
	if r == nil {
		return fmt.Errorf("resetting PIN: %w", ErrNoProtector)
	}
	if len(protectorPlain) != ProtectorSize {
		return fmt.Errorf("resetting PIN: %w", ErrWrongProtector)
	}
	ckey, err := open(protectorPlain, r.Wrapped, resetAAD(&next, r.TenantID, r.KeyFingerprint))
	if err != nil {
		return fmt.Errorf("resetting PIN: %w", ErrWrongProtector)
	}
	defer clear(ckey)
	inner, err := next.unseal(ckey)
	if err != nil {
		return fmt.Errorf("resetting PIN: %w", err)
	}
	defer clear(inner.PrivateKey)
	if err := next.checkHistory(newPIN, inner, policy.Effective().History); err != nil {
		return fmt.Errorf("resetting PIN: %w", err)
	}
	now := c.opts.now().UTC()
	if err := next.setPIN(newPIN, ckey, inner, c.rewrapKDF(&next), now, rnd); err != nil {
		return fmt.Errorf("resetting PIN: %w", err)
	}
	fresh, err := newResetProtector(&next, ckey, pub, r.TenantID, now, rnd)
	if err != nil {
		return fmt.Errorf("resetting PIN: %w", err)
	}
	next.Reset = fresh
	if err := c.commitLocked(next); err != nil {
		return fmt.Errorf("resetting PIN: %w", err)
	}
	return nil
}

// ResetDestructive is the destructive PIN reset: the user's container, keys, certificate and
// protector are erased and a new container (new key pair, new NgcKeyId, empty certificate
// slot, no protector, empty PIN history, no failed PIN attempts) is provisioned under newPIN.
// newPIN is checked before anything is erased.
func ResetDestructive(dir, user, newPIN string, policy PINPolicy, rnd io.Reader, opts ...Option) (*Container, error) {
	o := buildOptions(opts)
	path, err := containerPath(dir, user)
	if err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	if rnd == nil {
		return nil, errors.New("resetting PIN destructively: nil randomness source")
	}
	if err := o.kdf.validate(); err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	if err := o.checkMaxAttempts(); err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	if err := policy.Check(newPIN); err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	f, err := newContainerFile(user, newPIN, o, rnd)
	if err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	if err := shredAndRemove(path); err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	c := &Container{path: path, opts: o}
	if err := c.writeLocked(f); err != nil {
		return nil, fmt.Errorf("resetting PIN destructively: %w", err)
	}
	return c, nil
}
