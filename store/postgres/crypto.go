package postgres

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of Options.EncryptionKey (AES-256).
const KeySize = 32

// ErrNoKey is returned by Open without a usable encryption key.
var ErrNoKey = errors.New("postgres store needs a 32-byte encryption key (HELLOMDM_STORE_KEY or --store-key-file)")

// secretPrefixes are the config key prefixes whose values are encrypted at rest.
var secretPrefixes = [...]string{"tenant/", "secret/", "ca/"}

// isSecret reports whether the value at key is encrypted at rest.
func isSecret(key string) bool {
	for _, p := range secretPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrNoKey, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	return aead, nil
}

// seal encrypts value with a random nonce, bound to key as additional data so a sealed
// value cannot be moved to another key. The result is nonce ‖ ciphertext ‖ tag.
func (d *DB) seal(key string, value []byte) ([]byte, error) {
	nonce := make([]byte, d.aead.NonceSize(), d.aead.NonceSize()+len(value)+d.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("drawing nonce: %w", err)
	}
	return d.aead.Seal(nonce, nonce, value, []byte(key)), nil
}

// open decrypts a value sealed at key.
func (d *DB) open(key string, sealed []byte) ([]byte, error) {
	n := d.aead.NonceSize()
	if len(sealed) < n+d.aead.Overhead() {
		return nil, fmt.Errorf("decrypting config %s: value too short", key)
	}
	v, err := d.aead.Open(nil, sealed[:n], sealed[n:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("decrypting config %s (wrong HELLOMDM_STORE_KEY?): %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}
