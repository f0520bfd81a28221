package adminapi

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestOpenAPIGolden holds the OpenAPI document to testdata/openapi.golden.json. The document
// is built from the types the handlers take and encode, so a property renamed, dropped,
// added or made optional, or a schema renamed, shows as a diff here: the wire format changed.
// When that is meant, run go test ./server/adminapi -run TestOpenAPIGolden -update and
// review the diff.
func TestOpenAPIGolden(t *testing.T) {
	got := append(openAPIJSON(), '\n')
	path := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the OpenAPI document differs from %s (the admin API's wire format changed); if that is meant, run with -update and review the diff", path)
	}
}
