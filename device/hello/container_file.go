package hello

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

const (
	fileFormat  = "hellomdm-ngc-container"
	fileVersion = 1
)

// containerFile is the on-disk form. Secrets live only inside Sealed (under the container
// key) or wrapped (PIN protector, reset protector).
type containerFile struct {
	Format    string          `json:"format"`
	Version   int             `json:"version"`
	User      string          `json:"user"`
	NgcKeyID  string          `json:"ngcKeyId"`  // canonical GUID, lower case, no braces
	PublicKey []byte          `json:"publicKey"` // PKIX DER of the Hello public key
	CreatedAt time.Time       `json:"createdAt"`
	PINSetAt  time.Time       `json:"pinSetAt"`
	PIN       pinProtector    `json:"pinProtector"`
	Sealed    []byte          `json:"sealed"` // nonce || AES-GCM(sealedContent JSON)
	Reset     *resetProtector `json:"resetProtector,omitempty"`
	// FailedPINAttempts counts the PIN attempts that failed since the last correct or new
	// PIN; an attempt in progress counts as failed (see Unlock). It is outside Sealed
	// because it changes without the PIN. Files written before the counter existed lack
	// it, which reads as 0; at 0 it is left out, so older agents still read the file.
	FailedPINAttempts int `json:"failedPinAttempts,omitempty"`
}

type pinProtector struct {
	KDF     KDFParams `json:"kdf"`
	Salt    []byte    `json:"salt"`    // per-container Argon2id salt
	Wrapped []byte    `json:"wrapped"` // nonce || AES-GCM(container key) under the PIN key
}

type resetProtector struct {
	TenantID string `json:"tenantId"`
	// LabelVersion is the version of the RSA-OAEP label of Ciphertext (see
	// ProtectorLabelVersion). Files written before it existed lack it: their protectors use
	// the tenant-only label, version 1, which is what 0 reads as.
	LabelVersion   int       `json:"labelVersion,omitempty"`
	KeyFingerprint []byte    `json:"keyFingerprint"` // SHA-256 of the service key's PKIX DER
	Ciphertext     []byte    `json:"ciphertext"`     // RSA-OAEP(protector) to the service
	Wrapped        []byte    `json:"wrapped"`        // nonce || AES-GCM(container key) under the protector
	CreatedAt      time.Time `json:"createdAt"`
}

// labelVersion returns r.LabelVersion, with a missing version read as 1.
func (r *resetProtector) labelVersion() int {
	if r.LabelVersion == 0 {
		return 1
	}
	return r.LabelVersion
}

type sealedContent struct {
	PrivateKey  []byte         `json:"privateKey"` // PKCS#8 DER
	Certificate []byte         `json:"certificate,omitempty"`
	History     []historyEntry `json:"history"` // newest last, at most MaxHistory
}

// historyEntry identifies a past PIN: a hash of the second half of the Argon2id output for
// that PIN under the container salt and KDF (the first half is the PIN key).
type historyEntry struct {
	KDF  KDFParams `json:"kdf"`
	Hash []byte    `json:"hash"`
}

// pinKeys derives the PIN key (wraps the container key) and the history hash of pin.
func pinKeys(pin string, salt []byte, k KDFParams) (pinKey, histHash []byte) {
	out := argon2Out(pin, salt, k)
	pinKey = bytes.Clone(out[:keySize])
	h := sha256.Sum256(append([]byte("hellomdm-pin-history\x00"), out[keySize:]...))
	clear(out)
	return pinKey, h[:]
}

// newContainerFile creates the file of a new container: a new Hello key pair and NgcKeyId,
// the private key sealed under a random container key, which a key derived from pin wraps.
func newContainerFile(user, pin string, o options, rnd io.Reader) (containerFile, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return containerFile{}, fmt.Errorf("generating Hello key: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return containerFile{}, fmt.Errorf("encoding Hello key: %w", err)
	}
	defer clear(pkcs8)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return containerFile{}, fmt.Errorf("encoding Hello public key: %w", err)
	}
	id, err := newGUID(rnd)
	if err != nil {
		return containerFile{}, fmt.Errorf("creating NgcKeyId: %w", err)
	}
	ckey, err := randomBytes(rnd, keySize)
	if err != nil {
		return containerFile{}, fmt.Errorf("creating container key: %w", err)
	}
	defer clear(ckey)
	salt, err := randomBytes(rnd, saltSize)
	if err != nil {
		return containerFile{}, fmt.Errorf("creating PIN salt: %w", err)
	}
	now := o.now().UTC()
	f := containerFile{
		Format: fileFormat, Version: fileVersion, User: user, NgcKeyID: id,
		PublicKey: pub, CreatedAt: now,
		PIN: pinProtector{KDF: o.kdf, Salt: salt},
	}
	inner := sealedContent{PrivateKey: pkcs8}
	if err := f.setPIN(pin, ckey, &inner, o.kdf, now, rnd); err != nil {
		return containerFile{}, err
	}
	return f, nil
}

// setPIN wraps ckey under pin, appends pin to the history, reseals inner and clears the
// failed-attempt counter (a new PIN ends a lockout). It mutates f and inner only; the
// caller persists.
func (f *containerFile) setPIN(pin string, ckey []byte, inner *sealedContent, k KDFParams, now time.Time, rnd io.Reader) error {
	pinKey, hist := pinKeys(pin, f.PIN.Salt, k)
	defer clear(pinKey)
	wrapped, err := seal(rnd, pinKey, ckey, aad("pin", f.User, f.NgcKeyID))
	if err != nil {
		return fmt.Errorf("wrapping container key under PIN: %w", err)
	}
	inner.History = append(inner.History, historyEntry{KDF: k, Hash: hist})
	if n := len(inner.History); n > MaxHistory {
		inner.History = inner.History[n-MaxHistory:]
	}
	f.PIN = pinProtector{KDF: k, Salt: f.PIN.Salt, Wrapped: wrapped}
	f.PINSetAt = now
	f.FailedPINAttempts = 0
	return f.reseal(ckey, inner, rnd)
}

func (f *containerFile) reseal(ckey []byte, inner *sealedContent, rnd io.Reader) error {
	plain, err := json.Marshal(inner)
	if err != nil {
		return fmt.Errorf("encoding sealed content: %w", err)
	}
	defer clear(plain)
	sealed, err := seal(rnd, ckey, plain, aad("sealed", f.User, f.NgcKeyID))
	if err != nil {
		return fmt.Errorf("sealing container: %w", err)
	}
	f.Sealed = sealed
	return nil
}

// unseal opens the sealed content with the container key.
func (f *containerFile) unseal(ckey []byte) (*sealedContent, error) {
	plain, err := open(ckey, f.Sealed, aad("sealed", f.User, f.NgcKeyID))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed content does not open", ErrCorrupt)
	}
	defer clear(plain)
	var inner sealedContent
	if err := json.Unmarshal(plain, &inner); err != nil {
		return nil, fmt.Errorf("%w: decoding sealed content: %v", ErrCorrupt, err)
	}
	return &inner, nil
}

// checkHistory refuses pin if it matches one of the last n PINs.
func (f *containerFile) checkHistory(pin string, inner *sealedContent, n int) error {
	if n <= 0 {
		return nil
	}
	recent := inner.History[max(len(inner.History)-n, 0):]
	hashes := map[KDFParams][]byte{}
	for _, h := range recent {
		got, ok := hashes[h.KDF]
		if !ok {
			if h.KDF.validate() != nil {
				continue
			}
			var pinKey []byte
			pinKey, got = pinKeys(pin, f.PIN.Salt, h.KDF)
			clear(pinKey)
			hashes[h.KDF] = got
		}
		if equalBytes(got, h.Hash) {
			return &PolicyError{Rule: "History", Reason: fmt.Sprintf("PIN was used among the last %d PINs", n)}
		}
	}
	return nil
}

// decodeFile parses and validates a container file.
func decodeFile(data []byte) (containerFile, error) {
	var f containerFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return containerFile{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return containerFile{}, fmt.Errorf("%w: trailing data", ErrCorrupt)
	}
	bad := func(what string) (containerFile, error) {
		return containerFile{}, fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	switch {
	case f.Format != fileFormat:
		return bad("unknown format")
	case f.Version != fileVersion:
		return bad(fmt.Sprintf("unsupported version %d", f.Version))
	case validUser(f.User) != nil:
		return bad("invalid user")
	case !validGUID(f.NgcKeyID):
		return bad("invalid NgcKeyId")
	case f.PIN.KDF.validate() != nil:
		return bad("invalid KDF parameters")
	case len(f.PIN.Salt) != saltSize:
		return bad("invalid PIN salt")
	case len(f.PIN.Wrapped) != wrappedKeySize:
		return bad("invalid wrapped key")
	case len(f.Sealed) < nonceSize+tagSize:
		return bad("sealed content too short")
	case f.FailedPINAttempts < 0:
		return bad("negative failed PIN attempts")
	}
	pub, err := x509.ParsePKIXPublicKey(f.PublicKey)
	if err != nil {
		return bad("invalid public key")
	}
	if ek, ok := pub.(*ecdsa.PublicKey); !ok || ek.Curve != elliptic.P256() {
		return bad("public key is not ECDSA P-256")
	}
	if r := f.Reset; r != nil {
		switch {
		case r.TenantID == "":
			return bad("reset protector without tenant")
		case r.LabelVersion < 0 || r.LabelVersion > ProtectorLabelVersion:
			return bad(fmt.Sprintf("unsupported reset protector label version %d", r.LabelVersion))
		case len(r.KeyFingerprint) != sha256.Size:
			return bad("invalid reset key fingerprint")
		case len(r.Ciphertext) == 0:
			return bad("empty reset protector ciphertext")
		case len(r.Wrapped) != wrappedKeySize:
			return bad("invalid reset wrapped key")
		}
	}
	return f, nil
}
