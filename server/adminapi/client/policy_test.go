package adminclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// setupTenant creates the tenant and alice.
func setupTenant(t *testing.T, c *adminclient.Client) wire.User {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateTenant(ctx, wire.TenantRequest{ID: tid, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: "OnPremise"})
	check(t, "CreateTenant", err)
	u, err := c.CreateUser(ctx, tid, wire.UserRequest{UserPrincipalName: "alice@contoso.com", PasswordProfile: wire.PasswordProfile{Password: "Correct horse 1"}})
	check(t, "CreateUser", err)
	return u
}

func TestPolicyRoutes(t *testing.T) {
	c, base, dir := start(t)
	ctx := context.Background()
	u := setupTenant(t, c)
	did := enroll(t, c, base, dir)

	g, err := c.CreateGroup(ctx, tid, wire.GroupRequest{DisplayName: "WHfB pilot", Description: "pilot"})
	check(t, "CreateGroup", err)
	if gs, err := c.Groups(ctx, tid); err != nil || len(gs) != 1 || gs[0].ID != g.ID {
		t.Fatalf("Groups: %+v, %v", gs, err)
	}
	if got, err := c.Group(ctx, tid, g.ID); err != nil || got.Description != "pilot" {
		t.Fatalf("Group: %+v, %v", got, err)
	}
	check(t, "AddMember user", c.AddMember(ctx, tid, g.ID, u.ID))
	check(t, "AddMember device", c.AddMember(ctx, tid, g.ID, did))
	if ms, err := c.Members(ctx, tid, g.ID); err != nil || len(ms) != 2 {
		t.Fatalf("Members: %+v, %v", ms, err)
	}
	check(t, "RemoveMember", c.RemoveMember(ctx, tid, g.ID, u.ID))
	if ms, err := c.Members(ctx, tid, g.ID); err != nil || len(ms) != 1 || ms[0].Kind != "device" || ms[0].ID != did {
		t.Fatalf("Members after removal: %+v, %v", ms, err)
	}

	doc, err := os.ReadFile("../../../examples/policy/whfb-pin-recovery.settings-catalog.json")
	check(t, "reading the example", err)
	p, err := c.CreateProfile(ctx, tid, adminclient.SettingsCatalog, doc)
	check(t, "CreateProfile", err)
	if p.ID == "" || p.Name != "WHfB - Enable PIN recovery" || p.Version != 1 || !bytes.Contains(p.Raw, []byte(`"settings"`)) {
		t.Fatalf("CreateProfile: %+v", p)
	}
	if ps, err := c.Profiles(ctx, tid, adminclient.SettingsCatalog); err != nil || len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("Profiles: %+v, %v", ps, err)
	}
	if ps, err := c.Profiles(ctx, tid, adminclient.CustomOMAURI); err != nil || len(ps) != 0 {
		t.Fatalf("Profiles custom: %+v, %v", ps, err)
	}
	_, err = c.Profile(ctx, tid, adminclient.CustomOMAURI, p.ID)
	wantError(t, "Profile on the other route", err, http.StatusNotFound, "")
	p, err = c.ReplaceProfile(ctx, tid, adminclient.SettingsCatalog, p.ID, doc)
	check(t, "ReplaceProfile", err)
	p, err = c.PatchProfile(ctx, tid, adminclient.SettingsCatalog, p.ID, json.RawMessage(`{"description":"patched"}`))
	check(t, "PatchProfile", err)
	if got, err := c.Profile(ctx, tid, adminclient.SettingsCatalog, p.ID); err != nil || got.Version != 3 || !bytes.Contains(got.Raw, []byte("patched")) {
		t.Fatalf("Profile after PUT and PATCH: %+v, %v", got, err)
	}
	// The profile marshals back to the document the server sent.
	if b, _ := json.Marshal(p); !bytes.Equal(b, p.Raw) {
		t.Fatalf("Profile marshals to %s", b)
	}

	as, err := c.AssignProfile(ctx, tid, adminclient.SettingsCatalog, p.ID, []wire.Assignment{{Target: wire.AssignmentTarget{Type: wire.TargetGroup, GroupID: g.ID}}})
	check(t, "AssignProfile", err)
	if len(as.Value) != 1 || as.Value[0].Target.GroupID != g.ID {
		t.Fatalf("AssignProfile: %+v", as)
	}
	if got, err := c.ProfileAssignments(ctx, tid, adminclient.SettingsCatalog, p.ID); err != nil || len(got) != 1 {
		t.Fatalf("ProfileAssignments: %+v, %v", got, err)
	}
	st, err := c.ProfileStatus(ctx, tid, adminclient.SettingsCatalog, p.ID)
	check(t, "ProfileStatus", err)
	if st.ProfileID != p.ID || st.Counts == nil {
		t.Fatalf("ProfileStatus: %+v", st)
	}
	if marked, err := c.ResendToFailed(ctx, tid, adminclient.SettingsCatalog, p.ID); err != nil || len(marked) != 0 {
		t.Fatalf("ResendToFailed: %v, %v", marked, err)
	}
	if states, err := c.DeviceSettingStates(ctx, tid, did); err != nil || states == nil {
		t.Fatalf("DeviceSettingStates: %+v, %v", states, err)
	}
	if dp, err := c.DeviceProfiles(ctx, tid, did); err != nil || dp.DeviceID != did {
		t.Fatalf("DeviceProfiles: %+v, %v", dp, err)
	}
	check(t, "DeleteProfile", c.DeleteProfile(ctx, tid, adminclient.SettingsCatalog, p.ID))

	// The settings picker's search, and an invalid profile's setting and did-you-mean.
	defs, err := c.SearchSettings(ctx, tid, "pin recovery", "Windows Hello For Business")
	check(t, "SearchSettings", err)
	if len(defs) != 2 || defs[0].DisplayName != "Enable Pin Recovery" || defs[0].ValueKind != "choice" ||
		defs[0].GroupSettingDefinitionID != "device_vendor_msft_passportforwork_{tenantid}" || len(defs[0].Options) != 2 ||
		defs[0].Options[1].ItemID != defs[0].ID+"_true" || defs[1].DisplayName != "Enable Pin Recovery (User)" {
		t.Fatalf("SearchSettings: %+v", defs)
	}
	if defs, err := c.SearchSettings(ctx, tid, "pin recovery", "Authentication"); err != nil || len(defs) != 0 {
		t.Fatalf("SearchSettings in another category: %+v, %v", defs, err)
	}
	if cats, err := c.SettingCategories(ctx, tid); err != nil || len(cats) < 2 || cats[len(cats)-1] != "Windows Hello For Business" {
		t.Fatalf("SettingCategories: %v, %v", cats, err)
	}
	_, err = c.CreateProfile(ctx, tid, adminclient.CustomOMAURI, json.RawMessage(`{"displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean",`+
		`"displayName":"Recovery","omaUri":"./Device/Vendor/MSFT/Policy/PassportForWork/{TenantId}/Policies/EnablePinRecovery","value":true}]}`))
	ae := wantError(t, "CreateProfile with a wrong OMA-URI", err, http.StatusUnprocessableEntity, "invalidProfile")
	if ae.Target != "Recovery" || ae.Suggestion != "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery" {
		t.Fatalf("error target %q, suggestion %q", ae.Target, ae.Suggestion)
	}
	// A dry run validates the same way and writes nothing.
	v, err := c.ValidateProfile(ctx, tid, adminclient.SettingsCatalog, doc)
	if err != nil || v.ID != "" || v.Name != "WHfB - Enable PIN recovery" {
		t.Fatalf("ValidateProfile: %+v, %v", v, err)
	}
	_, err = c.ValidateProfile(ctx, tid, adminclient.CustomOMAURI, json.RawMessage(`{"displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean",`+
		`"displayName":"Recovery","omaUri":"./Device/Vendor/MSFT/Policy/PassportForWork/{TenantId}/Policies/EnablePinRecovery","value":true}]}`))
	if ae := wantError(t, "ValidateProfile with a wrong OMA-URI", err, http.StatusUnprocessableEntity, "invalidProfile"); ae.Suggestion == "" {
		t.Fatalf("ValidateProfile: no suggestion in %+v", ae)
	}
	if ps, err := c.Profiles(ctx, tid, adminclient.SettingsCatalog); err != nil || len(ps) != 0 {
		t.Fatalf("a dry run stored a profile: %+v, %v", ps, err)
	}
	check(t, "DeleteGroup", c.DeleteGroup(ctx, tid, g.ID))
	_, err = c.Group(ctx, tid, g.ID)
	wantError(t, "Group deleted", err, http.StatusNotFound, "")
}

func TestGroupPolicyRoutes(t *testing.T) {
	c, _, _ := start(t)
	ctx := context.Background()
	setupTenant(t, c)
	data, err := os.ReadFile("../../../policy/gpo/testdata/registry.pol")
	check(t, "reading registry.pol", err)
	up := adminclient.GroupPolicyUpload{FileName: "Machine/registry.pol", Data: data}
	rep, err := c.AnalyzeGroupPolicy(ctx, tid, up)
	check(t, "AnalyzeGroupPolicy", err)
	if rep.Summary.Settings == 0 || len(rep.Value) == 0 {
		t.Fatalf("AnalyzeGroupPolicy: %+v", rep)
	}
	dry, err := c.ImportGroupPolicy(ctx, tid, "From GPO", true, up)
	check(t, "ImportGroupPolicy dry run", err)
	if !dry.DryRun || dry.ID != "" || len(dry.Profile) == 0 {
		t.Fatalf("ImportGroupPolicy dry run: %+v", dry)
	}
	imp, err := c.ImportGroupPolicy(ctx, tid, "From GPO", false, up)
	check(t, "ImportGroupPolicy", err)
	if imp.DryRun || imp.ID == "" {
		t.Fatalf("ImportGroupPolicy: %+v", imp)
	}
	if _, err := c.Profile(ctx, tid, adminclient.CustomOMAURI, imp.ID); err != nil {
		t.Fatalf("the imported profile: %v", err)
	}
	_, err = c.AnalyzeGroupPolicy(ctx, tid, adminclient.GroupPolicyUpload{FileName: "x.pol", Scope: "sideways", Data: data})
	wantError(t, "AnalyzeGroupPolicy with a bad scope", err, http.StatusBadRequest, "badRequest")
}

func TestAuditAndBackupRoutes(t *testing.T) {
	c, _, _ := start(t)
	ctx := context.Background()
	setupTenant(t, c)
	dl, err := c.ExportAudit(ctx, tid, adminclient.AuditQuery{Format: "ndjson", Kinds: []string{"admin.write"}})
	check(t, "ExportAudit", err)
	body, err := io.ReadAll(dl.Body)
	dl.Body.Close()
	check(t, "reading the export", err)
	if lines := strings.Count(string(body), "\n"); lines < 2 || !strings.Contains(string(body), tid) {
		t.Fatalf("ExportAudit: %d lines\n%s", lines, body)
	}
	_, err = c.ExportAudit(ctx, tid, adminclient.AuditQuery{Format: "xml"})
	wantError(t, "ExportAudit in a format it lacks", err, http.StatusBadRequest, "")
	v, err := c.VerifyAudit(ctx, tid)
	check(t, "VerifyAudit", err)
	if !v.OK || v.Checked < 2 || v.Broken != nil {
		t.Fatalf("VerifyAudit: %+v", v)
	}
	dl, err = c.ExportCompliance(ctx, tid, "csv")
	check(t, "ExportCompliance", err)
	body, _ = io.ReadAll(dl.Body)
	dl.Body.Close()
	if !strings.Contains(string(body), ",") {
		t.Fatalf("ExportCompliance: %q", body)
	}
	dl, err = c.Backup(ctx)
	check(t, "Backup", err)
	body, _ = io.ReadAll(dl.Body)
	dl.Body.Close()
	if dl.Length <= 0 || int64(len(body)) != dl.Length {
		t.Fatalf("Backup: %d bytes of %d", len(body), dl.Length)
	}
}

// TestErrorsAndRetries: a POST whose connection breaks before an answer is sent again with
// the same Idempotency-Key; a GET is not; an answer that is not the JSON error keeps its
// text; the bearer token goes on every request.
func TestErrorsAndRetries(t *testing.T) {
	var mu sync.Mutex
	var keys, auths []string
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		auths = append(auths, r.Header.Get("Authorization"))
		if r.Method == http.MethodPost {
			posts++
		}
		n := posts
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost && n == 1:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close() // the reply is lost on the way back
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"g1","displayName":"WHfB pilot","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`)
		case r.URL.Path == "/api/v1/tenants":
			http.Error(w, "upstream down", http.StatusBadGateway)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"notFound","message":"no such group"}}`)
		}
	}))
	defer srv.Close()
	c := adminclient.New(adminclient.Config{Server: srv.URL + "/", Token: "tok", RetryPause: time.Millisecond})
	ctx := context.Background()
	g, err := c.CreateGroup(ctx, tid, wire.GroupRequest{DisplayName: "WHfB pilot"})
	if err != nil || g.ID != "g1" {
		t.Fatalf("CreateGroup: %+v, %v", g, err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("Idempotency-Keys of the two attempts: %q", keys)
	}
	_, err = c.Tenants(ctx)
	ae := wantError(t, "Tenants", err, http.StatusBadGateway, "httpError")
	if ae.Message != "upstream down" || ae.Error() != "httpError: upstream down (HTTP 502)" {
		t.Fatalf("error: %q", ae.Error())
	}
	_, err = c.Group(ctx, tid, "nope")
	ae = wantError(t, "Group", err, http.StatusNotFound, "notFound")
	if ae.Error() != "notFound: no such group (HTTP 404)" || !adminclient.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("error: %q", ae.Error())
	}
	for i, a := range auths {
		if a != "Bearer tok" {
			t.Fatalf("request %d: Authorization %q", i, a)
		}
	}
	if keys[2] != "" || keys[3] != "" {
		t.Fatalf("a GET carried an Idempotency-Key: %q", keys)
	}

	// Nothing listening: the transport error comes back as it is, after the attempts.
	srv.Close()
	_, err = c.CreateGroup(ctx, tid, wire.GroupRequest{DisplayName: "x"})
	if err == nil || strings.Contains(err.Error(), "HTTP") {
		t.Fatalf("CreateGroup with no server: %v", err)
	}
}

func TestLoadCAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := adminclient.LoadCAFile(dir + "/missing.pem"); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	bad := dir + "/bad.pem"
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := adminclient.LoadCAFile(bad); err == nil || !strings.Contains(err.Error(), adminclient.ErrNoCertificate.Error()) {
		t.Fatalf("file without a certificate: %v", err)
	}
}

// TestNoIdempotencyKeys: with Config.NoIdempotencyKeys a POST carries no Idempotency-Key
// and is sent once, even when its connection breaks before an answer.
func TestNoIdempotencyKeys(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"g1","displayName":"WHfB pilot","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`)
			return
		}
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // the reply is lost on the way back
	}))
	defer srv.Close()
	c := adminclient.New(adminclient.Config{Server: srv.URL, Token: "tok", RetryPause: time.Millisecond, NoIdempotencyKeys: true})
	if g, err := c.CreateGroup(context.Background(), tid, wire.GroupRequest{DisplayName: "WHfB pilot"}); err != nil || g.ID != "g1" {
		t.Fatalf("CreateGroup: %+v, %v", g, err)
	}
	if _, err := c.CreateGroup(context.Background(), tid, wire.GroupRequest{DisplayName: "WHfB pilot"}); err == nil {
		t.Fatal("CreateGroup succeeded although its connection broke")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != "" || keys[1] != "" {
		t.Fatalf("Idempotency-Keys of two POSTs without keys (the second not retried): %q", keys)
	}
}
