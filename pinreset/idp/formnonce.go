package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sign-in form nonces: base64url(expiry(8) || random(16) || HMAC-SHA-256(key, label ||
// expiry || random || appru)). A nonce proves the POST comes from a form this server rendered
// recently for the same appru; it needs no server-side state, so any replica can check it.
const (
	nonceLabel   = "hellomdm idp form v1\x00"
	nonceRandLen = 16
	nonceLen     = 8 + nonceRandLen + sha256.Size
)

var errNonce = errors.New("sign-in form nonce not valid or expired")

func formNonceMAC(key []byte, head []byte, appru string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonceLabel))
	m.Write(head)
	m.Write([]byte(appru))
	return m.Sum(nil)
}

func newFormNonce(key []byte, rnd io.Reader, expires time.Time, appru string) (string, error) {
	buf := make([]byte, 8+nonceRandLen, nonceLen)
	binary.BigEndian.PutUint64(buf, uint64(expires.Unix()))
	if _, err := io.ReadFull(rnd, buf[8:]); err != nil {
		return "", fmt.Errorf("making form nonce: %w", err)
	}
	buf = append(buf, formNonceMAC(key, buf, appru)...)
	return b64url.EncodeToString(buf), nil
}

func checkFormNonce(key []byte, nonce string, now time.Time, appru string) error {
	if len(nonce) > 2*nonceLen {
		return errNonce
	}
	b, err := decodeB64URL(nonce)
	if err != nil || len(b) != nonceLen {
		return errNonce
	}
	head, mac := b[:8+nonceRandLen], b[8+nonceRandLen:]
	if !hmac.Equal(mac, formNonceMAC(key, head, appru)) {
		return errNonce
	}
	exp := int64(binary.BigEndian.Uint64(head))
	if now.Unix() >= exp {
		return errNonce
	}
	return nil
}
