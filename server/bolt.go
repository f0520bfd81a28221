package server

import (
	"context"
	"github.com/hellomdm/hellomdm/store/core"
	"path/filepath"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
)

// DatabaseFile is the bbolt database inside the data directory.
const DatabaseFile = "hellomdm.db"

func openBolt(_ context.Context, dir string) (store.Store, error) {
	return core.OpenBolt(filepath.Join(dir, DatabaseFile), bolt.Options{})
}
