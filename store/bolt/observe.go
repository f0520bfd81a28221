package bolt

import (
	"time"

	"github.com/hellomdm/hellomdm/store"
)

var _ store.Observable = (*DB)(nil)

// SetObserver makes the store report its write transactions and committed audit events to o
// (metrics). Call it before the store is used concurrently.
func (d *DB) SetObserver(o store.Observer) { d.obs = o }

// publish hands sealed events back to their callers once their transaction committed, and
// reports them.
func (d *DB) publish(sealed []sealedEvent) {
	copyBack(sealed)
	if d.obs != nil {
		for _, s := range sealed {
			d.obs.AuditAppended(s.dst)
		}
	}
}

// observeTx reports a write transaction that started at start.
func (d *DB) observeTx(start time.Time, err error) {
	if d.obs != nil {
		d.obs.WriteTx(time.Since(start), err)
	}
}
