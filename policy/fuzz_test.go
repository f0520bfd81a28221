package policy

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
)

// FuzzParseProfile checks that any input gives a profile or a *ValidationError, never a panic,
// and that an accepted profile's settings parse again to the same result.
func FuzzParseProfile(f *testing.F) {
	p := NewParser(csp.Default())
	for _, name := range []string{"catalog_pin_recovery.json", "custom_websignin.json", "bad_duplicate.json", "bad_policy_passport_path.json"} {
		f.Add(readProfile(f, name))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		prof, err := p.ParseProfile(raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			return
		}
		if len(prof.Settings) == 0 || !json.Valid(prof.Raw) {
			t.Fatalf("accepted profile without settings or with invalid Raw")
		}
		again, err := p.ParseProfile(prof.Raw)
		if err != nil || len(again.Settings) != len(prof.Settings) {
			t.Fatalf("re-parse: %v", err)
		}
		for i := range again.Settings {
			if again.Settings[i] != prof.Settings[i] {
				t.Fatalf("re-parse setting %d differs", i)
			}
		}
	})
}

// FuzzParseAssignments checks the assignment parser the same way.
func FuzzParseAssignments(f *testing.F) {
	f.Add([]byte(`{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g1"}}]}`))
	f.Add([]byte(`{"value":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		as, err := ParseAssignments(raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			return
		}
		out, err := MarshalAssignments(as)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseAssignments(out)
		if err != nil || len(again) != len(as) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
