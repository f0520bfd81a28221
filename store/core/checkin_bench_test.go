package core_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
)

// benchCheckinParallel measures the check-in hot path of a store: each check-in locks the
// device, reads it, a session and HasPending, and writes the session with a 512-byte stored
// reply; parallelism × GOMAXPROCS goroutines check in at once, over devices devices.
func benchCheckinParallel(b *testing.B, st store.Store, devices, parallelism int) {
	ctx := b.Context()
	var wg sync.WaitGroup
	for i := range devices {
		wg.Go(func() {
			if _, err := st.RegisterDevice(ctx, store.Device{ID: fmt.Sprintf("dev-%04d", i), TenantID: "t1",
				CertSerial: fmt.Sprintf("%04X", i), Nodes: map[string]string{"./DevDetail/SwV": "10.0.26100.1"}}); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("dev-%04d", next.Add(1)%int64(devices))
			err := st.Checkin(ctx, id, func(tx store.DeviceTx) error {
				if _, err := tx.Device(); err != nil {
					return err
				}
				s, err := tx.Session("1")
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if _, err := tx.HasPending(); err != nil {
					return err
				}
				s.SessionID = "1"
				s.ClientMsgID++
				s.LastReply = make([]byte, 512)
				return tx.PutSession(s)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkins/s")
}

// BenchmarkCheckinParallel: on bbolt, 128 × GOMAXPROCS check-ins at once over 4,096 devices
// (many devices check in at once, as on a server, sharing commits); on PostgreSQL, 16 ×
// GOMAXPROCS over 1,024 devices (about one per connection).
func BenchmarkCheckinParallel(b *testing.B) {
	b.Run("bolt", func(b *testing.B) { benchCheckinParallel(b, openBolt(b), 4096, 128) })
	b.Run("postgres", func(b *testing.B) {
		benchCheckinParallel(b, openPostgres(b, testpg.Schema(b), testpg.Key(b)), 1024, 16)
	})
}
