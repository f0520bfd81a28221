package core

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// The configuration record (bucket config, key → record) is written so that the values of
// earlier releases read as they are:
//
//   - A record that does not begin with configMagic (the 6 bytes NUL "hmcfg") is the plain
//     value itself. Every value the bbolt store of earlier releases wrote is such a record
//     (they are PEM, DER, hex or text: none begins with a NUL byte), and so is every plain
//     value this store writes, unless the value itself begins with configMagic.
//   - A record that begins with configMagic has one format byte after it:
//     configPlain: the rest is the plain value (written for values that begin with
//     configMagic, which could otherwise not be told from a record);
//     configSealed: the rest is the value sealed with AES-256-GCM: nonce (12) ‖ ciphertext
//     ‖ tag (16), the configuration key as additional data, so a sealed value cannot be
//     moved to another key. This is the value column of today's PostgreSQL config table
//     for rows with sealed = true, so those rows migrate as ConfigRecord(true, value).
//     Any other format byte (a later release's format) or a missing one is an error: such a
//     record is never returned as a value.
//
// Values of secret keys (isSecret) are sealed when the store has a secret key
// (Options.SecretKey); without one they are written plain. A plain value of a secret key
// (written before a key was configured) still reads, and the next write seals it.
const (
	configMagic  = "\x00hmcfg"
	configPlain  = 0x00
	configSealed = 0x01
)

// SecretKeySize is the length of Options.SecretKey (AES-256).
const SecretKeySize = 32

// secretPrefixes are the configuration key prefixes whose values are sealed at rest: the
// tenants' keys (store.ConfigTenantPrefix: token signing, PIN reset), the server's secrets
// and its CA.
var secretPrefixes = [...]string{"tenant/", "secret/", "ca/"}

// isSecret reports whether the value at key is sealed at rest when the store has a key.
func isSecret(key string) bool {
	for _, p := range secretPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// ConfigRecord returns the configuration record of value, sealed (as the PostgreSQL store of
// earlier releases sealed it: nonce ‖ ciphertext ‖ tag, the key as additional data, with
// the same 32-byte key as Options.SecretKey) or plain: what a migration writes for a row
// (key, sealed, value) of that store's config table.
func ConfigRecord(sealed bool, value []byte) []byte {
	switch {
	case sealed:
		return taggedRecord(configSealed, value)
	case bytes.HasPrefix(value, []byte(configMagic)):
		return taggedRecord(configPlain, value)
	case value == nil:
		return []byte{}
	}
	return bytes.Clone(value)
}

func taggedRecord(format byte, payload []byte) []byte {
	rec := make([]byte, 0, len(configMagic)+1+len(payload))
	rec = append(append(rec, configMagic...), format)
	return append(rec, payload...)
}

// secrets seals and opens configuration values with AES-256-GCM.
type secrets struct {
	aead cipher.AEAD
}

func newSecrets(key []byte) (*secrets, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("the store's secret key must be %d bytes (AES-256), got %d", SecretKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	return &secrets{aead: aead}, nil
}

// seal encrypts value for key with a random nonce: nonce ‖ ciphertext ‖ tag.
func (c *secrets) seal(key string, value []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	nonce := make([]byte, n, n+len(value)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("drawing nonce: %w", err)
	}
	return c.aead.Seal(nonce, nonce, value, []byte(key)), nil
}

// open decrypts a value sealed for key.
func (c *secrets) open(key string, sealed []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(sealed) < n+c.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	v, err := c.aead.Open(nil, sealed[:n], sealed[n:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("opening sealed value (wrong store secret key?): %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// encodeConfig returns the record of value at key: sealed for a secret key when the store
// has a secret key, plain otherwise.
func (s *Store) encodeConfig(key string, value []byte) ([]byte, error) {
	if s.sec == nil || !isSecret(key) {
		return ConfigRecord(false, value), nil
	}
	sealed, err := s.sec.seal(key, value)
	if err != nil {
		return nil, err
	}
	return taggedRecord(configSealed, sealed), nil
}

// decodeConfig returns the value of the record rec at key (a copy: rec may belong to the
// transaction).
func (s *Store) decodeConfig(key string, rec []byte) ([]byte, error) {
	if !bytes.HasPrefix(rec, []byte(configMagic)) {
		return append([]byte{}, rec...), nil
	}
	if len(rec) == len(configMagic) {
		return nil, errors.New("configuration record without a format byte")
	}
	payload := rec[len(configMagic)+1:]
	switch f := rec[len(configMagic)]; f {
	case configPlain:
		return append([]byte{}, payload...), nil
	case configSealed:
		if s.sec == nil {
			return nil, errors.New("the value is sealed and the store has no secret key")
		}
		return s.sec.open(key, payload)
	default:
		return nil, fmt.Errorf("configuration record of unknown format %d", f)
	}
}
