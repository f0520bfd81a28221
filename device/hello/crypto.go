package hello

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
)

// KDFParams are the Argon2id cost parameters of a PIN protector (RFC 9106). They are stored
// in the container file, so containers made with different costs open alike.
type KDFParams struct {
	Time      uint32 `json:"time"`      // passes over memory
	MemoryKiB uint32 `json:"memoryKiB"` // memory cost in KiB
	Threads   uint8  `json:"threads"`   // parallelism
}

// DefaultKDFParams is the second recommended option of RFC 9106 §4: t=3, m=64 MiB, p=4.
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}
}

// Bounds applied to parameters read from a file, so a crafted file cannot make Open or
// Unlock allocate without limit.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 1024 * 1024 // 1 GiB
	maxKDFThreads   = 64
)

func (k KDFParams) validate() error {
	switch {
	case k.Time < 1 || k.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d outside 1–%d", k.Time, maxKDFTime)
	case k.Threads < 1 || k.Threads > maxKDFThreads:
		return fmt.Errorf("argon2id threads %d outside 1–%d", k.Threads, maxKDFThreads)
	case k.MemoryKiB < 8*uint32(k.Threads) || k.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB outside %d–%d", k.MemoryKiB, 8*uint32(k.Threads), maxKDFMemoryKiB)
	}
	return nil
}

const (
	keySize   = 32 // AES-256 keys: container key, PIN-derived key, protector
	saltSize  = 16
	nonceSize = 12
	tagSize   = 16
	// wrappedKeySize is nonce || AES-GCM(32-byte key) || tag.
	wrappedKeySize = nonceSize + keySize + tagSize
)

// ProtectorSize is the length in bytes of a plaintext PIN reset protector (a 256-bit AES
// key, per the Learn page "PIN reset").
const ProtectorSize = 32

func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	return b, nil
}

// seal encrypts plaintext under key with AES-256-GCM and returns nonce || ciphertext.
func seal(rnd io.Reader, key, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce, err := randomBytes(rnd, nonceSize)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

// open reverses seal; any failure (wrong key, tampering, truncation) is reported the same.
func open(key, sealed, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < nonceSize+tagSize {
		return nil, fmt.Errorf("sealed data of %d bytes is too short", len(sealed))
	}
	return aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("AES key of %d bytes, want %d", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating AES cipher: %w", err)
	}
	return cipher.NewGCM(block) // fails only for a block size other than 16, never for AES
}

// aad binds a sealed blob to its purpose and to the container it belongs to, so blobs can't
// be swapped between containers or between the PIN and reset protectors.
func aad(purpose, user, ngcKeyID string, extra ...string) []byte {
	b := []byte("hellomdm-ngc/v1")
	for _, s := range append([]string{purpose, user, ngcKeyID}, extra...) {
		b = append(b, 0)
		b = append(b, s...)
	}
	return b
}

func equalBytes(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// newGUID returns a random (version 4) GUID in canonical lower-case form.
func newGUID(rnd io.Reader) (string, error) {
	b, err := randomBytes(rnd, 16)
	if err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// validGUID reports whether s is a canonical lower-case GUID without braces.
func validGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// argon2Out returns 64 bytes of Argon2id output: the PIN key and the history material.
func argon2Out(pin string, salt []byte, k KDFParams) []byte {
	return argon2.IDKey([]byte(pin), salt, k.Time, k.MemoryKiB, k.Threads, 2*keySize)
}
