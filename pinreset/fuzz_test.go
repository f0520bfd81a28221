package pinreset

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseDecryptBody: any input either parses to a non-empty ciphertext that survives an
// encode/decode round trip, or fails with ErrBadRequest; never a panic.
func FuzzParseDecryptBody(f *testing.F) {
	f.Add([]byte(`{"ciphertext":"AAECAw=="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, err := parseDecryptBody(data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if len(ct) == 0 {
			t.Fatal("empty ciphertext accepted")
		}
		again, err := json.Marshal(DecryptBody{Ciphertext: ct})
		if err != nil {
			t.Fatal(err)
		}
		ct2, err := parseDecryptBody(again)
		if err != nil || !bytes.Equal(ct, ct2) {
			t.Fatalf("round trip: %x → %s → %x, %v", ct, again, ct2, err)
		}
	})
}

// FuzzBearerToken: an extracted token has no whitespace and is extracted again unchanged.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc.def.ghi")
	f.Fuzz(func(t *testing.T, header string) {
		tok := bearerToken(header)
		if tok == "" {
			return
		}
		if strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("token %q contains whitespace", tok)
		}
		if again := bearerToken("Bearer " + tok); again != tok {
			t.Fatalf("round trip: %q → %q", tok, again)
		}
	})
}
