package server

import (
	"context"
	"fmt"
	"github.com/hellomdm/hellomdm/store/core"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/syncml"
)

// BenchmarkCheckinMessage measures one full client message through the engine, as the HTTP
// handler runs it minus TLS: parse, one durable bbolt transaction (device, session, queue),
// build the reply. Each iteration is a package-1 message of a new session of one of 1,000
// devices, half of which have commands queued (one goes out per session), with 64 messages
// in flight so that bbolt groups commits as it does under load.
func BenchmarkCheckinMessage(b *testing.B) {
	st, err := core.OpenBolt(b.TempDir()+"/bench.db", bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchCheckinMessage(b, st)
}

// BenchmarkCheckinMessagePostgres is BenchmarkCheckinMessage on PostgreSQL (a fresh schema
// on HELLOMDM_TEST_POSTGRES; skipped without it): cpu-µs/msg is this process's CPU per
// message, what a server replica spends, without the database's own.
func BenchmarkCheckinMessagePostgres(b *testing.B) {
	pg := testpg.NewStore(b)
	st, err := core.OpenPostgres(context.Background(), pg.DSN, postgres.Options{EncryptionKey: pg.Key})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchCheckinMessage(b, st)
}

func benchCheckinMessage(b *testing.B, st *core.Store) {
	ctx := context.Background()
	const devices = 1000
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032X", i+1)
	}
	registerDevices(b, st, ids)
	// Metrics wired as New wires them: the store reports transactions and audit events, the
	// engine sessions, and each message is counted and timed as the HTTP handler does.
	metrics := NewMetrics(st, nil)
	st.SetObserver(metrics)
	eng := omadm.NewEngine(omadm.Config{ServerURL: "https://mdm.contoso.com/ManagementServer/MDM.svc", Sessions: metrics}, st, nil)
	var session atomic.Int64
	body := func(id string) []byte {
		h := syncml.Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: fmt.Sprint(session.Add(1)), MsgID: "1", Target: "https://mdm.contoso.com/ManagementServer/MDM.svc", Source: id,
			Meta: &syncml.Meta{MaxMsgSize: 65536}}
		bl := syncml.NewBuilder(h, 2)
		bl.Alert(syncml.AlertClientInitiated)
		bl.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeLoginStatus}, Data: "user"})
		bl.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{
			{Source: "./DevInfo/DevId", Data: id}, {Source: "./DevInfo/Man", Data: "Contoso Ltd."}, {Source: "./DevInfo/Mod", Data: "Surface Laptop 5"},
			{Source: "./DevInfo/DmV", Data: "1.3"}, {Source: "./DevInfo/Lang", Data: "en-US"}, {Source: "./Vendor/MSFT/DMClient/HWDevID", Data: strings.Repeat("AB", 32)},
		}})
		raw, err := bl.Bytes(true)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	var queued []store.Command
	for i, id := range ids {
		if i%2 == 0 {
			for j := 0; j < 8; j++ {
				queued = append(queued, store.Command{TenantID: testTenant, DeviceID: id, State: store.CommandQueued, Payload: store.Payload{Verb: syncml.VerbReplace,
					Items: []store.Item{{Target: pinRecovery, Meta: &store.Meta{Format: "bool"}, Data: "true"}}}})
			}
		}
	}
	if err := st.Enqueue(ctx, queued...); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32) // 64 devices in flight on 2 cores, as under load
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1)) % devices
			id := ids[i]
			t0 := time.Now()
			raw := body(id)
			msg, err := syncml.Parse(raw)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := eng.Handle(ctx, omadm.Request{DeviceID: id, CertSerial: "AB", Body: raw, Message: msg}); err != nil {
				b.Error(err)
				return
			}
			metrics.checkin(outcomeOK, time.Since(t0))
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	// CPU time per message (user + system, whole process) is steadier than msgs/s on a
	// machine shared with other work, where fsync latency and scheduling dominate wall time.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
}

// processCPU is the user + system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// registerDevices enrolls ids concurrently so that bbolt groups the commits: setup stays
// seconds, not minutes, with fsync on.
func registerDevices(b *testing.B, st store.Store, ids []string) {
	b.Helper()
	const workers = 64
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		fail = make(chan error, 1)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if _, err := st.RegisterDevice(context.Background(), store.Device{ID: ids[i], TenantID: testTenant, State: store.DeviceEnrolled, CertSerial: "AB"}); err != nil {
					select {
					case fail <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-fail:
		b.Fatal(err)
	default:
	}
}

// BenchmarkCheckinRSS100k measures the process's resident memory with 100,000 enrolled
// devices in a bbolt file (fsync on), reopened as a restarted server would (open-rss-MB), then
// after check-ins spread over all of them (rss-MB): bbolt maps the file, so RSS counts the
// pages touched, and neither opening the store nor the check-in path may load every device. Setup registers the devices through the store (about a minute on 2 cores), so run
// it alone: go test -run '^$' -bench CheckinRSS100k -benchtime 5000x ./server
func BenchmarkCheckinRSS100k(b *testing.B) {
	path := b.TempDir() + "/rss.db"
	st, err := core.OpenBolt(path, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const devices = 100_000
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032X", i+1)
	}
	registerDevices(b, st, ids)
	// Measure a restarted server: what opening the file touches counts, as it does in
	// production (a full-file scan on open once put every page in RSS).
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	if st, err = core.OpenBolt(path, bolt.Options{}); err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	openRSS := procStatusKB(b, "VmRSS:")
	eng := omadm.NewEngine(omadm.Config{ServerURL: "https://mdm.contoso.com/ManagementServer/MDM.svc"}, st, nil)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			id := ids[(i*7919)%devices] // spread over the whole key space
			h := syncml.Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: fmt.Sprint(i), MsgID: "1", Target: "https://mdm.contoso.com/ManagementServer/MDM.svc", Source: id}
			bl := syncml.NewBuilder(h, 2)
			bl.Alert(syncml.AlertClientInitiated)
			raw, err := bl.Bytes(true)
			if err != nil {
				b.Error(err)
				return
			}
			msg, err := syncml.Parse(raw)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := eng.Handle(ctx, omadm.Request{DeviceID: id, CertSerial: "AB", Body: raw, Message: msg}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	rss, hwm := procStatusKB(b, "VmRSS:"), procStatusKB(b, "VmHWM:")
	b.ReportMetric(float64(openRSS)/1024, "open-rss-MB")
	b.ReportMetric(float64(rss)/1024, "rss-MB")
	b.ReportMetric(float64(hwm)/1024, "peak-rss-MB")
}

// procStatusKB reads one kB field of /proc/self/status (Linux); the benchmark skips elsewhere.
func procStatusKB(b *testing.B, field string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatalf("parsing %s %q: %v", field, rest, err)
			}
			return kb
		}
	}
	b.Fatalf("%s not in /proc/self/status", field)
	return 0
}
