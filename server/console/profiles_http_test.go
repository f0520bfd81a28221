package console_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// tokenSession signs a cookie-jar client in with the bootstrap token and returns it with the
// session's CSRF token.
func tokenSession(t *testing.T, e *consoletest.Env) (*http.Client, string) {
	t.Helper()
	c := e.HTTPClient()
	if st, _, body := signIn(t, e, c, url.Values{"token": {consoletest.Token}}); st != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", st, body)
	}
	_, _, body := get(t, e, c, profilesPath)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the profiles page has no csrf field")
	}
	return c, m[1]
}

// upload posts file as the import form's file field.
func upload(t *testing.T, e *consoletest.Env, c *http.Client, csrfToken, name string, data []byte) (int, http.Header, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", csrfToken)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	resp, err := c.Post(e.URL+profilesPath+"/import", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, out.String()
}

// Import by upload goes to the route of the document's shape and is validated by the API;
// what it refuses is shown with the API's message and nothing is stored.
func TestProfileImport(t *testing.T) {
	e := consoletest.Start(t)
	c, tok := tokenSession(t, e)
	read := func(name string) []byte {
		b, err := os.ReadFile("../../examples/policy/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, file string
		data       []byte
		status     int
		says       string // in the page (or the Location for 303)
	}{
		{"settings catalog", "whfb.json", read("whfb-pin-recovery.settings-catalog.json"), http.StatusSeeOther, "/profiles/configurationPolicies/"},
		{"custom", "urls.json", read("web-sign-in-allowed-urls.custom.json"), http.StatusSeeOther, "/profiles/deviceConfigurations/"},
		{"not JSON", "x.json", []byte("name: x"), http.StatusUnprocessableEntity, "is not a JSON document"},
		{"legacy shape", "legacy.json", []byte(`{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"x"}`), http.StatusUnprocessableEntity, "was not imported"},
		{"wrong OMA-URI", "bad.json", []byte(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"bad","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"r","omaUri":"` + wrongURI + `","value":true}]}`),
			http.StatusUnprocessableEntity, "did you mean " + rightURI},
		{"no file", "", nil, http.StatusUnprocessableEntity, "Choose an Intune JSON export"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var st int
			var h http.Header
			var body string
			if tc.file == "" {
				st, h, body = post(t, e, c, profilesPath+"/import", url.Values{"csrf": {tok}})
			} else {
				st, h, body = upload(t, e, c, tok, tc.file, tc.data)
			}
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			if got := h.Get("Location") + body; !strings.Contains(got, tc.says) {
				t.Errorf("answer does not say %q: %s", tc.says, got)
			}
		})
	}
	// The export of an import imports again (as a new profile).
	ps, err := e.Admin.Profiles(context.Background(), consoletest.TenantID, adminclient.SettingsCatalog)
	if err != nil || len(ps) != 1 {
		t.Fatalf("profiles: %v, %v", ps, err)
	}
	st, h, export := get(t, e, c, profilesPath+"/configurationPolicies/"+ps[0].ID+"/export.json")
	if st != http.StatusOK || !strings.Contains(h.Get("Content-Disposition"), `filename="WHfB - Enable PIN recovery.json"`) ||
		strings.Contains(export, `"id"`) || strings.Contains(export, `"version"`) || !strings.Contains(export, pinRecoveryID) {
		t.Fatalf("export.json: %d %v\n%s", st, h, export)
	}
	if st, _, body := upload(t, e, c, tok, "export.json", []byte(export)); st != http.StatusSeeOther {
		t.Fatalf("importing the export: %d %s", st, body)
	}
	n := 0
	for _, r := range adminclient.ProfileRoutes {
		ps, err := e.Admin.Profiles(context.Background(), consoletest.TenantID, r)
		if err != nil {
			t.Fatal(err)
		}
		n += len(ps)
	}
	if n != 3 {
		t.Errorf("%d profiles stored, want the 2 valid imports and the export imported again", n)
	}
}

// The wizard's own checks before the API's (a name, a setting, a whole number, a group not
// both included and excluded), and a draft it cannot read.
func TestProfileWizardChecks(t *testing.T) {
	e := consoletest.Start(t)
	c, tok := tokenSession(t, e)
	intSetting := `{"id":"device_vendor_msft_passportforwork_{tenantid}_policies_pincomplexity_minimumpinlength","name":"Minimum PIN Length","kind":"integer","group":"device_vendor_msft_passportforwork_{tenantid}","value":"six"}`
	cases := []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"start: no platform", url.Values{"step": {"start"}, "type": {"settingsCatalog"}}, http.StatusUnprocessableEntity, "Windows 10 and later"},
		{"start: no type", url.Values{"step": {"start"}, "platform": {"windows10"}}, http.StatusUnprocessableEntity, "Choose a profile type"},
		{"start: settings catalog", url.Values{"step": {"start"}, "platform": {"windows10"}, "type": {"settingsCatalog"}}, http.StatusOK, `id="name"`},
		{"start: custom", url.Values{"step": {"start"}, "platform": {"windows10"}, "type": {"custom"}}, http.StatusOK, `id="name"`},
		{"no draft", url.Values{"step": {"basics"}, "go": {"next"}}, http.StatusBadRequest, "lost its draft"},
		{"unreadable draft", url.Values{"step": {"basics"}, "go": {"next"}, "draft": {"{"}}, http.StatusBadRequest, "not readable"},
		{"draft without a kind", url.Values{"step": {"basics"}, "go": {"next"}, "draft": {`{"name":"x"}`}}, http.StatusBadRequest, "no profile type"},
		{"basics: no name", url.Values{"step": {"basics"}, "go": {"next"}, "draft": {`{"kind":"catalog"}`}, "name": {"  "}}, http.StatusUnprocessableEntity, "needs a name"},
		{"basics: next", url.Values{"step": {"basics"}, "go": {"next"}, "draft": {`{"kind":"catalog"}`}, "name": {"P"}}, http.StatusOK, "Add settings"},
		{"settings: none", url.Values{"step": {"settings"}, "go": {"next"}, "draft": {`{"kind":"catalog","name":"P"}`}}, http.StatusUnprocessableEntity, "at least one setting"},
		{"settings: not a number", url.Values{"step": {"settings"}, "go": {"next"}, "draft": {`{"kind":"catalog","name":"P","settings":[` + intSetting + `]}`}}, http.StatusUnprocessableEntity, "enter a whole number"},
		{"settings: next validates with the API", url.Values{"step": {"settings"}, "go": {"next"},
			"draft": {`{"kind":"catalog","name":"P","settings":[` + strings.Replace(intSetting, `"six"`, `"3"`, 1) + `]}`}}, http.StatusUnprocessableEntity, "value-0-error"},
		{"custom: next shows the did-you-mean", url.Values{"step": {"settings"}, "go": {"next"}, "draft": {`{"kind":"custom","name":"P","rows":[{"name":"r","omaUri":"` + wrongURI + `","type":"Boolean","value":"true"}]}`},
			"row-name-0": {"r"}, "row-uri-0": {wrongURI}, "row-type-0": {"Boolean"}, "row-value-0": {"true"}}, http.StatusUnprocessableEntity, "Did you mean <code>" + rightURI},
		{"custom: no rows", url.Values{"step": {"settings"}, "go": {"next"}, "draft": {`{"kind":"custom","name":"P"}`}}, http.StatusUnprocessableEntity, "at least one OMA-URI row"},
		{"assignments: both", url.Values{"step": {"assignments"}, "go": {"next"}, "draft": {`{"kind":"custom","name":"P"}`}, "include": {"g1"}, "exclude": {"g1"}}, http.StatusUnprocessableEntity, "both included and excluded"},
		{"assignments: Enter in the group search searches", url.Values{"step": {"assignments"}, "go": {"next"}, "draft": {`{"kind":"custom","name":"P"}`},
			"groupsearch": {"pil"}, "groupsearch-shown": {""}}, http.StatusOK, `name="groupsearch-shown" value="pil"`},
		{"assignments: Next after the search", url.Values{"step": {"assignments"}, "go": {"next"}, "draft": {`{"kind":"custom","name":"P"}`},
			"groupsearch": {"pil"}, "groupsearch-shown": {"pil"}}, http.StatusOK, `id="review"`},
		{"picker: search", url.Values{"step": {"settings"}, "go": {"search"}, "draft": {`{"kind":"catalog","name":"P"}`}, "search": {"pin recovery"}}, http.StatusOK, "Enable Pin Recovery (User)"},
		{"picker: a chosen setting is marked", url.Values{"step": {"settings"}, "go": {"search"}, "search": {"minimum pin length"},
			"draft": {`{"kind":"catalog","name":"P","settings":[` + intSetting + `]}`}}, http.StatusOK, `<span class="added">Added</span>`},
		{"add: unknown setting", url.Values{"step": {"picker"}, "go": {"add:device_nope"}, "draft": {`{"kind":"catalog","name":"P"}`}}, http.StatusUnprocessableEntity, "No such setting"},
		{"create: API refuses the value", url.Values{"step": {"review"}, "go": {"create"},
			"draft": {`{"kind":"catalog","name":"P","settings":[` + strings.Replace(intSetting, `"six"`, `"3"`, 1) + `]}`}}, http.StatusUnprocessableEntity, "value-0-error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", tok)
			st, _, body := post(t, e, c, profilesPath+"/new", tc.form)
			if st != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("status %d (want %d), says %q: %s", st, tc.status, tc.says, body)
			}
		})
	}
	for _, r := range adminclient.ProfileRoutes {
		if ps, _ := e.Admin.Profiles(context.Background(), consoletest.TenantID, r); len(ps) != 0 {
			t.Errorf("a refused draft was stored: %+v", ps)
		}
	}
}

// statusCSV fetches a profile's status as CSV and checks it holds the API's report.
func statusCSV(t *testing.T, e *consoletest.Env, pid string) [][]string {
	t.Helper()
	c, _ := tokenSession(t, e)
	st, h, body := get(t, e, c, profilesPath+"/configurationPolicies/"+pid+"/status.csv")
	if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("status.csv: %d %v", st, h)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("status.csv is not CSV: %v\n%s", err, body)
	}
	rep, err := e.Admin.ProfileStatus(context.Background(), consoletest.TenantID, adminclient.SettingsCatalog, pid)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range rep.Devices {
		for _, s := range d.Settings {
			n++
			if n >= len(rows) || rows[n][0] != d.DeviceID || rows[n][2] != s.LocURI || rows[n][4] != s.State || rows[n][3] != s.Value {
				b, _ := json.Marshal(rep)
				t.Fatalf("CSV row %d does not match the API's report %s:\n%s", n, b, body)
			}
		}
	}
	if len(rows) != n+1 || strings.Join(rows[0], ",") != "deviceId,setting,locUri,value,state,removing,errorCode,errorDetail,lastChanged" {
		t.Fatalf("CSV has %d rows for %d device settings:\n%s", len(rows), n, body)
	}
	return rows
}

// A reader sees the profiles and their status but no write control, and the pages that
// only write refuse them (the API would refuse the writes too).
func TestProfilesReader(t *testing.T) {
	e := consoletest.Start(t)
	doc, err := os.ReadFile("../../examples/policy/whfb-pin-recovery.settings-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Admin.CreateProfile(context.Background(), consoletest.TenantID, adminclient.SettingsCatalog, doc)
	if err != nil {
		t.Fatal(err)
	}
	rita := e.User("rita@contoso.com", "reader")
	c := e.HTTPClient()
	if st, _, body := signIn(t, e, c, url.Values{"upn": {rita.UPN}, "password": {rita.Password}, "otp": {rita.Code()}}); st != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", st, body)
	}
	page := profilesPath + "/configurationPolicies/" + p.ID
	for _, path := range []string{profilesPath, page, page + "/status"} {
		st, _, body := get(t, e, c, path)
		if st != http.StatusOK || !strings.Contains(body, "WHfB - Enable PIN recovery") {
			t.Fatalf("GET %s: %d", path, st)
		}
		for _, w := range []string{`id="create-profile"`, `id="import-profile"`, `id="edit-profile"`, `id="delete-profile"`} {
			if strings.Contains(body, w) {
				t.Errorf("GET %s shows a reader the write control %s", path, w)
			}
		}
	}
	_, _, body := get(t, e, c, profilesPath)
	tok := csrfField.FindStringSubmatch(body)[1]
	for _, path := range []string{profilesPath + "/new", profilesPath + "/import", page + "/edit"} {
		if st, _, _ := get(t, e, c, path); st != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", path, st)
		}
	}
	if st, _, _ := post(t, e, c, page+"/delete", url.Values{"csrf": {tok}}); st != http.StatusForbidden {
		t.Errorf("a reader's delete: %d, want 403", st)
	}
	if _, err := e.Admin.Profile(context.Background(), consoletest.TenantID, adminclient.SettingsCatalog, p.ID); err != nil {
		t.Errorf("the profile is gone after a reader's delete: %v", err)
	}
}

var draftField = regexp.MustCompile(`name="draft" value="([^"]*)"`)

// Edit opens the wizard on the stored profile (its settings and assignments read back),
// Save patches it (version 2, assignments kept); Delete removes it.
func TestProfileEditDelete(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	doc, err := os.ReadFile("../../examples/policy/whfb-pin-recovery.settings-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Admin.CreateProfile(ctx, consoletest.TenantID, adminclient.SettingsCatalog, doc)
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "WHfB pilot"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.AssignProfile(ctx, consoletest.TenantID, adminclient.SettingsCatalog, p.ID,
		[]wire.Assignment{{Target: wire.AssignmentTarget{Type: wire.TargetGroup, GroupID: g.ID}}}); err != nil {
		t.Fatal(err)
	}
	c, tok := tokenSession(t, e)
	page := profilesPath + "/configurationPolicies/" + p.ID
	st, _, body := get(t, e, c, page+"/edit")
	m := draftField.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("edit: %d %s", st, body)
	}
	d := html.UnescapeString(m[1])
	if !strings.Contains(d, `"value":"`+pinRecoveryID+`_true"`) || !strings.Contains(d, `"include":["`+g.ID+`"]`) || !strings.Contains(d, `"editId":"`+p.ID+`"`) {
		t.Fatalf("the draft read back: %s", d)
	}
	st, _, body = post(t, e, c, profilesPath+"/new", url.Values{"csrf": {tok}, "draft": {d}, "step": {"basics"}, "go": {"next"}, "name": {"WHfB - PIN recovery (renamed)"}})
	if m = draftField.FindStringSubmatch(body); st != http.StatusOK || m == nil {
		t.Fatalf("basics: %d %s", st, body)
	}
	st, h, body := post(t, e, c, profilesPath+"/new", url.Values{"csrf": {tok}, "draft": {html.UnescapeString(m[1])}, "step": {"review"}, "go": {"create"}})
	if st != http.StatusSeeOther || h.Get("Location") != page {
		t.Fatalf("save: %d %v %s", st, h, body)
	}
	got, err := e.Admin.Profile(ctx, consoletest.TenantID, adminclient.SettingsCatalog, p.ID)
	if err != nil || got.Name != "WHfB - PIN recovery (renamed)" || got.Version != 2 || !bytes.Contains(got.Raw, []byte(pinRecoveryID+"_true")) {
		t.Fatalf("after save: %+v, %v", got, err)
	}
	if as, err := e.Admin.ProfileAssignments(ctx, consoletest.TenantID, adminclient.SettingsCatalog, p.ID); err != nil || len(as) != 1 || as[0].Target.GroupID != g.ID {
		t.Fatalf("assignments after save: %+v, %v", as, err)
	}
	if st, h, _ := post(t, e, c, page+"/delete", url.Values{"csrf": {tok}}); st != http.StatusSeeOther || h.Get("Location") != profilesPath {
		t.Fatalf("delete: %d %v", st, h)
	}
	if _, err := e.Admin.Profile(ctx, consoletest.TenantID, adminclient.SettingsCatalog, p.ID); !adminclient.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// An operator limited to a scope tag: a new profile takes that tag, the profile is created
// with it, and a tag the role does not hold is refused by the API (403, nothing stored).
func TestProfileWizardScopeTags(t *testing.T) {
	e := consoletest.Start(t)
	bert := e.User("bert@contoso.com", "operator", "Berlin")
	c := e.HTTPClient()
	if st, _, body := signIn(t, e, c, url.Values{"upn": {bert.UPN}, "password": {bert.Password}, "otp": {bert.Code()}}); st != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", st, body)
	}
	_, _, body := get(t, e, c, profilesPath)
	tok := csrfField.FindStringSubmatch(body)[1]
	st, _, body := post(t, e, c, profilesPath+"/new", url.Values{"csrf": {tok}, "step": {"start"}, "platform": {"windows10"}, "type": {"settingsCatalog"}})
	m := draftField.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(html.UnescapeString(m[1]), `"scopeTags":"Berlin"`) {
		t.Fatalf("start: %d, draft %v", st, m)
	}
	seed := `{"kind":"catalog","name":"P","scopeTags":%q,"settings":[{"id":"` + pinRecoveryID + `","kind":"choice","group":"device_vendor_msft_passportforwork_{tenantid}","value":"` + pinRecoveryID + `_true"}]}`
	if st, _, body := post(t, e, c, profilesPath+"/new", url.Values{"csrf": {tok}, "step": {"review"}, "go": {"create"}, "draft": {fmt.Sprintf(seed, "Munich")}}); st != http.StatusForbidden || !strings.Contains(body, "Munich") {
		t.Fatalf("a tag the role does not hold: %d %s", st, body)
	}
	st, h, body := post(t, e, c, profilesPath+"/new", url.Values{"csrf": {tok}, "step": {"review"}, "go": {"create"}, "draft": {fmt.Sprintf(seed, "Berlin")}})
	if st != http.StatusSeeOther {
		t.Fatalf("create: %d %s", st, body)
	}
	pid := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]
	p, err := e.Admin.Profile(context.Background(), consoletest.TenantID, adminclient.SettingsCatalog, pid)
	if err != nil || !bytes.Contains(p.Raw, []byte(`"roleScopeTagIds":["Berlin"]`)) {
		t.Fatalf("created: %s, %v", p.Raw, err)
	}
	if ps, _ := e.Admin.Profiles(context.Background(), consoletest.TenantID, adminclient.SettingsCatalog); len(ps) != 1 {
		t.Errorf("%d profiles stored, want 1", len(ps))
	}
}
