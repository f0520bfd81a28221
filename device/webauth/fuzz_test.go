package webauth

import "testing"

// Parsers of network input must never panic.

func FuzzParseForm(f *testing.F) {
	f.Fuzz(func(t *testing.T, page []byte) {
		form, err := parseForm(page)
		if err == nil && form == nil {
			t.Fatal("nil form without error")
		}
		_ = errorText(page)
	})
}
