package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
)

// BenchmarkRecordPush is the cost of one of a push hub's state writes (docs/push.md,
// Visibility): a second's worth of a 10,000-device fan-out paced at 1,000 wake-ups a second
// (1,000 wake-ups of devices whose records exist), or 1,000 channels connecting at once.
// One op is one RecordPush of 1,000 records.
func BenchmarkRecordPush(b *testing.B) {
	backends := map[string]func(b *testing.B) store.Store{
		"bolt":     func(b *testing.B) store.Store { return openBolt(b) },
		"postgres": func(b *testing.B) store.Store { return openPostgres(b, testpg.Schema(b), testpg.Key(b)) }, // skips without a DSN
	}
	const n = 1000
	for _, name := range []string{"bolt", "postgres"} {
		b.Run(name+"/wakes", func(b *testing.B) {
			s := backends[name](b)
			at := time.Now()
			for i := 0; b.Loop(); i++ {
				wakes := make([]store.PushWake, n)
				for j := range wakes {
					wakes[j] = store.PushWake{DeviceID: fmt.Sprintf("dev-%05d", j), TenantID: "t1", Replica: "r1",
						At: at.Add(time.Duration(i) * time.Millisecond), Reason: "policy", Channel: "builtin", Result: "delivered"}
				}
				if err := s.RecordPush(context.Background(), nil, wakes); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/connects", func(b *testing.B) {
			s := backends[name](b)
			at := time.Now()
			for i := 0; b.Loop(); i++ {
				chans := make([]store.PushChannelChange, n)
				for j := range chans {
					chans[j] = store.PushChannelChange{DeviceID: fmt.Sprintf("dev-%05d", j), TenantID: "t1", Replica: "r1", Connected: true,
						Since: at.Add(time.Duration(i) * time.Millisecond)}
				}
				if err := s.RecordPush(context.Background(), chans, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
