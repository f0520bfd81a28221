package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI reaches the admin API only through its typed client (server/adminapi/client): no
// file of the command builds an HTTP request by hand.
func TestNoHandBuiltRequests(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("listing the command's files: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"http.NewRequest", "http.Post(", ".Do(req)"} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s uses %s: call the admin API through server/adminapi/client", f, call)
			}
		}
	}
}
