package gpo

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hellomdm/hellomdm/csp"
)

const testTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

func analyzer(t testing.TB) *Analyzer {
	t.Helper()
	a, err := NewAnalyzer(csp.Default())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// zipDir zips a testdata folder as `Compress-Archive -Path folder\*` would (paths relative
// to the folder), optionally renaming every path with rename.
func zipDir(t testing.TB, dir string, rename func(string) string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	root := filepath.Join("testdata", dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(rel)
		if rename != nil {
			name = rename(name)
		}
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fourInputs parses the fixture GPO in each of its four forms.
func fourInputs(t *testing.T) map[string]*Policy {
	t.Helper()
	out := map[string]*Policy{}
	b, err := ParseBackupFS("backup", os.DirFS(filepath.Join("testdata", "backup")))
	if err != nil {
		t.Fatal(err)
	}
	out["backup"] = b
	r, err := Parse("gpreport.xml", readFixture(t, "gpreport.xml"), "")
	if err != nil {
		t.Fatal(err)
	}
	out["gpreport"] = r
	m, err := ParseRegistryPol("registry.pol", Machine, readFixture(t, "registry.pol"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseRegistryPol("user-registry.pol", User, readFixture(t, "user-registry.pol"))
	if err != nil {
		t.Fatal(err)
	}
	out["registry.pol"] = FromEntries(Source{Format: FormatRegPol, File: "registry.pol"}, append(m, u...))
	l, err := Parse("lgpo.txt", readFixture(t, "lgpo.txt"), "")
	if err != nil {
		t.Fatal(err)
	}
	out["lgpo"] = l
	return out
}

func TestFourInputsGiveTheSameRows(t *testing.T) {
	a := analyzer(t)
	in := fourInputs(t)
	want := a.Analyze(in["backup"], testTenant)
	if want.Summary.Settings != 17 {
		t.Fatalf("backup: %d rows, want 17: %+v", want.Summary.Settings, want.Value)
	}
	sortInstr := func(is []Instruction) []Instruction {
		is = slices.Clone(is)
		slices.SortFunc(is, func(a, b Instruction) int {
			return strings.Compare(string(a.Scope)+a.Key+a.ValueName+string(a.Action), string(b.Scope)+b.Key+b.ValueName+string(b.Action))
		})
		return is
	}
	for name, p := range in {
		got := a.Analyze(p, testTenant)
		if !reflect.DeepEqual(got.Value, want.Value) {
			gj, _ := json.MarshalIndent(got.Value, "", " ")
			wj, _ := json.MarshalIndent(want.Value, "", " ")
			t.Errorf("%s: rows differ from the backup's:\n%s\nwant\n%s", name, gj, wj)
		}
		if got.Summary != want.Summary {
			t.Errorf("%s: summary %+v, want %+v", name, got.Summary, want.Summary)
		}
		if !reflect.DeepEqual(sortInstr(got.Instructions), sortInstr(want.Instructions)) {
			t.Errorf("%s: instructions %+v, want %+v", name, got.Instructions, want.Instructions)
		}
	}
	// The zipped backup, with every file and folder name in upper case, reads the same.
	z, err := Parse("backup.zip", zipDir(t, "backup", strings.ToUpper), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Analyze(z, testTenant); !reflect.DeepEqual(got.Value, want.Value) {
		t.Errorf("zipped upper-case backup: rows differ")
	}
	// So does a zip of the Backups folder itself (one top directory).
	z, err = Parse("backups.zip", zipDir(t, "backup", func(s string) string { return "GPO Backups/" + s }), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Analyze(z, testTenant); !reflect.DeepEqual(got.Value, want.Value) || z.Source.GPOName != fixtureGPOName {
		t.Errorf("zipped Backups folder: rows differ or GPO name %q", z.Source.GPOName)
	}
}

// TestGolden compares the backup's report and profile with testdata/golden (go test
// -update rewrites them).
func TestGolden(t *testing.T) {
	a := analyzer(t)
	p, err := ParseBackupFS("backup", os.DirFS(filepath.Join("testdata", "backup")))
	if err != nil {
		t.Fatal(err)
	}
	rep := a.Analyze(p, testTenant)
	if p.Source.GPOName != fixtureGPOName || p.Source.GPOID != fixtureGPOID || p.Source.Format != FormatBackup {
		t.Fatalf("source %+v", p.Source)
	}
	repJSON, _ := json.MarshalIndent(rep, "", "  ")
	prof, err := rep.Profile("WHfB from GPO")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"golden/analyze.json": append(repJSON, '\n'), "golden/profile.json": append(prof, '\n')} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs:\n%s", name, got)
		}
	}
}

func rowFor(t *testing.T, rep Report, scope Scope, valueName string) Row {
	t.Helper()
	for _, r := range rep.Value {
		if r.Scope == scope && strings.EqualFold(r.ValueName, valueName) {
			return r
		}
	}
	t.Fatalf("no %s row for %s in %+v", scope, valueName, rep.Value)
	return Row{}
}

func TestFixtureMapping(t *testing.T) {
	rep := analyzer(t).Analyze(fourInputs(t)["backup"], testTenant)
	pfw := "./Device/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/"
	for _, c := range []struct {
		scope                    Scope
		valueName                string
		support, uri, typ, value string
	}{
		{Machine, "EnablePinRecovery", Supported, pfw + "EnablePinRecovery", "bool", "true"},
		{Machine, "Enabled", Supported, pfw + "UsePassportForWork", "bool", "true"},
		{Machine, "DisablePostLogonProvisioning", Supported, pfw + "DisablePostLogonProvisioning", "bool", "false"},
		{Machine, "RequireSecurityDevice", Supported, pfw + "RequireSecurityDevice", "bool", "true"},
		{Machine, "TPM12", Supported, pfw + "ExcludeSecurityDevices/TPM12", "bool", "true"},
		{Machine, "MinimumPINLength", Supported, pfw + "PINComplexity/MinimumPINLength", "int", "6"},
		// ADMX disabledValue 2 keeps its meaning: not allowed.
		{Machine, "UppercaseLetters", Supported, pfw + "PINComplexity/UppercaseLetters", "int", "2"},
		{Machine, "Digits", Supported, pfw + "PINComplexity/Digits", "int", "1"},
		{Machine, "DisableSmartCardNode", NotSupported, "", "", ""},
		{Machine, "AllowDomainPINLogon", Supported, "./Device/Vendor/MSFT/Policy/Config/CredentialProviders/AllowPINLogon", "chr", "<enabled/>"},
		{Machine, "EnhancedAntiSpoofing", Supported, "./Device/Vendor/MSFT/PassportForWork/Biometrics/FacialFeaturesUseEnhancedAntiSpoofing", "bool", "true"},
		{Machine, "DynamicLock", Supported, "./Device/Vendor/MSFT/PassportForWork/DynamicLock/DynamicLock", "bool", "true"},
		{Machine, "Plugins", Supported, "./Device/Vendor/MSFT/PassportForWork/DynamicLock/Plugins", "chr", dynamicLockRule},
		{Machine, "Banner", Unknown, "", "", ""},
		{User, "Enabled", Supported, "./User/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/UsePassportForWork", "bool", "true"},
		{User, "DisablePostLogonProvisioning", NotSupported, "", "", ""},
		{User, "UseCertificateForOnPremAuth", NotSupported, "", "", ""},
	} {
		r := rowFor(t, rep, c.scope, c.valueName)
		if r.MDMSupport != c.support || r.CSPMapping != c.uri || r.DataType != c.typ || r.Value != c.value {
			t.Errorf("%s %s: got %s %q %s %q, want %s %q %s %q", c.scope, c.valueName, r.MDMSupport, r.CSPMapping, r.DataType, r.Value,
				c.support, c.uri, c.typ, c.value)
		}
		if r.MDMSupport != Unknown && (r.ADMX == "" || r.Setting == "" || r.Source == "") {
			t.Errorf("%s %s: no ADMX source, setting name or CSP source: %+v", c.scope, c.valueName, r)
		}
		if r.MDMSupport == NotSupported && r.Note == "" {
			t.Errorf("%s %s: not supported without a reason", c.scope, c.valueName)
		}
	}
	// Disabled "Maximum PIN length" is a deletion, not a value: no row, one instruction.
	for _, r := range rep.Value {
		if r.ValueName == "MaximumPINLength" {
			t.Errorf("the deleted MaximumPINLength became a row: %+v", r)
		}
	}
	if !slices.Contains(rep.Instructions, Instruction{Scope: Machine, Key: `SOFTWARE\Policies\Microsoft\PassportForWork\PINComplexity`, ValueName: "MaximumPINLength", Action: ActionDelete}) {
		t.Errorf("instructions %+v lack the MaximumPINLength deletion", rep.Instructions)
	}
	if rep.Summary != (Summary{Settings: 17, Supported: 13, NotSupported: 3, Unknown: 1, SupportedPercent: 76}) {
		t.Errorf("summary %+v", rep.Summary)
	}
}

func TestRealGPORules(t *testing.T) {
	a := analyzer(t)
	const p = `SOFTWARE\Policies\Microsoft\PassportForWork`
	cases := []struct {
		name    string
		entries []Entry
		rows    map[string]string // valueName → value ("" = no row expected)
		instr   int
	}{
		{"not configured is absent, never false", []Entry{dw(Machine, p, "EnablePinRecovery", 1)},
			map[string]string{"EnablePinRecovery": "true", "Enabled": "", "RequireSecurityDevice": ""}, 0},
		{"disabled with a disabledValue is false", []Entry{dw(Machine, p, "EnablePinRecovery", 0)},
			map[string]string{"EnablePinRecovery": "false"}, 0},
		{"**del. removes the value before it", []Entry{dw(Machine, p, "EnablePinRecovery", 1), del(Machine, p, "enablepinrecovery")},
			map[string]string{"EnablePinRecovery": ""}, 1},
		{"a value after **del. stays", []Entry{del(Machine, p, "EnablePinRecovery"), dw(Machine, p, "EnablePinRecovery", 1)},
			map[string]string{"EnablePinRecovery": "true"}, 1},
		{"**delvals. clears the key, not other keys", []Entry{dw(Machine, p, "EnablePinRecovery", 1), dw(Machine, p+`\PINComplexity`, "Digits", 1),
			{Scope: Machine, Key: p, Action: ActionDeleteAllValues}},
			map[string]string{"EnablePinRecovery": "", "Digits": "1"}, 1},
		{"halves are apart: a user deletion leaves the machine value", []Entry{dw(Machine, p, "EnablePinRecovery", 1), del(User, p, "EnablePinRecovery")},
			map[string]string{"EnablePinRecovery": "true"}, 1},
		{"out of range is not supported", []Entry{dw(Machine, p+`\PINComplexity`, "MinimumPINLength", 200)},
			map[string]string{"MinimumPINLength": "notSupported"}, 0},
		{"wrong type is not supported", []Entry{sz(Machine, p, "EnablePinRecovery", "1")},
			map[string]string{"EnablePinRecovery": "notSupported"}, 0},
		{"a value the ADMX never writes is not supported", []Entry{dw(Machine, p, "EnablePinRecovery", 7)},
			map[string]string{"EnablePinRecovery": "notSupported"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The same entries through registry.pol and LGPO text.
			pol, err := ParseRegistryPol("t.pol", Machine, EncodeRegistryPol(c.entries))
			if err != nil {
				t.Fatal(err)
			}
			for i := range pol {
				pol[i].Scope = c.entries[min(i, len(c.entries)-1)].Scope
			}
			var lgpo strings.Builder
			for _, e := range c.entries {
				lgpo.WriteString(lgpoText("t.pol", e.Scope, []Entry{e}))
			}
			lg, err := ParseLGPOText("t.txt", []byte(lgpo.String()))
			if err != nil {
				t.Fatal(err)
			}
			for form, entries := range map[string][]Entry{"registry.pol": pol, "lgpo": lg} {
				rep := a.Analyze(FromEntries(Source{}, entries), testTenant)
				if len(rep.Instructions) != c.instr {
					t.Errorf("%s: %d instructions, want %d", form, len(rep.Instructions), c.instr)
				}
				for name, want := range c.rows {
					var found *Row
					for i := range rep.Value {
						if rep.Value[i].Scope == Machine && rep.Value[i].ValueName == name {
							found = &rep.Value[i]
						}
					}
					switch {
					case want == "" && found != nil:
						t.Errorf("%s: unexpected row %+v", form, *found)
					case want == "":
					case found == nil:
						t.Errorf("%s: no row for %s", form, name)
					case want == NotSupported && (found.MDMSupport != NotSupported || found.Note == ""):
						t.Errorf("%s: %s is %s (%s), want notSupported with a reason", form, name, found.MDMSupport, found.Note)
					case want != NotSupported && (found.MDMSupport != Supported || found.Value != want):
						t.Errorf("%s: %s = %s %q, want %q", form, name, found.MDMSupport, found.Value, want)
					}
				}
			}
		})
	}
}

func TestEmptyInputs(t *testing.T) {
	a := analyzer(t)
	// An 8-byte registry.pol (header only) is a valid empty policy.
	empty := readFixture(t, "empty.pol")
	if len(empty) != 8 {
		t.Fatalf("empty.pol is %d bytes", len(empty))
	}
	p, err := Parse("registry.pol", empty, Machine)
	if err != nil {
		t.Fatal(err)
	}
	rep := a.Analyze(p, testTenant)
	if rep.Summary != (Summary{}) || len(rep.Value) != 0 {
		t.Fatalf("empty policy: %+v", rep)
	}
	if _, err := rep.Profile("x"); err == nil {
		t.Fatal("a profile from an empty policy")
	}
	// LGPO's output for it: comments only.
	if p, err := Parse("lgpo.txt", []byte(lgpoText("registry.pol", Machine, nil)), ""); err != nil || len(p.Values) != 0 {
		t.Fatalf("empty LGPO text: %v %+v", err, p)
	}
	// Empty multi-strings stay empty in both forms (and are not [""]).
	ms := Entry{Scope: Machine, Key: `Software\Policies\Contoso`, ValueName: "Hosts", Action: ActionSet, Value: Value{Type: RegMultiSZ, Multi: []string{}}}
	for _, raw := range [][]byte{EncodeRegistryPol([]Entry{ms}), append(EncodeRegistryPol(nil), EncodeRegistryPol([]Entry{ms})[8:]...)} {
		es, err := ParseRegistryPol("m.pol", Machine, raw)
		if err != nil || len(es) != 1 || es[0].Value.Multi == nil || len(es[0].Value.Multi) != 0 || es[0].Value.Data() != "[]" {
			t.Fatalf("empty multi-string from registry.pol: %v %+v", err, es)
		}
	}
	es, err := ParseLGPOText("m.txt", []byte("Computer\nSoftware\\Policies\\Contoso\nHosts\nMULTISZ:\n"))
	if err != nil || len(es) != 1 || es[0].Value.Multi == nil || len(es[0].Value.Multi) != 0 {
		t.Fatalf("empty multi-string from LGPO: %v %+v", err, es)
	}
	es, err = ParseLGPOText("m.txt", []byte("Computer\nSoftware\\Policies\\Contoso\nHosts\nMULTISZ:a\\0b\n"))
	if err != nil || !reflect.DeepEqual(es[0].Value.Multi, []string{"a", "b"}) {
		t.Fatalf("multi-string from LGPO: %v %+v", err, es)
	}
}

func TestParseErrorsNameFileAndOffset(t *testing.T) {
	good := readFixture(t, "registry.pol")
	for _, c := range []struct {
		name, file string
		data       []byte
		parse      func(string, []byte) error
		want       string
	}{
		{"truncated header", "Machine/registry.pol", good[:6], polParse, "Machine/registry.pol: byte 6: truncated header"},
		{"bad signature", "registry.pol", append([]byte("RegP"), good[4:]...), polParse, "registry.pol: byte 0: signature"},
		{"bad version", "registry.pol", append(append([]byte{}, good[:4]...), 2, 0, 0, 0), polParse, "registry.pol: byte 4: version 2"},
		{"truncated entry", "registry.pol", good[:len(good)-1], polParse, "registry.pol: byte "},
		{"truncated data", "registry.pol", good[:120], polParse, "registry.pol: byte "},
		{"lgpo short record", "lgpo.txt", []byte("Computer\nSOFTWARE\\Policies\\Microsoft\\PassportForWork\nEnablePinRecovery\n\nComputer\n"), lgpoParse,
			"lgpo.txt: line 4: record starting on line 1 has 3 of 4 lines"},
		{"lgpo truncated record", "lgpo.txt", []byte("Computer\nSOFTWARE\\Policies\\Microsoft\\PassportForWork\nEnablePinRecovery"), lgpoParse, "lgpo.txt: line 3: truncated"},
		{"lgpo bad action", "lgpo.txt", []byte("; c\n\nComputer\nK\nV\nDWORD:x\n"), lgpoParse, "lgpo.txt: line 6: DWORD"},
		{"lgpo bad scope", "lgpo.txt", []byte("Machine\nK\nV\nDWORD:1\n"), lgpoParse, "lgpo.txt: line 1: configuration"},
		{"gpreport truncated", "gpreport.xml", utf16LEWithBOM(fixtureReportXML()[:900]), reportParse, "gpreport.xml: line "},
		{"gpreport odd length", "gpreport.xml", readFixture(t, "gpreport.xml")[:1001], reportParse, "gpreport.xml: byte 1000: UTF-16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(c.file, c.data)
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want a *ParseError starting %q", err, c.want)
			}
		})
	}
	// A backup whose registry.pol is cut names the file inside the backup.
	files := fstest.MapFS{}
	for name, data := range fixtureFiles() {
		if rest, ok := strings.CutPrefix(name, "backup/"); ok {
			files[rest] = &fstest.MapFile{Data: data}
		}
	}
	polPath := fixtureBackupID + "/DomainSysvol/GPO/User/registry.pol"
	files[polPath] = &fstest.MapFile{Data: files[polPath].Data[:30]}
	_, err := ParseBackupFS("backup", files)
	if err == nil || !strings.HasPrefix(err.Error(), "backup/"+polPath+": byte ") {
		t.Fatalf("cut backup: %v", err)
	}
	if _, err := Parse("notes.txt", []byte("hello"), ""); err == nil || !strings.Contains(err.Error(), "notes.txt: byte 0: not a GPMC backup") {
		t.Fatalf("unrecognised input: %v", err)
	}
}

func polParse(file string, data []byte) error {
	_, err := ParseRegistryPol(file, Machine, data)
	return err
}
func lgpoParse(file string, data []byte) error { _, err := ParseLGPOText(file, data); return err }
func reportParse(file string, data []byte) error {
	_, err := ParseReport(file, data)
	return err
}

func TestTableMatchesCatalog(t *testing.T) {
	cat := csp.Default()
	if _, err := NewAnalyzer(cat); err != nil {
		t.Fatal(err)
	}
	// Every ADMX policy value and element has a mapping row, so no WHfB policy is unknown.
	for _, p := range admxPolicies {
		if p.valueName != "" {
			if _, ok := byRegistry[regIndex(p.key, p.valueName)]; !ok {
				t.Errorf("%s %s: %s!%s has no mapping row", p.file, p.name, p.key, p.valueName)
			}
		}
		for _, e := range p.elements {
			if _, ok := byRegistry[regIndex(e.keyOf(&p), e.valueName)]; !ok {
				t.Errorf("%s %s: element %s!%s has no mapping row", p.file, p.name, e.keyOf(&p), e.valueName)
			}
		}
		if p.valueName == "" && len(p.elements) == 0 {
			t.Errorf("%s %s writes nothing", p.file, p.name)
		}
	}
	for _, m := range mappings {
		if m.doc == "" || (m.node == "") == (m.notSupported == "") {
			t.Errorf("%s!%s: needs a doc and exactly one of node or notSupported", m.key, m.valueName)
		}
	}
	// A table pointing at a node the catalog lacks is refused.
	small, err := csp.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAnalyzer(small); err == nil {
		t.Fatal("analyzer accepted a catalog without the PassportForWork nodes")
	}
}

func TestUnknownReportPolicy(t *testing.T) {
	xmlText := strings.Replace(fixtureReportXML(), "<q1:Name>Use PIN Recovery</q1:Name>", "<q1:Name>Utiliser la récupération du code PIN</q1:Name>", 1)
	p, err := ParseReport("gpreport.xml", utf16LEWithBOM(xmlText))
	if err != nil {
		t.Fatal(err)
	}
	rep := analyzer(t).Analyze(p, testTenant)
	var found bool
	for _, r := range rep.Value {
		if r.Setting == "Utiliser la récupération du code PIN" {
			found = r.MDMSupport == Unknown && r.Key == "" && r.Note != ""
		}
		if r.ValueName == "EnablePinRecovery" {
			t.Errorf("an unrecognised policy produced a value: %+v", r)
		}
	}
	if !found {
		t.Errorf("the unrecognised policy is not an unknown row: %+v", rep.Value)
	}
}

// A half the GPO's status disables is reported but not imported, from a backup (Backup.xml
// Options 1: user settings disabled) and from a gpreport (User Enabled false) alike.
func TestDisabledHalfIsNotImported(t *testing.T) {
	a := analyzer(t)
	files := fstest.MapFS{}
	for name, data := range fixtureFiles() {
		if rest, ok := strings.CutPrefix(name, "backup/"); ok {
			files[rest] = &fstest.MapFile{Data: data}
		}
	}
	scheme := fixtureBackupID + "/Backup.xml"
	files[scheme] = &fstest.MapFile{Data: []byte(strings.Replace(backupXML, "<Options><![CDATA[0]]></Options>", "<Options><![CDATA[1]]></Options>", 1))}
	fromBackup, err := ParseBackupFS("backup", files)
	if err != nil {
		t.Fatal(err)
	}
	report := strings.Replace(fixtureReportXML(), "<User>\r\n    <VersionDirectory>3</VersionDirectory>\r\n    <VersionSysvol>3</VersionSysvol>\r\n    <Enabled>true</Enabled>",
		"<User>\r\n    <VersionDirectory>3</VersionDirectory>\r\n    <VersionSysvol>3</VersionSysvol>\r\n    <Enabled>false</Enabled>", 1)
	fromReport, err := ParseReport("gpreport.xml", utf16LEWithBOM(report))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*Policy{"backup": fromBackup, "gpreport": fromReport} {
		if !reflect.DeepEqual(p.Disabled, []Scope{User}) {
			t.Fatalf("%s: disabled halves %v, want [user]", name, p.Disabled)
		}
		rep := a.Analyze(p, testTenant)
		if r := rowFor(t, rep, User, "Enabled"); !strings.Contains(r.Note, "User Configuration settings are disabled") {
			t.Errorf("%s: user row note %q", name, r.Note)
		}
		if r := rowFor(t, rep, Machine, "EnablePinRecovery"); r.Note != "" || r.MDMSupport != Supported {
			t.Errorf("%s: machine row %+v", name, r)
		}
		prof, err := rep.Profile("x")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(prof), "./User/") || !strings.Contains(string(prof), "EnablePinRecovery") {
			t.Errorf("%s: profile %s", name, prof)
		}
	}
}

// The package stays below server and store: from this module it imports csp only (so a
// GPO can be analysed without a database, and rebases of server or store never touch it).
func TestImportsCSPOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, "github.com/hellomdm/hellomdm/") && p != "github.com/hellomdm/hellomdm/csp" {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
