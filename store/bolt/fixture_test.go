package bolt_test

import (
	"github.com/hellomdm/hellomdm/store/core"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/storetest"
)

// TestFixtureV1 opens a copy of the bbolt file written by the release before the store
// redesign (store/testdata/v1) and checks it holds what its manifest lists.
func TestFixtureV1(t *testing.T) {
	m, err := storetest.LoadFixtureV1("../testdata/v1/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../testdata/v1/hellomdm-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hellomdm.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := core.OpenBolt(path, bolt.Options{Now: func() time.Time { return m.Now }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	storetest.RunFixtureV1(t, db, m)
}
