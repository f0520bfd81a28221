package hello

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeFile feeds arbitrary bytes to the container file decoder: it must never panic,
// must reject with ErrCorrupt, must never accept a negative failed-attempt counter, and
// whatever it accepts must survive encode → decode.
func FuzzDecodeFile(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"hellomdm-ngc-container","version":1}`))
	f.Add([]byte(`{"format":"hellomdm-ngc-container","version":1,"failedPinAttempts":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := decodeFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if cf.FailedPINAttempts < 0 {
			t.Fatalf("accepted %d failed PIN attempts", cf.FailedPINAttempts)
		}
		again, err := json.Marshal(cf)
		if err != nil {
			t.Fatalf("re-encoding accepted file: %v", err)
		}
		cf2, err := decodeFile(again)
		if err != nil {
			t.Fatalf("re-decoding accepted file: %v", err)
		}
		third, _ := json.Marshal(cf2)
		if !bytes.Equal(again, third) {
			t.Fatalf("round trip differs:\n%s\n%s", again, third)
		}
	})
}

// FuzzParseOSVersion checks that accepted versions print back to an equal version.
func FuzzParseOSVersion(f *testing.F) {
	f.Add("10.0.19045.3803")
	f.Add("10.0.22000")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseOSVersion(s)
		if err != nil {
			return
		}
		w, err := ParseOSVersion(v.String())
		if err != nil || w != v {
			t.Fatalf("round trip of %q: %v → %v, %v", s, v, w, err)
		}
	})
}
