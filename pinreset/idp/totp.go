package idp

import (
	"encoding/base32"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238 §4 with the defaults authenticator apps expect: HMAC-SHA-1,
// 30-second steps from the Unix epoch, 6 digits).
const (
	TOTPPeriod  = 30 * time.Second // RFC 6238 §4.1 X, recommended default
	TOTPDigits  = 6                // RFC 4226 §5.3: at least 6 digits
	TOTPSkew    = 1                // steps accepted either side (RFC 6238 §5.2 "at most one time step")
	totpKeySize = 20               // RFC 4226 §4 R6: 160-bit shared secret recommended
)

var totpB32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret draws a 160-bit secret from rnd and returns it with its unpadded base32
// form (what authenticator apps read from the otpauth URI).
func NewTOTPSecret(rnd io.Reader) (secret []byte, b32 string, err error) {
	secret = make([]byte, totpKeySize)
	if _, err := io.ReadFull(rnd, secret); err != nil {
		return nil, "", fmt.Errorf("generating totp secret: %w", err)
	}
	return secret, totpB32.EncodeToString(secret), nil
}

// DecodeTOTPSecret parses an unpadded (or padded) base32 secret, case-insensitively.
func DecodeTOTPSecret(b32 string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.TrimSpace(b32), "="))
	secret, err := totpB32.DecodeString(s)
	if err != nil || len(secret) == 0 {
		return nil, fmt.Errorf("decoding totp secret: not base32")
	}
	return secret, nil
}

// TOTPURI returns the Key Uri Format authenticator apps scan:
// otpauth://totp/Issuer:account?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30.
func TOTPURI(issuer, account, b32 string) string {
	return "otpauth://totp/" + url.PathEscape(issuer) + ":" + url.PathEscape(account) +
		"?secret=" + url.QueryEscape(b32) +
		"&issuer=" + url.QueryEscape(issuer) +
		"&algorithm=SHA1" +
		"&digits=" + strconv.Itoa(TOTPDigits) +
		"&period=" + strconv.Itoa(int(TOTPPeriod/time.Second))
}

// totpOpts are the TOTP parameters for github.com/pquerna/otp, spelled out rather than left
// to the library's defaults. Skew is 0: VerifyTOTP walks the ±TOTPSkew window itself,
// because replay protection needs to know which step matched and the library's own skew
// reports only a bool.
func totpOpts(digits otp.Digits) totp.ValidateOpts {
	return totp.ValidateOpts{
		Period:    uint(TOTPPeriod / time.Second),
		Skew:      0,
		Digits:    digits,
		Algorithm: otp.AlgorithmSHA1,
	}
}

// TOTPCode returns the 6-digit code for time t. The code is computed by pquerna/otp
// (RFC 6238 §4 over RFC 4226 §5.3); its only error, a secret that is not base32, cannot
// happen for bytes encoded here, and would yield "", which VerifyTOTP never accepts.
func TOTPCode(secret []byte, t time.Time) string {
	code, err := totpCodeAt(secret, totpStep(t), otp.DigitsSix)
	if err != nil {
		return ""
	}
	return code
}

// totpCodeAt is the code of step (digits long).
func totpCodeAt(secret []byte, step int64, digits otp.Digits) (string, error) {
	return totp.GenerateCodeCustom(totpB32.EncodeToString(secret), stepStart(step), totpOpts(digits))
}

// stepStart is the first instant of step.
func stepStart(step int64) time.Time { return time.Unix(step*int64(TOTPPeriod/time.Second), 0) }

// totpStep is T = floor((unixtime - T0) / X) with T0 = 0 (RFC 6238 §4.2). Times before
// the epoch map to negative steps, which match nothing useful.
func totpStep(t time.Time) int64 {
	sec := t.Unix()
	p := int64(TOTPPeriod / time.Second)
	if sec < 0 {
		return (sec - p + 1) / p
	}
	return sec / p
}

// VerifyTOTP checks code against the steps around now (±TOTPSkew). It returns the matched
// step, which the caller must persist (UserStore.UseTOTPStep) so the code cannot be used
// again. A code whose step is ≤ lastUsedStep is refused with ErrTOTPReplayed (RFC 6238 §5.2);
// a malformed or non-matching code with ErrTOTPInvalid.
func VerifyTOTP(secret []byte, code string, now time.Time, lastUsedStep int64) (int64, error) {
	if len(secret) == 0 {
		return 0, fmt.Errorf("verifying totp: empty secret: %w", ErrTOTPInvalid)
	}
	if len(code) != TOTPDigits {
		return 0, fmt.Errorf("verifying totp: want %d digits: %w", TOTPDigits, ErrTOTPInvalid)
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, fmt.Errorf("verifying totp: non-digit: %w", ErrTOTPInvalid)
		}
	}
	cur := totpStep(now)
	replayed := false
	// Newest step first, so a code valid for both a used and an unused step (a collision,
	// 1 in 10^6) is accepted for the unused one. Every step is computed: no early exit
	// reveals which step matched.
	matched := int64(0)
	found := false
	b32 := totpB32.EncodeToString(secret)
	for step := cur + TOTPSkew; step >= cur-TOTPSkew; step-- {
		if step < 0 {
			continue
		}
		// pquerna/otp compares in constant time (crypto/subtle) at exactly this step.
		ok, err := totp.ValidateCustom(code, b32, stepStart(step), totpOpts(otp.DigitsSix))
		if err != nil {
			return 0, fmt.Errorf("verifying totp: %v: %w", err, ErrTOTPInvalid)
		}
		switch {
		case ok && step > lastUsedStep && !found:
			matched, found = step, true
		case ok && step <= lastUsedStep:
			replayed = true
		}
	}
	if found {
		return matched, nil
	}
	if replayed {
		return 0, fmt.Errorf("verifying totp: %w", ErrTOTPReplayed)
	}
	return 0, fmt.Errorf("verifying totp: %w", ErrTOTPInvalid)
}
