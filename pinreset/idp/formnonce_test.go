package idp

import (
	"strings"
	"testing"
	"time"
)

// A form nonce is accepted only as minted: for its appru, before expiry, under its key, and
// in its one base64url spelling. encoding/base64 skips CR and LF, so "AAAAA\rGVT…" (the
// input FuzzFormNonce found, kept in testdata/fuzz/FuzzFormNonce) decoded to the minted
// bytes and was accepted.
func TestCheckFormNonce(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	good, err := newFormNonce(key, seededRand(7), t0.Add(time.Minute), appru)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFormNonce(key, good, t0, appru); err != nil {
		t.Fatalf("minted nonce refused: %v", err)
	}
	last := good[len(good)-1:]
	flipped := map[string]string{"A": "B", "B": "A"}[last]
	if flipped == "" {
		flipped = "A"
	}
	refused := map[string]struct {
		nonce, appru string
		now          time.Time
		key          []byte
	}{
		"CR inside":       {good[:5] + "\r" + good[5:], appru, t0, key},
		"LF inside":       {good[:20] + "\n" + good[20:], appru, t0, key},
		"CRLF at the end": {good + "\r\n", appru, t0, key},
		"other last char": {good[:len(good)-1] + flipped, appru, t0, key},
		"padded":          {good + "=", appru, t0, key},
		"other appru":     {good, appru + "x", t0, key},
		"expired":         {good, appru, t0.Add(time.Minute), key},
		"other key":       {good, appru, t0, []byte(strings.Repeat("k", 32))},
		"too long":        {good + strings.Repeat("A", 2*nonceLen), appru, t0, key},
	}
	for name, tc := range refused {
		if err := checkFormNonce(tc.key, tc.nonce, tc.now, tc.appru); err == nil {
			t.Errorf("%s: accepted %q", name, tc.nonce)
		}
	}
}
