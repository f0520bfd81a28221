package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
)

// openAtFormat writes a bbolt database stamped with format version, holding what seed puts
// (records as that version stored them), then opens it with the store, which migrates it to
// FormatVersion: the migration tests' common start. The store closes when the test ends.
func openAtFormat(t *testing.T, version uint64, seed func(tx kv.Tx) error) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", version))
	b, err := bolt.OpenKV(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = b.EnsureBuckets(t.Context(), allBuckets...)
	if err == nil {
		err = b.Update(t.Context(), func(tx kv.Tx) error {
			return errors.Join(tx.Put(bMeta, metaSchema, binary.BigEndian.AppendUint64(nil, version)), seed(tx))
		})
	}
	if err := errors.Join(err, b.Close()); err != nil {
		t.Fatal(err)
	}
	s, err := OpenBolt(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
