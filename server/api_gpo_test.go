package server

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// gpoFixture reads a file of the Group Policy fixtures (one GPO in four forms).
func gpoFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "policy", "gpo", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zipGPMCBackup zips the fixture GPMC backup folder as the CLI uploads it.
func zipGPMCBackup(t *testing.T) []byte {
	t.Helper()
	root := filepath.Join("..", "policy", "gpo", "testdata", "backup")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil {
			_, err = w.Write(data)
		}
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload posts raw bytes and decodes the JSON answer into out.
func (ts *testServer) upload(token, path string, body []byte, out any) (int, string) {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.base+"/api/v1"+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := ts.admin.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e apiError
	if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
		return resp.StatusCode, e.Error.Code + ": " + e.Error.Message
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			ts.t.Fatalf("decoding %s", raw)
		}
	}
	return resp.StatusCode, ""
}

func gpoRow(rows []map[string]any, scope, valueName string) map[string]any {
	for _, r := range rows {
		if r["scope"] == scope && r["valueName"] == valueName {
			return r
		}
	}
	return nil
}

type gpoAnswer struct {
	DryRun  bool             `json:"dryRun"`
	ID      string           `json:"id"`
	Profile map[string]any   `json:"profile"`
	Source  map[string]any   `json:"source"`
	Summary map[string]int   `json:"summary"`
	Value   []map[string]any `json:"value"`
	Instr   []map[string]any `json:"instructions"`
}

func TestGroupPolicyAnalyzeAPI(t *testing.T) {
	ts := startIdentityServer(t)
	operator := ts.newToken(store.RoleOperator, testTenant)
	reader := ts.newToken(store.RoleReader, testTenant)
	otherTenant := ts.newToken(store.RoleAdmin, tenantB)
	base := "/tenants/" + testTenant + "/groupPolicy/analyze"

	// The four forms of the fixture GPO answer the same rows, tenant filled in.
	var first gpoAnswer
	for _, c := range []struct {
		query string
		body  []byte
	}{
		{"?fileName=gpreport.xml", gpoFixture(t, "gpreport.xml")},
		{"?fileName=backup.zip", zipGPMCBackup(t)},
		{"?fileName=lgpo.txt", gpoFixture(t, "lgpo.txt")},
	} {
		var got gpoAnswer
		if st, msg := ts.upload(operator, base+c.query, c.body, &got); st != http.StatusOK {
			t.Fatalf("analyze %s: HTTP %d %s", c.query, st, msg)
		}
		if got.Summary["settings"] != 17 || got.Summary["supported"] != 13 || got.Summary["supportedPercent"] != 76 {
			t.Errorf("%s: summary %v", c.query, got.Summary)
		}
		pin := gpoRow(got.Value, "machine", "EnablePinRecovery")
		if pin == nil || pin["mdmSupport"] != "supported" || pin["value"] != "true" || pin["dataType"] != "bool" ||
			pin["cspMapping"] != "./Device/Vendor/MSFT/PassportForWork/"+testTenant+"/Policies/EnablePinRecovery" {
			t.Errorf("%s: EnablePinRecovery row %v", c.query, pin)
		}
		if first.Value == nil {
			first = got
		} else if a, b := mustJSON(first.Value), mustJSON(got.Value); !bytes.Equal(a, b) {
			t.Errorf("%s: rows differ from the gpreport's", c.query)
		}
	}
	// A bare registry.pol of the User half, named by scope.
	var user gpoAnswer
	if st, msg := ts.upload(operator, base+"?fileName=User/registry.pol&scope=user", gpoFixture(t, "user-registry.pol"), &user); st != http.StatusOK {
		t.Fatalf("analyze user registry.pol: HTTP %d %s", st, msg)
	}
	if r := gpoRow(user.Value, "user", "Enabled"); r == nil || r["cspMapping"] != "./User/Vendor/MSFT/PassportForWork/"+testTenant+"/Policies/UsePassportForWork" {
		t.Errorf("user half: %v", user.Value)
	}
	if ev := findEvent(ts.events(testTenant), audit.KindGPOAnalyzed, "analyze", "{5C2E4B1A-8D3F-4E6A-9B7C-1D2E3F4A5B6C}"); ev == nil ||
		!strings.Contains(string(ev.Details), `"supported":13`) {
		t.Errorf("no gpo.analyzed event with the summary: %+v", ev)
	}

	// Refusals change nothing and say why.
	cut := gpoFixture(t, "registry.pol")[:100]
	for _, c := range []struct {
		token, path string
		body        []byte
		status      int
		msg         string
	}{
		{reader, base + "?fileName=registry.pol", gpoFixture(t, "registry.pol"), http.StatusForbidden, ""},
		{otherTenant, base + "?fileName=registry.pol", gpoFixture(t, "registry.pol"), http.StatusNotFound, ""},
		{operator, base + "?fileName=Machine/registry.pol", cut, http.StatusUnprocessableEntity, "invalidGroupPolicy: Machine/registry.pol: byte "},
		{operator, base + "?fileName=notes.txt", []byte("hello"), http.StatusUnprocessableEntity, "invalidGroupPolicy: notes.txt: byte 0: not a GPMC backup"},
		{operator, base + "?scope=both", gpoFixture(t, "registry.pol"), http.StatusBadRequest, "badRequest"},
		{operator, "/tenants/" + newTenant + "/groupPolicy/analyze", gpoFixture(t, "registry.pol"), http.StatusNotFound, ""},
	} {
		st, msg := ts.upload(c.token, c.path, c.body, nil)
		if st != c.status || !strings.HasPrefix(msg, c.msg) {
			t.Errorf("%s: HTTP %d %q, want %d %q", c.path, st, msg, c.status, c.msg)
		}
	}
}

func TestGroupPolicyImportAPI(t *testing.T) {
	ts := startIdentityServer(t)
	operator := ts.newToken(store.RoleOperator, testTenant)
	base := "/tenants/" + testTenant + "/groupPolicy/import"
	profiles := func() int {
		var out struct{ Value []map[string]any }
		if st := ts.api(http.MethodGet, "/tenants/"+testTenant+"/deviceConfigurations", nil, &out); st != http.StatusOK {
			t.Fatalf("listing profiles: %d", st)
		}
		return len(out.Value)
	}

	// A dry run shows the document and creates nothing.
	var dry gpoAnswer
	if st, msg := ts.upload(operator, base+"?fileName=backup.zip&name=WHfB%20from%20GPO&dryRun=true", zipGPMCBackup(t), &dry); st != http.StatusOK {
		t.Fatalf("dry run: HTTP %d %s", st, msg)
	}
	oma, _ := dry.Profile["omaSettings"].([]any)
	if !dry.DryRun || dry.ID != "" || len(oma) != 13 || dry.Profile["displayName"] != "WHfB from GPO" || profiles() != 0 {
		t.Fatalf("dry run: %+v, %d settings, %d profiles", dry, len(oma), profiles())
	}
	if ev := findEvent(ts.events(testTenant), audit.KindGPOAnalyzed, "import.dryRun", "{5C2E4B1A-8D3F-4E6A-9B7C-1D2E3F4A5B6C}"); ev == nil {
		t.Error("no gpo.analyzed event for the dry run")
	}

	// Nothing is created from a file that does not parse, or maps to nothing.
	for _, c := range []struct {
		query  string
		body   []byte
		status int
		msg    string
	}{
		{"?fileName=gpreport.xml&name=x", gpoFixture(t, "gpreport.xml")[:2001], http.StatusUnprocessableEntity, "invalidGroupPolicy: gpreport.xml: byte 2000"},
		{"?fileName=registry.pol&name=x", gpoFixture(t, "empty.pol"), http.StatusUnprocessableEntity, "nothingToImport: nothing to import: none of the 0 settings"},
		{"?fileName=registry.pol", gpoFixture(t, "registry.pol"), http.StatusBadRequest, "badRequest: name"},
		{"?fileName=registry.pol&name=x&dryRun=maybe", gpoFixture(t, "registry.pol"), http.StatusBadRequest, "badRequest: dryRun"},
	} {
		if st, msg := ts.upload(operator, base+c.query, c.body, nil); st != c.status || !strings.HasPrefix(msg, c.msg) {
			t.Errorf("%s: HTTP %d %q, want %d %q", c.query, st, msg, c.status, c.msg)
		}
	}
	if n := profiles(); n != 0 {
		t.Fatalf("%d profiles after refused imports", n)
	}

	// The import creates one custom profile, validated like any other, audited in the same write.
	var got gpoAnswer
	if st, msg := ts.upload(operator, base+"?fileName=lgpo.txt&name=WHfB%20from%20GPO", gpoFixture(t, "lgpo.txt"), &got); st != http.StatusCreated {
		t.Fatalf("import: HTTP %d %s", st, msg)
	}
	if got.DryRun || got.ID == "" || got.Profile["id"] != got.ID || got.Summary["supported"] != 13 {
		t.Fatalf("import answer: %+v", got)
	}
	var stored map[string]any
	if st := ts.api(http.MethodGet, "/tenants/"+testTenant+"/deviceConfigurations/"+got.ID, nil, &stored); st != http.StatusOK {
		t.Fatalf("GET the imported profile: %d", st)
	}
	if raw := string(mustJSON(stored)); !strings.Contains(raw, `./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery`) ||
		strings.Contains(raw, "SmartCardNode") {
		t.Errorf("stored profile: %s", raw)
	}
	ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "import", got.ID)
	if ev == nil || !strings.Contains(string(ev.Details), `"groupPolicy"`) || !strings.Contains(string(ev.Details), `"lgpoText"`) {
		t.Fatalf("no admin.write import event with the GPO source: %+v", ev)
	}
}
