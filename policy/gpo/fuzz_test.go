package gpo

import (
	"errors"
	"reflect"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
)

// The parsers read files admins upload: any input gives a policy or a *ParseError, never a
// panic, and an accepted registry.pol written back parses to the same entries.

func FuzzParseRegistryPol(f *testing.F) {
	f.Add(readFixture(f, "registry.pol"))
	f.Add(readFixture(f, "user-registry.pol"))
	f.Add(readFixture(f, "empty.pol"))
	f.Add(EncodeRegistryPol([]Entry{{Scope: Machine, Key: `K`, ValueName: "M", Action: ActionSet, Value: Value{Type: RegMultiSZ, Multi: []string{}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseRegistryPol("registry.pol", Machine, data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "registry.pol" || pe.Offset < 0 || pe.Offset > int64(len(data)) {
				t.Fatalf("error %v is not a *ParseError within the file", err)
			}
			return
		}
		again, err := ParseRegistryPol("again.pol", Machine, EncodeRegistryPol(es))
		if err != nil {
			t.Fatalf("re-encoded entries do not parse: %v", err)
		}
		if len(again) != len(es) {
			t.Fatalf("re-parse: %d entries, want %d", len(again), len(es))
		}
		a, _ := NewAnalyzer(csp.Default())
		_ = a.Analyze(FromEntries(Source{}, es), "")
	})
}

func FuzzParseLGPOText(f *testing.F) {
	f.Add(readFixture(f, "lgpo.txt"))
	f.Add([]byte("Computer\nK\n*\nDELETEALLVALUES\n"))
	f.Add([]byte("User\nK\nV\nMULTISZ:a\\0b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseLGPOText("lgpo.txt", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "lgpo.txt" {
				t.Fatalf("error %v is not a *ParseError naming the file", err)
			}
			return
		}
		for _, e := range es {
			if e.Scope != Machine && e.Scope != User {
				t.Fatalf("entry without a half: %+v", e)
			}
		}
	})
}

func FuzzParseReport(f *testing.F) {
	f.Add(readFixture(f, "gpreport.xml"))
	f.Add([]byte(fixtureReportXML()))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseReport("gpreport.xml", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "gpreport.xml" {
				t.Fatalf("error %v is not a *ParseError naming the file", err)
			}
			return
		}
		a, _ := NewAnalyzer(csp.Default())
		rep := a.Analyze(p, "")
		if rep.Summary.Settings != len(rep.Value) {
			t.Fatalf("summary %+v for %d rows", rep.Summary, len(rep.Value))
		}
	})
}

// FuzzParse drives the content sniffing, the zip reader and the backup layout.
func FuzzParse(f *testing.F) {
	f.Add(zipDir(f, "backup", nil))
	f.Add(readFixture(f, "registry.pol"))
	f.Add(readFixture(f, "lgpo.txt"))
	f.Add(readFixture(f, "gpreport.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("upload", data, User)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if p.Source.Format == "" || reflect.ValueOf(p.Values).Kind() != reflect.Slice {
			t.Fatalf("policy without a format: %+v", p.Source)
		}
	})
}
