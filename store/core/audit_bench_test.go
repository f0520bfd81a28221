package core_test

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store/core"
)

// benchEvent is a typical event: a command delivered to a device, with small Details.
func benchEvent(tenantID string, i int, tm time.Time) *audit.Event {
	dev := fmt.Sprintf("DEV%029d", i%5000)
	return &audit.Event{
		ID: fmt.Sprintf("0195a1b2-c3d4-7e5f-8a9b-%012d", i), Time: tm, TenantID: tenantID, Kind: audit.KindCommandDelivered,
		Actor:   audit.Actor{Type: audit.ActorDevice, ID: dev, SourceAddr: "192.0.2.10"},
		Subject: audit.Subject{Type: audit.SubjectCommand, ID: fmt.Sprintf("cmd-%d", i)}, DeviceID: dev,
		Action: "status", Details: []byte(`{"cmdId":"7","status":200,"locUri":"./Device/Vendor/MSFT/PassportForWork/tenant/Policies/EnablePinRecovery"}`),
	}
}

// BenchmarkAuditAppend appends single events from many goroutines, spread over 8 tenants,
// as server code paths do (bbolt groups concurrent appends into one commit).
func BenchmarkAuditAppend(b *testing.B) {
	db := openBolt(b)
	base := time.Now()
	var next atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if err := db.AppendAudit(b.Context(), benchEvent(fmt.Sprintf("t%d", i%8), i, base)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// exportEvents is the size of the log BenchmarkExportCSV1M streams.
const exportEvents = 1_000_000

// BenchmarkExportCSV1M streams a 1,000,000-event tenant log from the store core over bbolt
// (bolt.KV) to CSV through the store's audit.Reader and the audit exporter, as the export
// API does (store/bolt has the same benchmark for bolt.DB). heap-growth-KiB is the peak
// HeapInuse (sampled every 50,000 events) above the level before the export; rss-MiB is the
// process's peak RSS reported by the OS (including the setup, which holds one batch).
func BenchmarkExportCSV1M(b *testing.B) {
	db := exportLog(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	cpu0 := cpuTime()
	for b.Loop() {
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		exp, err := audit.NewExporter(io.Discard, audit.FormatCSV)
		if err != nil {
			b.Fatal(err)
		}
		sampler := &heapSampler{Exporter: exp, base: before.HeapInuse}
		n, err := audit.Export(ctx, db.AuditReader(), "t1", audit.Filter{}, sampler)
		if err != nil {
			b.Fatal(err)
		}
		if n != exportEvents {
			b.Fatalf("exported %d events, want %d", n, exportEvents)
		}
		peak = max(peak, sampler.peak)
	}
	b.ReportMetric(float64(exportEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(peak)/1024, "heap-growth-KiB")
	if rss, ok := peakRSS(); ok {
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	}
}

// BenchmarkExportCSV1MFiltered exports from the log of BenchmarkExportCSV1M the events of
// one device (200 of the 1,000,000), then those of one actor in a time window: the filter is
// applied while scanning (auditread.go), so events/s counts the stored events scanned.
func BenchmarkExportCSV1MFiltered(b *testing.B) {
	db := exportLog(b)
	dev := benchEvent("t1", 42, time.Time{}).DeviceID
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		filter audit.Filter
		want   uint64
	}{
		{"Device", audit.Filter{DeviceID: dev}, exportEvents / 5000},
		{"ActorInWindow", audit.Filter{ActorID: dev, From: base, To: base.Add(500 * time.Second)}, 100},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				exp, err := audit.NewExporter(io.Discard, audit.FormatCSV)
				if err != nil {
					b.Fatal(err)
				}
				n, err := audit.Export(b.Context(), db.AuditReader(), "t1", tc.filter, exp)
				if err != nil {
					b.Fatal(err)
				}
				if n != tc.want {
					b.Fatalf("exported %d events, want %d", n, tc.want)
				}
			}
			b.ReportMetric(float64(exportEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// exportLog returns a store holding the 1,000,000 events of tenant t1 the export benchmarks
// read, appended in batches of 20,000, one millisecond apart.
func exportLog(b *testing.B) *core.Store {
	db := openBolt(b)
	ctx := b.Context()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 20_000
	evs := make([]*audit.Event, 0, batch)
	for i := range exportEvents {
		evs = append(evs, benchEvent("t1", i, base.Add(time.Duration(i)*time.Millisecond)))
		if len(evs) == batch {
			if err := db.AppendAudit(ctx, evs...); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	runtime.GC()
	return db
}

// heapSampler passes events to an Exporter and samples HeapInuse every 50,000 events.
type heapSampler struct {
	audit.Exporter
	base, peak uint64
	n          int
}

func (h *heapSampler) Write(e *audit.Event) error {
	h.n++
	if h.n%50_000 == 0 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > h.base {
			h.peak = max(h.peak, m.HeapInuse-h.base)
		}
	}
	return h.Exporter.Write(e)
}

// cpuTime returns the CPU time (user and system) the process has used: on a shared machine
// it varies less with the load than the wall-clock time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads the process's peak resident set size (VmHWM) on Linux.
func peakRSS() (uint64, bool) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib << 10, err == nil
		}
	}
	return 0, false
}
