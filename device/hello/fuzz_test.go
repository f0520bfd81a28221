package hello

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzDecodeFile feeds arbitrary bytes to the container file decoder: it must never panic,
// must reject with ErrCorrupt, must never accept a negative failed-attempt counter or an
// unknown protector label version, and
// whatever it accepts must survive encode → decode.
func FuzzDecodeFile(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"hellomdm-ngc-container","version":1}`))
	f.Add([]byte(`{"format":"hellomdm-ngc-container","version":1,"failedPinAttempts":-1}`))
	if old, err := os.ReadFile("testdata/container_without_attempts.json"); err == nil {
		f.Add(old) // a version 1 protector, without labelVersion
		f.Add(bytes.Replace(old, []byte(`"tenantId"`), []byte(`"labelVersion":2,"tenantId"`), 1))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := decodeFile(data)
		switch {
		case errors.Is(err, ErrCorrupt):
			return // refused as it must be
		case err != nil:
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if cf.FailedPINAttempts < 0 {
			t.Fatalf("accepted %d failed PIN attempts", cf.FailedPINAttempts)
		}
		if r := cf.Reset; r != nil && (r.labelVersion() < 1 || r.labelVersion() > ProtectorLabelVersion) {
			t.Fatalf("accepted protector label version %d", r.LabelVersion)
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
