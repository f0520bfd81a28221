package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// Profiles as Intune exports them.
const (
	catalogPinRecovery = `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"WHfB PIN recovery","platforms":"windows10","technologies":"mdm",
"settings":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationSetting","settingInstance":{
"@odata.type":"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}",
"groupSettingCollectionValue":[{"children":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
"settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery",
"choiceSettingValue":{"value":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery_true","children":[]}}]}]}}]}`
	customAllowList = `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"Web sign-in allowed URLs","roleScopeTagIds":["Berlin"],
"omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"ConfigureWebSignInAllowedUrls",
"omaUri":"./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls","value":"signin.contoso.com"}]}`
	customBadPath = `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"PIN recovery","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean",
"displayName":"EnablePinRecovery","omaUri":"./Device/Vendor/MSFT/Policy/PassportForWork/<TenantId>/Policies/EnablePinRecovery","value":true}]}`
)

// call sends a literal body and returns the status and the decoded answer.
func (ts *testServer) call(token, method, path, body string) (int, map[string]any) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.admin.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func valueIDs(out map[string]any) []string {
	var ids []string
	list, _ := out["value"].([]any)
	for _, v := range list {
		if m, ok := v.(map[string]any); ok {
			ids = append(ids, m["id"].(string))
		}
	}
	return ids
}

func TestPolicyGroupAPI(t *testing.T) {
	ts := startIdentityServer(t)
	ctx := context.Background()
	if err := ts.app.Store.CreateUser(ctx, store.User{TenantID: testTenant, ID: "u-alice", UPN: "alice@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	ts.enroll("dev-1")
	reader := ts.newToken(store.RoleReader, testTenant)
	operator := ts.newToken(store.RoleOperator, testTenant)
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	groups := "/tenants/" + testTenant + "/groups"

	st, g1 := ts.call(operator, "POST", groups, `{"displayName":"WHfB pilot"}`)
	if st != http.StatusCreated || g1["id"] == "" || g1["displayName"] != "WHfB pilot" {
		t.Fatalf("create: %d %v", st, g1)
	}
	_, g2 := ts.call(testToken, "POST", groups, `{"displayName":"Nested"}`)
	gid, nested := g1["id"].(string), g2["id"].(string)
	if ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "create", gid); ev == nil || ev.Subject.Type != audit.SubjectGroup {
		t.Errorf("no audit event for the group creation")
	}

	for _, tc := range []struct {
		name, token, method, path, body string
		want                            int
	}{
		{"reader creates", reader, "POST", groups, `{"displayName":"x"}`, http.StatusForbidden},
		{"duplicate name", operator, "POST", groups, `{"displayName":"whfb PILOT"}`, http.StatusConflict},
		{"empty name", operator, "POST", groups, `{"displayName":" "}`, http.StatusUnprocessableEntity},
		{"bad JSON", operator, "POST", groups, `{"displayName":`, http.StatusBadRequest},
		{"unknown field", operator, "POST", groups, `{"name":"x"}`, http.StatusBadRequest},
		{"too large", operator, "POST", groups, `{"displayName":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"no token", "", "GET", groups, "", http.StatusUnauthorized},
		{"reader lists", reader, "GET", groups, "", http.StatusOK},
		{"reader gets", reader, "GET", groups + "/" + gid, "", http.StatusOK},
		{"unknown group", reader, "GET", groups + "/nope", "", http.StatusNotFound},
		{"other tenant's token", adminB, "GET", groups + "/" + gid, "", http.StatusNotFound},
		{"group through other tenant", adminB, "GET", "/tenants/" + tenantB + "/groups/" + gid, "", http.StatusNotFound},
		{"add device", operator, "POST", groups + "/" + gid + "/members", `{"id":"dev-1"}`, http.StatusNoContent},
		{"add user by id", operator, "POST", groups + "/" + gid + "/members", `{"id":"u-alice"}`, http.StatusNoContent},
		{"add user by UPN again", operator, "POST", groups + "/" + gid + "/members", `{"id":"alice@contoso.com"}`, http.StatusNoContent},
		{"add nested group", operator, "POST", groups + "/" + gid + "/members", `{"id":"` + nested + `"}`, http.StatusNoContent},
		{"cycle", operator, "POST", groups + "/" + nested + "/members", `{"id":"` + gid + `"}`, http.StatusConflict},
		{"itself", operator, "POST", groups + "/" + gid + "/members", `{"id":"` + gid + `"}`, http.StatusConflict},
		{"unknown member", operator, "POST", groups + "/" + gid + "/members", `{"id":"ghost"}`, http.StatusNotFound},
		{"empty member", operator, "POST", groups + "/" + gid + "/members", `{"id":""}`, http.StatusUnprocessableEntity},
		{"reader adds", reader, "POST", groups + "/" + gid + "/members", `{"id":"dev-1"}`, http.StatusForbidden},
		{"other tenant's member list", adminB, "GET", "/tenants/" + tenantB + "/groups/" + gid + "/members", "", http.StatusNotFound},
		{"remove nested", operator, "DELETE", groups + "/" + gid + "/members/" + nested, "", http.StatusNoContent},
		{"remove again", operator, "DELETE", groups + "/" + gid + "/members/" + nested, "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, out := ts.call(tc.token, tc.method, tc.path, tc.body); st != tc.want {
				t.Errorf("HTTP %d, want %d: %v", st, tc.want, out)
			}
		})
	}

	var members struct{ Value []wire.Member }
	if st := ts.apiAs(reader, "GET", groups+"/"+gid+"/members", nil, &members); st != http.StatusOK {
		t.Fatalf("members: %d", st)
	}
	want := []wire.Member{{Kind: store.MemberDevice, ID: "dev-1"}, {Kind: store.MemberUser, ID: "u-alice"}}
	if !slices.Equal(members.Value, want) {
		t.Errorf("members = %+v, want %+v", members.Value, want)
	}
	// A page of one, then the rest from the skip token; the group carries its count; ?id=
	// answers which IDs are direct members; bad member queries are refused.
	var page struct {
		Value []wire.Member
		Next  string `json:"nextSkipToken"`
	}
	if st := ts.apiAs(reader, "GET", groups+"/"+gid+"/members?top=1", nil, &page); st != http.StatusOK || !slices.Equal(page.Value, want[:1]) || page.Next == "" {
		t.Fatalf("first page of members: %d %+v", st, page)
	}
	next := page.Next
	page.Value, page.Next = nil, ""
	if st := ts.apiAs(reader, "GET", groups+"/"+gid+"/members?top=1&skipToken="+next, nil, &page); st != http.StatusOK || !slices.Equal(page.Value, want[1:]) || page.Next != "" {
		t.Errorf("second page of members: %d %+v", st, page)
	}
	var g wire.Group
	if st := ts.apiAs(reader, "GET", groups+"/"+gid, nil, &g); st != http.StatusOK || g.MemberCount == nil || *g.MemberCount != 2 {
		t.Errorf("group: %d, memberCount %v, want 2", st, g.MemberCount)
	}
	var among struct{ Value []wire.Member }
	if st := ts.apiAs(reader, "GET", groups+"/"+gid+"/members?id=u-alice&id=ghost&id="+nested, nil, &among); st != http.StatusOK || !slices.Equal(among.Value, want[1:]) {
		t.Errorf("members among u-alice, ghost and the removed nested group: %d %+v", st, among.Value)
	}
	tooMany := strings.Repeat("&id=x", 101)[1:]
	for _, q := range []string{"?" + tooMany, "?id=u-alice&top=5", "?search=a", "?top=0", "?skipToken=YQ"} {
		if st, out := ts.call(reader, "GET", groups+"/"+gid+"/members"+q, ""); st != http.StatusBadRequest {
			t.Errorf("members%s: %d, want 400: %v", q, st, out)
		}
	}

	// A group targeted by an assignment cannot be deleted.
	_, prof := ts.call(operator, "POST", "/tenants/"+testTenant+"/configurationPolicies", catalogPinRecovery)
	pid := prof["id"].(string)
	assign := `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + gid + `"}}]}`
	if st, out := ts.call(operator, "POST", "/tenants/"+testTenant+"/configurationPolicies/"+pid+"/assign", assign); st != http.StatusOK {
		t.Fatalf("assign: %d %v", st, out)
	}
	if st, _ := ts.call(operator, "DELETE", groups+"/"+gid, ""); st != http.StatusConflict {
		t.Errorf("deleting an assigned group: %d, want 409", st)
	}
	if st, _ := ts.call(reader, "DELETE", groups+"/"+nested, ""); st != http.StatusForbidden {
		t.Errorf("reader deletes: %d, want 403", st)
	}
	if st, _ := ts.call(operator, "DELETE", groups+"/"+nested, ""); st != http.StatusNoContent {
		t.Errorf("delete: %d, want 204", st)
	}
	if st, _ := ts.call(operator, "GET", groups+"/"+nested, ""); st != http.StatusNotFound {
		t.Errorf("deleted group: %d, want 404", st)
	}
	if ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "delete", nested); ev == nil {
		t.Errorf("no audit event for the group deletion")
	}
}

func TestPolicyProfileAPI(t *testing.T) {
	ts := startIdentityServer(t)
	ts.enroll("dev-1")
	reader := ts.newToken(store.RoleReader, testTenant)
	operator := ts.newToken(store.RoleOperator, testTenant)
	berlin := ts.newToken(store.RoleOperator, testTenant, "Berlin")
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	catalog := "/tenants/" + testTenant + "/configurationPolicies"
	custom := "/tenants/" + testTenant + "/deviceConfigurations"

	st, cat := ts.call(operator, "POST", catalog, catalogPinRecovery)
	if st != http.StatusCreated || cat["version"] != 1.0 || cat["@odata.type"] != "#microsoft.graph.deviceManagementConfigurationPolicy" || cat["name"] != "WHfB PIN recovery" {
		t.Fatalf("import: %d %v", st, cat)
	}
	if tags, _ := cat["roleScopeTagIds"].([]any); len(tags) != 1 || tags[0] != "0" {
		t.Errorf("roleScopeTagIds = %v, want [0]", cat["roleScopeTagIds"])
	}
	pid := cat["id"].(string)
	ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "create", pid)
	if ev == nil || !strings.Contains(string(ev.Details), "enablepinrecovery_true") {
		t.Errorf("the create event lacks the Intune JSON: %+v", ev)
	}
	st, cust := ts.call(berlin, "POST", custom, customAllowList)
	if st != http.StatusCreated {
		t.Fatalf("custom import: %d %v", st, cust)
	}
	cid := cust["id"].(string)

	for _, tc := range []struct {
		name, token, method, path, body string
		want                            int
		msg                             string // in error.message
	}{
		{"catalog on the custom route", operator, "POST", custom, catalogPinRecovery, http.StatusUnprocessableEntity, "configurationPolicies"},
		{"custom on the catalog route", operator, "POST", catalog, customAllowList, http.StatusUnprocessableEntity, "deviceConfigurations"},
		{"bad OMA-URI", operator, "POST", custom, customBadPath, http.StatusUnprocessableEntity, "did you mean ./Device/Vendor/MSFT/PassportForWork/"},
		{"dry run of a bad OMA-URI", operator, "POST", custom + "?dryRun=true", customBadPath, http.StatusUnprocessableEntity, "did you mean ./Device/Vendor/MSFT/PassportForWork/"},
		{"dry run (the lists below show nothing stored)", operator, "POST", catalog + "?dryRun=true", catalogPinRecovery, http.StatusOK, ""},
		{"dry run not a bool", operator, "POST", catalog + "?dryRun=maybe", catalogPinRecovery, http.StatusBadRequest, "dryRun"},
		{"reader's dry run", reader, "POST", catalog + "?dryRun=true", catalogPinRecovery, http.StatusForbidden, ""},
		{"legacy format", operator, "POST", custom, `{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"x"}`, http.StatusUnprocessableEntity, "unsupported format"},
		{"not JSON", operator, "POST", catalog, `{"name":`, http.StatusBadRequest, ""},
		{"too large", operator, "POST", catalog, `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"reader imports", reader, "POST", catalog, catalogPinRecovery, http.StatusForbidden, ""},
		{"tag outside the token's", berlin, "POST", custom, strings.Replace(customAllowList, `"Berlin"`, `"Munich"`, 1), http.StatusForbidden, "Munich"},
		{"reader gets", reader, "GET", catalog + "/" + pid, "", http.StatusOK, ""},
		{"wrong kind's route", reader, "GET", custom + "/" + pid, "", http.StatusNotFound, ""},
		{"scope tag hides Default", berlin, "GET", catalog + "/" + pid, "", http.StatusNotFound, ""},
		{"scope tag sees its own", berlin, "GET", custom + "/" + cid, "", http.StatusOK, ""},
		{"other tenant's token", adminB, "GET", catalog + "/" + pid, "", http.StatusNotFound, ""},
		{"through other tenant", adminB, "GET", "/tenants/" + tenantB + "/configurationPolicies/" + pid, "", http.StatusNotFound, ""},
		{"other tenant assigns", adminB, "POST", "/tenants/" + tenantB + "/configurationPolicies/" + pid + "/assign", `{"assignments":[]}`, http.StatusNotFound, ""},
		{"unknown group", operator, "POST", catalog + "/" + pid + "/assign", `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"ghost"}}]}`, http.StatusUnprocessableEntity, "ghost"},
		{"unknown target type", operator, "POST", catalog + "/" + pid + "/assign", `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.fooTarget"}}]}`, http.StatusUnprocessableEntity, ""},
		{"assign bad JSON", operator, "POST", catalog + "/" + pid + "/assign", `{`, http.StatusBadRequest, ""},
		{"reader assigns", reader, "POST", catalog + "/" + pid + "/assign", `{"assignments":[]}`, http.StatusForbidden, ""},
		{"assign all devices", operator, "POST", catalog + "/" + pid + "/assign", `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`, http.StatusOK, ""},
		{"reader resends", reader, "POST", catalog + "/" + pid + "/resendToFailed", "", http.StatusForbidden, ""},
		{"reader deletes", reader, "DELETE", catalog + "/" + pid, "", http.StatusForbidden, ""},
		{"patch changes kind", operator, "PATCH", catalog + "/" + pid, `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration"}`, http.StatusUnprocessableEntity, ""},
		{"unknown device states", reader, "GET", "/tenants/" + testTenant + "/devices/ghost/settingStates", "", http.StatusNotFound, ""},
		{"other tenant's device states", adminB, "GET", "/tenants/" + tenantB + "/devices/dev-1/settingStates", "", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := ts.call(tc.token, tc.method, tc.path, tc.body)
			if st != tc.want {
				t.Fatalf("HTTP %d, want %d: %v", st, tc.want, out)
			}
			if tc.msg != "" && !strings.Contains(errMessage(out), tc.msg) {
				t.Errorf("message %q lacks %q", errMessage(out), tc.msg)
			}
		})
	}

	// Lists: scope tags filter; each route lists its own kind.
	if _, out := ts.call(reader, "GET", catalog, ""); !slices.Equal(valueIDs(out), []string{pid}) {
		t.Errorf("catalog list = %v", valueIDs(out))
	}
	if _, out := ts.call(berlin, "GET", catalog, ""); len(valueIDs(out)) != 0 {
		t.Errorf("Berlin sees %v in the catalog list", valueIDs(out))
	}
	if _, out := ts.call(berlin, "GET", custom, ""); !slices.Equal(valueIDs(out), []string{cid}) {
		t.Errorf("Berlin's custom list = %v", valueIDs(out))
	}

	// Updates bump the version; PATCH merges, PUT replaces; server fields are ignored.
	st, out := ts.call(operator, "PATCH", catalog+"/"+pid, `{"description":"pilot","version":99}`)
	if st != http.StatusOK || out["version"] != 2.0 || out["description"] != "pilot" || out["name"] != "WHfB PIN recovery" {
		t.Fatalf("patch: %d %v", st, out)
	}
	st, out = ts.call(operator, "PUT", catalog+"/"+pid, catalogPinRecovery)
	if st != http.StatusOK || out["version"] != 3.0 || out["description"] != nil {
		t.Fatalf("put: %d %v", st, out)
	}
	if ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "update", pid); ev == nil || !strings.Contains(string(ev.Details), `"before"`) {
		t.Errorf("no update event")
	}

	// Assignments round-trip in Intune's shape.
	var as struct{ Value []wire.Assignment }
	if st := ts.apiAs(reader, "GET", catalog+"/"+pid+"/assignments", nil, &as); st != http.StatusOK ||
		len(as.Value) != 1 || as.Value[0].Target.Type != store.TargetAllDevices {
		t.Errorf("assignments: %d %+v", st, as.Value)
	}

	// A failed setting: reported per profile and per device; resendToFailed marks the device.
	err := ts.app.Store.Checkin(context.Background(), "dev-1", func(tx store.DeviceTx) error {
		return tx.PutSettingState(store.SettingState{TenantID: testTenant, DeviceID: "dev-1", LocURI: "./Device/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/EnablePinRecovery",
			Format: "bool", Value: "true", State: store.SettingError, ErrorCode: 500, ErrorDetail: "500: command failed", Sources: []string{pid}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var rep wire.ProfileStatus
	if st := ts.apiAs(reader, "GET", catalog+"/"+pid+"/deviceStatuses", nil, &rep); st != http.StatusOK ||
		rep.Counts[store.SettingError] != 1 || len(rep.Devices) != 1 || rep.Devices[0].DeviceID != "dev-1" {
		t.Errorf("deviceStatuses: %d %+v", st, rep)
	}
	var states struct{ Value []wire.SettingState }
	if st := ts.apiAs(reader, "GET", "/tenants/"+testTenant+"/devices/dev-1/settingStates", nil, &states); st != http.StatusOK ||
		len(states.Value) != 1 || states.Value[0].State != store.SettingError || states.Value[0].ErrorCode != 500 || !slices.Equal(states.Value[0].Sources, []string{pid}) {
		t.Errorf("settingStates: %d %+v", st, states.Value)
	}
	var dp wire.DeviceProfiles
	if st := ts.apiAs(reader, "GET", "/tenants/"+testTenant+"/devices/dev-1/profiles", nil, &dp); st != http.StatusOK || !slices.Equal(dp.Profiles, []string{pid}) {
		t.Errorf("device profiles: %d %+v", st, dp)
	}
	if st, out := ts.call(operator, "POST", catalog+"/"+pid+"/resendToFailed", ""); st != http.StatusOK || !slices.Equal(out["value"].([]any), []any{"dev-1"}) {
		t.Errorf("resendToFailed: %d %v", st, out)
	}
	if d, err := ts.app.Store.Device(context.Background(), "dev-1"); err != nil || !d.PolicyDirty {
		t.Errorf("device not marked dirty: %v %+v", err, d.PolicyDirty)
	}
	if ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "resendToFailed", pid); ev == nil || ev.DeviceID != "dev-1" {
		t.Errorf("resendToFailed audit event: %+v, want one for dev-1", ev)
	}

	// Delete.
	if st, _ := ts.call(operator, "DELETE", catalog+"/"+pid, ""); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	if st, _ := ts.call(operator, "GET", catalog+"/"+pid, ""); st != http.StatusNotFound {
		t.Errorf("deleted profile: %d", st)
	}
	if ev := findEvent(ts.events(testTenant), audit.KindAdminWrite, "delete", pid); ev == nil {
		t.Errorf("no delete event")
	}
}

// Every route under /api/v1 is in the OpenAPI document, and the document is OpenAPI 3.0.
func TestOpenAPICoversRoutes(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	resp, err := ts.admin.Get(ts.base + adminapi.OpenAPIPath) // no token: the document is public
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Info       map[string]any                       `json:"info"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
			Schemas         map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", adminapi.OpenAPIPath, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") || doc.Info["title"] == nil || doc.Info["version"] == nil || len(doc.Paths) == 0 ||
		doc.Components.SecuritySchemes["bearer"] == nil || doc.Components.Schemas["Error"] == nil {
		t.Fatalf("not an OpenAPI 3.0 document: openapi %q, info %v, %d paths", doc.OpenAPI, doc.Info, len(doc.Paths))
	}
	raw, _ := json.Marshal(doc)
	for _, ref := range strings.Split(string(raw), `"$ref":"#/components/schemas/`)[1:] {
		name, _, _ := strings.Cut(ref, `"`)
		if doc.Components.Schemas[name] == nil {
			t.Errorf("dangling $ref %s", name)
		}
	}
	routed := map[string]bool{}
	err = ts.app.Server.Router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, "/api/v1/") {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // the /api/v1 prefix itself
		}
		for _, m := range methods {
			routed[strings.ToLower(m)+" "+tpl] = true
			op := doc.Paths[tpl][strings.ToLower(m)]
			if op == nil {
				t.Errorf("%s %s is routed but not in the OpenAPI document", m, tpl)
				continue
			}
			if op["responses"] == nil || op["operationId"] == nil {
				t.Errorf("%s %s: no responses or operationId", m, tpl)
			}
			if resps, _ := op["responses"].(map[string]any); tpl != adminapi.OpenAPIPath && resps["503"] == nil {
				t.Errorf("%s %s: 503 (store unavailable, or its write failed) not documented", m, tpl)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths {
		for m := range item {
			if !routed[m+" "+path] {
				t.Errorf("%s %s is documented but not routed", m, path)
			}
		}
	}
}
