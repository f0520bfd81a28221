package bolt

import (
	"context"
	"fmt"
	"io"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

var _ store.Backuper = (*DB)(nil)

// Backup writes a consistent copy of the database file to w from one read transaction
// (bbolt's Tx.WriteTo): the copy is the database as of the transaction's start, while
// check-ins and admin writes go on. The copy is a complete bbolt file: restore it by
// stopping the server and putting it in place of hellomdm.db. size receives the copy's size
// before the first byte is written.
func (d *DB) Backup(ctx context.Context, w io.Writer, size func(n int64)) (int64, error) {
	var n int64
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backing up: %w", err)
	}
	return n, nil
}
