package idp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// rfc6238Secret is the SHA-1 seed of RFC 6238 Appendix B.
var rfc6238Secret = []byte("12345678901234567890")

func TestTOTPRFC6238Vectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA-1 rows: Unix time → 8-digit TOTP.
	vectors := []struct {
		unix  int64
		code8 string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, v := range vectors {
		t.Run(fmt.Sprint(v.unix), func(t *testing.T) {
			at := time.Unix(v.unix, 0)
			if got, err := totpCodeAt(rfc6238Secret, totpStep(at), otp.DigitsEight); err != nil || got != v.code8 {
				t.Errorf("8 digits = %s, %v; want %s", got, err, v.code8)
			}
			// 6-digit truncation is the same value modulo 10^6.
			want6 := v.code8[2:]
			if got := TOTPCode(rfc6238Secret, at); got != want6 {
				t.Errorf("TOTPCode = %s, want %s", got, want6)
			}
			step, err := VerifyTOTP(rfc6238Secret, want6, at, 0)
			if err != nil || step != totpStep(at) {
				t.Errorf("VerifyTOTP = %d, %v; want step %d", step, err, totpStep(at))
			}
		})
	}
}

func TestVerifyTOTP(t *testing.T) {
	now := t0
	cur := totpStep(now)
	code := func(d int64) string { return TOTPCode(rfc6238Secret, now.Add(time.Duration(d)*TOTPPeriod)) }
	tests := []struct {
		name     string
		code     string
		lastUsed int64
		wantStep int64
		wantErr  error
	}{
		{"current step", code(0), 0, cur, nil},
		{"previous step accepted", code(-1), 0, cur - 1, nil},
		{"next step accepted", code(1), 0, cur + 1, nil},
		{"two steps back refused", code(-2), 0, 0, ErrTOTPInvalid},
		{"two steps ahead refused", code(2), 0, 0, ErrTOTPInvalid},
		{"replayed current step", code(0), cur, 0, ErrTOTPReplayed},
		{"replayed older step", code(-1), cur - 1, 0, ErrTOTPReplayed},
		{"previous step after current used", code(-1), cur, 0, ErrTOTPReplayed},
		{"next step after current used", code(1), cur, cur + 1, nil},
		{"wrong code", wrongCode(code(-1), code(0), code(1)), 0, 0, ErrTOTPInvalid},
		{"five digits", code(0)[:5], 0, 0, ErrTOTPInvalid},
		{"seven digits", code(0) + "1", 0, 0, ErrTOTPInvalid},
		{"letters", "12a456", 0, 0, ErrTOTPInvalid},
		{"unicode digits", "١٢٣٤٥٦", 0, 0, ErrTOTPInvalid},
		{"empty", "", 0, 0, ErrTOTPInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step, err := VerifyTOTP(rfc6238Secret, tc.code, now, tc.lastUsed)
			if tc.wantErr == nil {
				if err != nil || step != tc.wantStep {
					t.Fatalf("VerifyTOTP = %d, %v; want %d, nil", step, err, tc.wantStep)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifyTOTP err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("empty secret", func(t *testing.T) {
		if _, err := VerifyTOTP(nil, code(0), now, 0); !errors.Is(err, ErrTOTPInvalid) {
			t.Fatalf("err = %v, want ErrTOTPInvalid", err)
		}
	})
}

// wrongCode returns a 6-digit code different from all of avoid.
func wrongCode(avoid ...string) string {
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		ok := true
		for _, a := range avoid {
			ok = ok && a != c
		}
		if ok {
			return c
		}
	}
}

func TestNewTOTPSecretAndURI(t *testing.T) {
	secret, b32, err := NewTOTPSecret(seededRand(4))
	if err != nil {
		t.Fatalf("NewTOTPSecret: %v", err)
	}
	if len(secret) != 20 || strings.Contains(b32, "=") || len(b32) != 32 {
		t.Fatalf("secret %d bytes, base32 %q", len(secret), b32)
	}
	back, err := DecodeTOTPSecret(strings.ToLower(b32))
	if err != nil || string(back) != string(secret) {
		t.Fatalf("DecodeTOTPSecret round trip: %v", err)
	}
	if _, err := DecodeTOTPSecret("not base32!"); err == nil {
		t.Fatal("DecodeTOTPSecret accepted garbage")
	}
	got := TOTPURI("Contoso MDM", "alice@contoso.com", b32)
	want := "otpauth://totp/Contoso%20MDM:alice@contoso.com?secret=" + b32 + "&issuer=Contoso+MDM&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Fatalf("TOTPURI =\n%s\nwant\n%s", got, want)
	}
}

func ExampleTOTPCode() {
	// RFC 6238 Appendix B, T = 59 s, truncated to 6 digits.
	fmt.Println(TOTPCode([]byte("12345678901234567890"), time.Unix(59, 0)))
	// Output: 287082
}

func ExampleTOTPURI() {
	fmt.Println(TOTPURI("hellomdm", "bob@contoso.com", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))
	// Output: otpauth://totp/hellomdm:bob@contoso.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=hellomdm&algorithm=SHA1&digits=6&period=30
}
