package audit

import (
	"io"
	"runtime"
	"testing"
	"time"
)

func BenchmarkSeal(b *testing.B) {
	e0 := sampleEvent(1, "tenant-a", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	var head Anchor
	b.ReportAllocs()
	for b.Loop() {
		e := e0
		if err := SealAfter(head, &e); err != nil {
			b.Fatal(err)
		}
		head = e.Head()
	}
}

func BenchmarkVerify(b *testing.B) {
	chain := sealedChain(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(b.Context(), NewSliceIterator(chain)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(chain))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

const benchEvents = 1_000_000

// benchExport streams benchEvents generated events (64 sealed templates
// with a running Seq, so nothing is held in memory) through an exporter to
// io.Discard, and reports throughput and how far the heap grew above its
// level at the start, sampled every 50,000 events.
func benchExport(b *testing.B, f Format) {
	templates := sealedChain(b, 64)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	b.ReportAllocs()
	for b.Loop() {
		x, err := NewExporter(io.Discard, f)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < benchEvents; i++ {
			e := &templates[i&63]
			e.Seq = uint64(i + 1)
			if err := x.Write(e); err != nil {
				b.Fatal(err)
			}
			if i%50_000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(peak-base)/1024, "heap-growth-KiB")
}

func BenchmarkExportCSV(b *testing.B)    { benchExport(b, FormatCSV) }
func BenchmarkExportNDJSON(b *testing.B) { benchExport(b, FormatNDJSON) }
func BenchmarkExportJSON(b *testing.B)   { benchExport(b, FormatJSON) }
