package main

import (
	"encoding/base32"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

const authenticatorUsage = `Usage: hellomdm authenticator code (--uri 'otpauth://totp/...' | --secret BASE32) [-o text|json]

Prints the current one-time code of a TOTP secret (RFC 6238), as a phone authenticator app
would after scanning the otpauth:// URI that 'hellomdm admin user totp' prints: for headless
machines, scripts and the README tour. The URI's algorithm, digits and period are honoured.
`

// totpParams are the parameters of one TOTP secret (Key Uri Format: otpauth://totp/LABEL?
// secret=BASE32&algorithm=SHA1&digits=6&period=30; the defaults are RFC 6238's).
type totpParams struct {
	secret string // base32, upper case, unpadded
	alg    otp.Algorithm
	digits int
	period time.Duration
}

func runAuthenticator(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		w, code := stderr, exitUsage
		if len(args) > 0 {
			w, code = stdout, exitOK
		}
		fmt.Fprint(w, authenticatorUsage)
		return code
	}
	if args[0] != "code" {
		fmt.Fprintf(stderr, "hellomdm authenticator: unknown command %q%s\n\n%s", args[0], didYouMean(args[0], []string{"code"}), authenticatorUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("hellomdm authenticator code", flag.ContinueOnError)
	uri := fs.String("uri", "", "otpauth://totp/... URI (as 'hellomdm admin user totp' prints it)")
	secret := fs.String("secret", "", "base32 secret (SHA-1, 6 digits, 30 s, the defaults)")
	output := fs.String("o", "text", "output: text (the code alone) or json (code and seconds it stays valid)")
	if code, done := parseCLI(fs, args[1:], "HELLOMDM_AUTHENTICATOR_", "hellomdm authenticator code (--uri URI | --secret BASE32) [-o json]",
		`hellomdm authenticator code --uri "$(hellomdm admin -q user totp --tenant contoso.com --user alice@contoso.com)"`, stdout, stderr); done {
		return code
	}
	fail := func(msg string) int {
		fmt.Fprintf(stderr, "hellomdm authenticator code: %s\nRun 'hellomdm authenticator code -h' for its flags.\n", msg)
		return exitUsage
	}
	if (*uri == "") == (*secret == "") {
		return fail("give exactly one of --uri and --secret")
	}
	if *output != "text" && *output != "json" {
		return fail(fmt.Sprintf("-o %q: want text or json", *output))
	}
	var p totpParams
	var err error
	if *uri != "" {
		p, err = parseOTPAuthURI(*uri)
	} else {
		p, err = totpDefaults(*secret)
	}
	if err != nil {
		return fail(err.Error())
	}
	now := time.Now()
	code, err := p.code(now)
	if err != nil {
		return fail(err.Error())
	}
	if *output == "json" {
		left := p.period - time.Duration(now.UnixNano()%int64(p.period))
		fmt.Fprintf(stdout, "{\n  \"code\": %q,\n  \"validForSeconds\": %d\n}\n", code, int(left.Seconds()))
		return exitOK
	}
	fmt.Fprintln(stdout, code)
	return exitOK
}

// totpDefaults is a bare base32 secret with RFC 6238's defaults: HMAC-SHA-1, 6 digits, 30 s.
func totpDefaults(b32 string) (totpParams, error) {
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimRight(strings.TrimSpace(b32), "="), " ", ""))
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(secret) == 0 {
		return totpParams{}, fmt.Errorf("secret is not base32")
	}
	return totpParams{secret: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret), alg: otp.AlgorithmSHA1, digits: 6, period: 30 * time.Second}, nil
}

// parseOTPAuthURI reads the Key Uri Format authenticator apps scan: otpauth://totp/LABEL
// with secret (required), algorithm (SHA1, SHA256, SHA512), digits (6 to 8) and period
// (seconds). HOTP URIs are refused: a counter-based code needs state this command keeps not.
func parseOTPAuthURI(raw string) (totpParams, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "otpauth" {
		return totpParams{}, fmt.Errorf("--uri: not an otpauth:// URI")
	}
	if !strings.EqualFold(u.Host, "totp") {
		return totpParams{}, fmt.Errorf("--uri: otpauth://%s: only totp is supported", u.Host)
	}
	q := u.Query()
	p, err := totpDefaults(q.Get("secret"))
	if err != nil {
		return totpParams{}, fmt.Errorf("--uri: %w", err)
	}
	switch strings.ToUpper(q.Get("algorithm")) {
	case "", "SHA1":
	case "SHA256":
		p.alg = otp.AlgorithmSHA256
	case "SHA512":
		p.alg = otp.AlgorithmSHA512
	default:
		return totpParams{}, fmt.Errorf("--uri: algorithm %q: want SHA1, SHA256 or SHA512", q.Get("algorithm"))
	}
	if d := q.Get("digits"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 6 || n > 8 {
			return totpParams{}, fmt.Errorf("--uri: digits %q: want 6 to 8", d)
		}
		p.digits = n
	}
	if s := q.Get("period"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3600 {
			return totpParams{}, fmt.Errorf("--uri: period %q: want seconds, 1 to 3600", s)
		}
		p.period = time.Duration(n) * time.Second
	}
	return p, nil
}

// code is RFC 6238 §4.2: T = floor(unixtime / period) (T0 = 0), then HOTP (RFC 4226 §5.3:
// HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits), computed
// by github.com/pquerna/otp with every parameter given explicitly.
func (p totpParams) code(t time.Time) (string, error) {
	code, err := totp.GenerateCodeCustom(p.secret, t, totp.ValidateOpts{
		Period:    uint(p.period / time.Second),
		Skew:      0,
		Digits:    otp.Digits(p.digits),
		Algorithm: p.alg,
	})
	if err != nil {
		return "", fmt.Errorf("computing code: %w", err)
	}
	return code, nil
}
