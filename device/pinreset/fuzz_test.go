package pinreset

import (
	"testing"

	"github.com/hellomdm/hellomdm/device/webauth"
)

// The PIN reset client's parsers of server answers must never panic.

func FuzzParsePublicKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		pub, err := parsePublicKey(body, resetTenant)
		if err == nil && pub == nil {
			t.Fatal("nil key without error")
		}
	})
}

func FuzzParseSignInInfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		if info, err := parseSignInInfo(body); err == nil && info.SignInHost == "" {
			t.Fatal("accepted an empty sign-in host")
		}
	})
}

func FuzzParseResetAnswers(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		if tok, err := webauth.ParseTokenBody(body); err == nil && tok == "" {
			t.Fatal("empty token without error")
		}
		if p, err := parseProtector(body); err == nil && len(p) != 32 {
			t.Fatal("protector of the wrong size accepted")
		}
		if e := parseServiceError(serviceIDP, "sign-in", 401, body); e.Code == "" {
			t.Fatal("service error without code")
		}
	})
}

func FuzzReadToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		_, _ = readToken(raw)
	})
}
