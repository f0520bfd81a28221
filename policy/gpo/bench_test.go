package gpo

import "testing"

// BenchmarkParseAnalyze: one upload of the fixture GPMC backup (zip) parsed and analysed,
// as POST .../groupPolicy/analyze does it.
func BenchmarkParseAnalyze(b *testing.B) {
	a := analyzer(b)
	z := zipDir(b, "backup", nil)
	b.SetBytes(int64(len(z)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse("backup.zip", z, Machine)
		if err != nil {
			b.Fatal(err)
		}
		if rep := a.Analyze(p, testTenant); rep.Summary.Settings != 17 {
			b.Fatalf("%d settings", rep.Summary.Settings)
		}
	}
}
