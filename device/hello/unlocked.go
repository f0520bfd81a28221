package hello

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Unlocked is a container whose PIN was proven: it holds the container key in memory until
// Close. Every change re-reads the container's current sealed content, so changes made
// through other handles (for example ResetWithProtector) are not lost.
type Unlocked struct {
	c *Container

	mu   sync.Mutex
	key  []byte // container key; nil after Close
	priv *ecdsa.PrivateKey
}

func newUnlocked(c *Container, f *containerFile, ckey []byte) (*Unlocked, error) {
	inner, err := f.unseal(ckey)
	if err != nil {
		return nil, err
	}
	defer clear(inner.PrivateKey)
	k, err := x509.ParsePKCS8PrivateKey(inner.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: decoding Hello key: %v", ErrCorrupt, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: Hello key is not ECDSA", ErrCorrupt)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil || !bytes.Equal(pub, f.PublicKey) {
		return nil, fmt.Errorf("%w: Hello key does not match the stored public key", ErrCorrupt)
	}
	return &Unlocked{c: c, key: ckey, priv: priv}, nil
}

// Container returns the container this handle unlocked.
func (u *Unlocked) Container() *Container { return u.c }

// NgcKeyID returns the container's key ID (canonical GUID, no braces).
func (u *Unlocked) NgcKeyID() string { return u.c.NgcKeyID() }

// PublicKey returns the Hello public key.
func (u *Unlocked) PublicKey() *ecdsa.PublicKey { return &u.priv.PublicKey }

// Sign signs a SHA-256 digest with the Hello key (ASN.1 ECDSA signature), proving
// possession of the key; verify with ecdsa.VerifyASN1 and PublicKey.
func (u *Unlocked) Sign(digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("signing with Hello key: digest of %d bytes, want %d (SHA-256)", len(digest), sha256.Size)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.key == nil {
		return nil, fmt.Errorf("signing with Hello key: %w", ErrClosed)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, u.priv, digest)
	if err != nil {
		return nil, fmt.Errorf("signing with Hello key: %w", err)
	}
	return sig, nil
}

// Certificate returns the DER certificate in the container's slot, or nil when empty.
func (u *Unlocked) Certificate() ([]byte, error) {
	var cert []byte
	err := u.view(func(_ *containerFile, inner *sealedContent) error {
		cert = bytes.Clone(inner.Certificate)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading Hello certificate: %w", err)
	}
	return cert, nil
}

// SetCertificate stores a DER certificate issued for the Hello key; nil or empty clears the
// slot. A certificate for another key is refused.
func (u *Unlocked) SetCertificate(der []byte, rnd io.Reader) error {
	if len(der) > 0 {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("setting Hello certificate: %w", err)
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || !pub.Equal(&u.priv.PublicKey) {
			return errors.New("setting Hello certificate: certificate is not for the Hello key")
		}
	}
	err := u.update(rnd, func(f *containerFile, inner *sealedContent) error {
		inner.Certificate = bytes.Clone(der)
		return f.reseal(u.key, inner, rnd)
	})
	if err != nil {
		return fmt.Errorf("setting Hello certificate: %w", err)
	}
	return nil
}

// ChangePIN replaces the PIN: newPIN must satisfy policy, including its History rule. The
// key pair, NgcKeyId, certificate and any reset protector are kept; the failed-attempt
// counter is cleared, which ends a PIN lockout (ErrPINLocked).
func (u *Unlocked) ChangePIN(newPIN string, policy PINPolicy, rnd io.Reader) error {
	if err := policy.Check(newPIN); err != nil {
		return fmt.Errorf("changing PIN: %w", err)
	}
	err := u.update(rnd, func(f *containerFile, inner *sealedContent) error {
		if err := f.checkHistory(newPIN, inner, policy.Effective().History); err != nil {
			return err
		}
		return f.setPIN(newPIN, u.key, inner, u.c.rewrapKDF(f), u.c.opts.now().UTC(), rnd)
	})
	if err != nil {
		return fmt.Errorf("changing PIN: %w", err)
	}
	return nil
}

// Close wipes the container key from memory. Further use of the handle returns ErrClosed.
func (u *Unlocked) Close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.key)
	u.key = nil
}

// view runs fn on the container's current sealed content.
func (u *Unlocked) view(fn func(*containerFile, *sealedContent) error) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.key == nil {
		return ErrClosed
	}
	u.c.mu.Lock()
	f := u.c.f
	u.c.mu.Unlock()
	inner, err := f.unseal(u.key)
	if err != nil {
		return err
	}
	defer clear(inner.PrivateKey)
	return fn(&f, inner)
}

// update runs fn on a copy of the container's current file and sealed content and commits
// the copy if fn succeeds; on any error the disk and memory are unchanged.
func (u *Unlocked) update(rnd io.Reader, fn func(*containerFile, *sealedContent) error) error {
	if rnd == nil {
		return errors.New("nil randomness source")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.key == nil {
		return ErrClosed
	}
	u.c.mu.Lock()
	defer u.c.mu.Unlock()
	next := u.c.f
	inner, err := next.unseal(u.key)
	if err != nil {
		return err
	}
	defer clear(inner.PrivateKey)
	if err := fn(&next, inner); err != nil {
		return err
	}
	return u.c.commitLocked(next)
}

// rewrapKDF is the KDF for a new PIN protector: WithKDFParams if given to Open, else the
// container's current parameters.
func (c *Container) rewrapKDF(f *containerFile) KDFParams {
	if c.opts.kdfSet {
		return c.opts.kdf
	}
	return f.PIN.KDF
}
