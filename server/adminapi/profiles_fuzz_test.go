package adminapi

import (
	"encoding/json"
	"testing"
)

// FuzzProfileDocument feeds request bodies to the helpers that read a profile before the
// policy parser does (which has its own fuzz target): they must not panic, and a merge patch
// that succeeds yields JSON whose server-owned fields strip cleanly.
func FuzzProfileDocument(f *testing.F) {
	f.Add([]byte(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[]}`), []byte(`{"description":null,"version":3}`))
	f.Add([]byte(`{"settings":[],"name":"n","id":"1"}`), []byte(`{"name":"m"}`))
	f.Fuzz(func(t *testing.T, stored, patch []byte) {
		_ = peekKind(stored)
		if _, err := stripServerFields(stored); err != nil && json.Valid(stored) && len(stored) > 0 && stored[0] == '{' {
			t.Errorf("strip refused a JSON object: %v", err)
		}
		merged, err := mergePatch(stored, patch)
		if err != nil {
			return
		}
		if !json.Valid(merged) {
			t.Fatalf("merge produced invalid JSON %q", merged)
		}
		if _, err := stripServerFields(merged); err != nil {
			t.Errorf("strip of a merge result: %v", err)
		}
	})
}
