package adminapi

import (
	"encoding/json"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3.0 document of /api/v1 (https://spec.openapis.org/oas/v3.0.3), served without
// authentication at GET /api/v1/openapi.json, as Microsoft Graph serves its $metadata. It is
// built from the table below and from the Go types the handlers encode, so a field added to a
// view appears in the document; TestOpenAPICoversRoutes fails when a route is missing.

// OpenAPIPath is where the document is served.
const OpenAPIPath = "/api/v1/openapi.json"

// apiOp describes one operation.
type apiOp struct {
	method, path, tag, summary string
	body                       any // request body type (nil: none); json.RawMessage for Intune JSON
	status                     int // success status
	resp                       any // response type (nil: no body)
	list                       bool
	errs                       []int
	public                     bool
	formats                    bool     // streamed export: ?format=json|csv|ndjson
	upload                     bool     // the body is a file's raw bytes (application/octet-stream)
	download                   bool     // the response is a file's raw bytes (application/octet-stream)
	query                      []string // query parameters
	paged                      bool     // a list answer may carry nextSkipToken
}

// listParams are the query parameters of a searchable, paged list (users_page.go).
var listParams = []string{"search", "startsWith", "top", "skipToken"}

// userListParams are those of the user list, which also filters by hasAdminRole.
var userListParams = []string{"search", "startsWith", "hasAdminRole", "top", "skipToken"}

// profileDoc stands for a profile in Intune's JSON shape.
type profileDoc json.RawMessage

func apiOps() []apiOp {
	rw := []int{400, 401, 403, 404, 413, 422}
	ro := []int{401, 404}
	roQuery := []int{401, 404, 422}
	ops := []apiOp{
		{method: "GET", path: "/openapi.json", tag: "meta", summary: "This OpenAPI document", status: 200, resp: map[string]any{}, public: true},
		{method: "POST", path: "/tenants", tag: "tenants", summary: "Create a tenant (global admin)", body: wire.TenantRequest{}, status: 201, resp: wire.Tenant{}, errs: []int{400, 401, 403, 409, 413, 422}},
		{method: "GET", path: "/tenants", tag: "tenants", summary: "List the tenants the token sees", status: 200, resp: wire.Tenant{}, list: true, errs: ro},
		{method: "GET", path: "/tenants/{tid}", tag: "tenants", summary: "Get a tenant", status: 200, resp: wire.Tenant{}, errs: ro},
		{method: "PATCH", path: "/tenants/{tid}", tag: "tenants", summary: "Change a tenant (admin)", body: wire.TenantPatch{}, status: 200, resp: wire.Tenant{}, errs: append(rw, 409)},
		{method: "DELETE", path: "/tenants/{tid}", tag: "tenants", summary: "Delete a tenant with its users, groups, profiles, tokens and keys; its audit log is kept (export it first). 409 with enrolledDevices while devices are enrolled, unless ?force=true retires them first (global admin)", status: 204, errs: []int{400, 401, 403, 404, 409, 503}},
		{method: "GET", path: "/tenants/{tid}/overview", tag: "tenants", summary: "The tenant's figures from counts kept with every write: devices by enrollment state and by CanReset, devices checked in since ?since= (default the last hour), visible profiles with settings in error or conflict", status: 200, resp: wire.Overview{}, errs: []int{401, 404, 422, 503}, query: []string{"since"}},
		{method: "POST", path: "/tenants/{tid}/users", tag: "users", summary: "Create a user (admin)", body: wire.UserRequest{}, status: 201, resp: wire.User{}, errs: append(rw, 409)},
		{method: "GET", path: "/tenants/{tid}/users", tag: "users", summary: "List users in userPrincipalName order; search (in the UPN or display name), startsWith (the start of the UPN: a page reads only those users), hasAdminRole (true: only the users holding an admin role, read through an index of them; false: only the others), top (page size) and skipToken (the answer's nextSkipToken) page through them", status: 200, resp: wire.User{}, list: true, paged: true, query: userListParams, errs: []int{400, 401, 404}},
		{method: "GET", path: "/tenants/{tid}/users/{uid}", tag: "users", summary: "Get a user", status: 200, resp: wire.User{}, errs: ro},
		{method: "PATCH", path: "/tenants/{tid}/users/{uid}", tag: "users", summary: "Disable or enable a user (accountEnabled): a disabled user cannot sign in, enroll or reset a PIN (admin)", body: wire.UserPatch{}, status: 200, resp: wire.User{}, errs: []int{400, 401, 403, 404, 413, 422}},
		{method: "DELETE", path: "/tenants/{tid}/users/{uid}", tag: "users", summary: "Delete a user with its TOTP enrolment, group memberships and failed sign-in counter; its devices keep checking in until retired (admin)", status: 204, errs: []int{401, 403, 404, 503}},
		{method: "POST", path: "/tenants/{tid}/users/{uid}/authenticationMethods/totp", tag: "users", summary: "Enroll a TOTP authenticator; the secret is shown once (admin)", status: 201, resp: wire.TOTP{}, errs: []int{401, 403, 404, 503}},
		{method: "PUT", path: "/tenants/{tid}/users/{uid}/adminRole", tag: "users", summary: "Grant or change the user's admin role (admin, operator or reader, with role scope tags): the user signs in to the web console with it (admin)", body: wire.AdminRoleRequest{}, status: 200, resp: wire.User{}, errs: []int{400, 401, 403, 404, 413, 422, 503}},
		{method: "DELETE", path: "/tenants/{tid}/users/{uid}/adminRole", tag: "users", summary: "Revoke the user's admin role; open console sessions end at their next request (admin)", status: 200, resp: wire.User{}, errs: []int{401, 403, 404, 503}},
		{method: "GET", path: "/tenants/{tid}/devices", tag: "devices", summary: "List devices (?canReset=DestructiveOnly|DestructiveAndNonDestructive). With top, skipToken, search (name or UPN prefix), enrollmentState, osVersion (prefix), osEdition, seenSince or notSeenSince: one page from the device index, {value, nextSkipToken}", status: 200, resp: wire.Device{}, list: true, errs: []int{401, 404, 422},
			query: []string{"canReset", "top", "skipToken", "search", "enrollmentState", "osVersion", "osEdition", "seenSince", "notSeenSince"}},
		{method: "GET", path: "/tenants/{tid}/devices/{did}", tag: "devices", summary: "Get a device", status: 200, resp: wire.Device{}, errs: ro},
		{method: "POST", path: "/tenants/{tid}/devices/{did}/retire", tag: "devices", summary: "Retire a device (admin)", status: 200, resp: wire.Device{}, errs: []int{401, 403, 404, 409}},
		{method: "POST", path: "/tenants/{tid}/devices/{did}/resendFailed", tag: "devices", summary: "Send the device's settings in error again at its next check-in (409 when none is in error)", status: 200, resp: wire.ResendFailed{}, errs: []int{401, 403, 404, 409, 503}},
		{method: "POST", path: "/tenants/{tid}/devices/{did}/syncDevice", tag: "devices", summary: "Sync now: wake the device so it starts an OMA-DM session at once, on its push channel (built-in or WNS); wake says whether it was delivered here, forwarded to the other replicas and WNS, or the device is not connected and syncs at its next poll (operator, admin); 409 for a retired or unenrolled device", status: 202, resp: wire.SyncResult{}, errs: []int{401, 403, 404, 409, 503}},
		{method: "POST", path: "/tenants/{tid}/devices/{did}/commands", tag: "commands", summary: "Queue an OMA-DM command (operator, admin)", body: wire.CommandRequest{}, status: 201, resp: wire.Command{}, errs: rw},
		{method: "GET", path: "/tenants/{tid}/devices/{did}/commands", tag: "commands", summary: "List a device's commands", status: 200, resp: wire.Command{}, list: true, errs: ro},
		{method: "GET", path: "/tenants/{tid}/devices/{did}/commands/{id}", tag: "commands", summary: "Get a command with its status and results", status: 200, resp: wire.Command{}, errs: ro},
		{method: "POST", path: "/tenants/{tid}/devices/{did}/commands/{id}/resend", tag: "commands", summary: "Send an unknown command again: an Exec (or an Atomic/Sequence holding one) is sent at most once, and when its session breaks off without a Status it becomes unknown instead of being resent; this queues a copy and answers it (operator, admin); 409 unless the command is unknown and not resent yet", status: 201, resp: wire.Command{}, errs: []int{401, 403, 404, 409}},
		{method: "GET", path: "/tenants/{tid}/configurationSettings", tag: "policy", summary: "Search the settings catalog as Intune's settings picker does (?search: words of the name, id, OMA-URI or description; ?category: one of configurationCategories)", status: 200, resp: wire.SettingDefinition{}, list: true, errs: ro, query: []string{"search", "category"}},
		{method: "GET", path: "/tenants/{tid}/configurationCategories", tag: "policy", summary: "The settings catalog's categories", status: 200, resp: wire.SettingCategory{}, list: true, errs: ro},
		{method: "GET", path: "/tenants/{tid}/devices/{did}/settingStates", tag: "policy", summary: "Per-setting policy states of a device", status: 200, resp: wire.SettingState{}, list: true, errs: ro},
		{method: "GET", path: "/tenants/{tid}/devices/{did}/profiles", tag: "policy", summary: "A device's profiles, counts by state and settings", status: 200, resp: wire.DeviceProfiles{}, errs: ro},
		{method: "POST", path: "/tokens", tag: "tokens", summary: "Create an admin token; the secret is shown once (global admin)", body: wire.TokenRequest{}, status: 201, resp: wire.CreatedToken{}, errs: []int{400, 401, 403, 413, 422}},
		{method: "GET", path: "/tokens", tag: "tokens", summary: "List admin tokens (admin)", status: 200, resp: wire.Token{}, list: true, errs: []int{401, 403}},
		{method: "GET", path: "/backup", tag: "operations", summary: "A consistent copy of the bbolt database, streamed from one read transaction while the server runs (global admin); 501 on PostgreSQL (use pg_dump)", status: 200, download: true, errs: []int{401, 403, 501}},
		{method: "DELETE", path: "/tokens/{id}", tag: "tokens", summary: "Revoke an admin token: it stops authenticating at once (admin; a tenant admin only its tenant's)", status: 204, errs: []int{401, 403, 404}},
		{method: "POST", path: "/tenants/{tid}/pinReset/consent", tag: "pinReset", summary: "Grant or revoke consent to the PIN reset applications (admin); in a government cloud tenant a grant answers warnings: the PIN reset service is not available there", body: wire.ConsentRequest{}, status: 200, resp: wire.ServicePrincipal{}, list: true, errs: append(rw, 503)},
		{method: "GET", path: "/tenants/{tid}/servicePrincipals", tag: "pinReset", summary: "PIN reset enterprise applications and their consent", status: 200, resp: wire.ServicePrincipal{}, list: true, errs: []int{401, 404, 503}},
		{method: "GET", path: "/tenants/{tid}/wns", tag: "push", summary: "The tenant's WNS push settings (PFN, package SID, whether a client secret is configured; never the secret)", status: 200, resp: wire.TenantWNS{}, errs: []int{401, 404, 503}},
		{method: "PATCH", path: "/tenants/{tid}/wns", tag: "push", summary: "Change the tenant's WNS push settings: only the fields given change, \"\" clears one; clientSecret is write-only; a pfn needs a packageSid and a clientSecret; devices get the PFN (DMClient Push/PFN) at their next session (admin)", body: wire.TenantWNSPatch{}, status: 200, resp: wire.TenantWNS{}, errs: append(rw, 503)},
		{method: "GET", path: "/tenants/{tid}/audit", tag: "audit", summary: "Export the audit log (?from, to, kind, device, profile, actor, format)", status: 200, formats: true, errs: []int{400, 401, 404}},
		{method: "GET", path: "/tenants/{tid}/audit/events", tag: "audit", summary: "A page of the audit log, newest first (?from, to, kind, device, profile, actor as the export; top 1-500, default 50; before: the previous page's nextBefore)", status: 200, resp: wire.AuditPage{}, query: []string{"from", "to", "kind", "device", "profile", "actor", "top", "before"}, errs: []int{400, 401, 404, 501}},
		{method: "GET", path: "/tenants/{tid}/audit/verify", tag: "audit", summary: "Verify the tenant's audit hash chain", status: 200, resp: wire.AuditVerification{}, errs: []int{401, 403, 404}},
		{method: "GET", path: "/tenants/{tid}/reports/compliance", tag: "audit", summary: "Compliance report of PIN recovery settings (?format)", status: 200, formats: true, errs: []int{400, 401, 404}},
		{method: "POST", path: "/tenants/{tid}/groups", tag: "groups", summary: "Create a static group (operator, admin)", body: wire.GroupRequest{}, status: 201, resp: wire.Group{}, errs: append(rw, 409)},
		{method: "GET", path: "/tenants/{tid}/groups", tag: "groups", summary: "List groups in displayName order; search (in the display name), startsWith (the start of the display name), top (page size) and skipToken (the answer's nextSkipToken) page through them", status: 200, resp: wire.Group{}, list: true, paged: true, query: listParams, errs: []int{400, 401, 404}},
		{method: "GET", path: "/tenants/{tid}/groups/{gid}", tag: "groups", summary: "Get a group with its direct member count (memberCount)", status: 200, resp: wire.Group{}, errs: ro},
		{method: "DELETE", path: "/tenants/{tid}/groups/{gid}", tag: "groups", summary: "Delete a group (409 while a profile is assigned to it)", status: 204, errs: []int{401, 403, 404, 409}},
		{method: "POST", path: "/tenants/{tid}/groups/{gid}/members", tag: "groups", summary: "Add a user, device or group (by ID; users also by UPN); 409 on a cycle", body: wire.MemberRequest{}, status: 204, errs: append(rw, 409)},
		{method: "GET", path: "/tenants/{tid}/groups/{gid}/members", tag: "groups", summary: "List direct members by kind then ID; top (page size) and skipToken (the answer's nextSkipToken) page through them, a page reading only its members; id (repeated, at most 100, alone): only which of those IDs are direct members", status: 200, resp: wire.Member{}, list: true, paged: true, query: []string{"top", "skipToken", "id"}, errs: []int{400, 401, 404}},
		{method: "DELETE", path: "/tenants/{tid}/groups/{gid}/members/{mid}", tag: "groups", summary: "Remove a direct member", status: 204, errs: []int{401, 403, 404}},
		{method: "POST", path: "/tenants/{tid}/groupPolicy/analyze", tag: "groupPolicy", upload: true, query: []string{"fileName", "scope"},
			summary: "Analyze a GPO (zip of a GPMC backup folder, gpreport.xml, registry.pol or LGPO text): one row per registry value with its MDM mapping (operator, admin)",
			status:  200, resp: wire.GroupPolicyReport{}, errs: []int{400, 401, 403, 404, 413, 422}},
		{method: "POST", path: "/tenants/{tid}/groupPolicy/import", tag: "groupPolicy", upload: true, query: []string{"fileName", "name", "scope", "dryRun"},
			summary: "Create a custom OMA-URI profile from a GPO's supported settings (dryRun=true: show it, create nothing) (operator, admin)",
			status:  201, resp: wire.GroupPolicyImport{}, errs: []int{400, 401, 403, 404, 413, 422}},
	}
	for _, k := range []struct{ route, what string }{
		{routeSettingsCatalog, "settings catalog policy (#microsoft.graph.deviceManagementConfigurationPolicy)"},
		{routeCustom, "custom OMA-URI profile (#microsoft.graph.windows10CustomConfiguration)"},
	} {
		base := "/tenants/{tid}/" + k.route
		ops = append(ops,
			apiOp{method: "POST", path: base, tag: "profiles", summary: "Import a " + k.what + " as Intune exports it (operator, admin); the answer's warnings name settings that cannot take effect on this tenant's devices (another tenant's ID in a PassportForWork path); ?dryRun=true validates it the same way and answers 200 with the profile as it would be stored, writing nothing", body: profileDoc{}, status: 201, resp: profileDoc{}, errs: rw, query: []string{"dryRun"}},
			apiOp{method: "GET", path: base, tag: "profiles", summary: "List " + k.route + " the token's scope tags see", status: 200, resp: profileDoc{}, list: true, errs: ro},
			apiOp{method: "GET", path: base + "/{pid}", tag: "profiles", summary: "Get a profile in Intune's shape with id, version and roleScopeTagIds", status: 200, resp: profileDoc{}, errs: ro},
			apiOp{method: "PATCH", path: base + "/{pid}", tag: "profiles", summary: "Merge-patch a profile (version + 1); answers warnings as an import does", body: profileDoc{}, status: 200, resp: profileDoc{}, errs: rw},
			apiOp{method: "PUT", path: base + "/{pid}", tag: "profiles", summary: "Replace a profile (version + 1); answers warnings as an import does", body: profileDoc{}, status: 200, resp: profileDoc{}, errs: rw},
			apiOp{method: "DELETE", path: base + "/{pid}", tag: "profiles", summary: "Delete a profile; devices remove its settings at their next check-in", status: 204, errs: []int{401, 403, 404}},
			apiOp{method: "POST", path: base + "/{pid}/assign", tag: "profiles", summary: "Replace the profile's assignments (unknown groupId: 422); assigning EnablePinRecovery in a government cloud tenant answers warnings", body: wire.AssignBody{}, status: 200, resp: wire.Assignment{}, list: true, errs: rw},
			apiOp{method: "GET", path: base + "/{pid}/assignments", tag: "profiles", summary: "List the profile's assignments", status: 200, resp: wire.Assignment{}, list: true, errs: ro},
			apiOp{method: "GET", path: base + "/{pid}/deviceStatuses", tag: "profiles", summary: "Counts by state and every device's settings from the profile, by device ID then LocURI; with top (1-1000 rows), skipToken (the answer's nextSkipToken) and state (one state's rows): one page from the profile status index. After the profile is deleted, its removal per device (deleted, removing) while any device's setting state names it", status: 200, resp: wire.ProfileStatus{}, errs: roQuery,
				query: []string{"state", "top", "skipToken"}},
			apiOp{method: "POST", path: base + "/{pid}/resendToFailed", tag: "profiles", summary: "Re-send the profile to devices where a setting failed; lists them", status: 200, resp: "", list: true, errs: []int{401, 403, 404}},
		)
	}
	return ops
}

// openAPIDocument builds the document.
func openAPIDocument() map[string]any {
	schemas := map[string]any{
		"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
			"error": map[string]any{"type": "object", "required": []string{"code", "message"}, "properties": map[string]any{
				"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"},
				"target":     map[string]any{"type": "string", "description": "the part of the request at fault: for invalidProfile, the setting (settingDefinitionId, displayName or OMA-URI)"},
				"suggestion": map[string]any{"type": "string", "description": "did you mean: a catalog LocURI close to an OMA-URI that matches no node"}}}}},
		"IntuneProfile": map[string]any{"type": "object", "additionalProperties": true,
			"description": "A profile in the JSON shape Intune exports (Microsoft Graph beta). The server sets id, version, roleScopeTagIds, createdDateTime, lastModifiedDateTime (and settingCount for settings catalog policies).",
			"required":    []string{"@odata.type"},
			"properties": map[string]any{
				"@odata.type":     map[string]any{"type": "string", "enum": []string{odataSettingsCatalog, odataCustom}},
				"id":              map[string]any{"type": "string", "readOnly": true},
				"version":         map[string]any{"type": "integer", "readOnly": true},
				"name":            map[string]any{"type": "string", "description": "settings catalog"},
				"displayName":     map[string]any{"type": "string", "description": "custom OMA-URI"},
				"description":     map[string]any{"type": "string"},
				"roleScopeTagIds": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				"settings":        map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
				"omaSettings":     map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
			}},
	}
	paths := map[string]any{}
	for _, op := range apiOps() {
		item, _ := paths["/api/v1"+op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths["/api/v1"+op.path] = item
		}
		item[strings.ToLower(op.method)] = operationDoc(op, schemas)
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "hellomdm admin API", "version": "1",
			"description": "Tenants, identities, devices, OMA-DM commands, configuration policy (Intune JSON shapes), PIN reset onboarding and the audit log. Lists answer {\"value\":[...]}; errors {\"error\":{\"code\",\"message\"}}."},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An admin token (hellomdm admin token create)."}},
			"responses":       map[string]any{"Error": map[string]any{"description": "An error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}},
			"parameters": map[string]any{"IdempotencyKey": map[string]any{
				"name": "Idempotency-Key", "in": "header", "required": false,
				"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKey, "pattern": "^[\\x20-\\x7E]+$"},
				"description": "Makes a retried POST safe. The first request with a key runs and its answer (status code and body) is kept for " +
					IdempotencyKeyLifetime.String() + " in the store, per token; a retry with the same key, method, path and body gets that answer again " +
					"with Idempotency-Replayed: true and changes nothing. 409 idempotencyKeyReused: the key was used for another request; " +
					"idempotencyKeyInProgress (with Retry-After): the first request is still running; idempotencyKeyCommitted: it took effect but its answer was lost; " +
					"idempotencyKeyWithheld: it succeeded and its answer held a secret shown only once (POST /tokens, TOTP enrollment). " +
					"Answers of 500 and above are not kept.",
			}},
			"schemas": schemas,
		},
	}
}

// operationDoc is the OpenAPI operation object of op; the schemas of its bodies are added
// to schemas.
func operationDoc(op apiOp, schemas map[string]any) map[string]any {
	o := map[string]any{"summary": op.summary, "tags": []string{op.tag},
		"operationId": operationID(op.method, op.path)}
	var params []any
	for _, seg := range strings.Split(op.path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	if op.formats {
		params = append(params, map[string]any{"name": "format", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"json", "csv", "ndjson"}}})
	}
	for _, q := range op.query {
		params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
	}
	idempotent := op.method == http.MethodPost && !op.public
	if idempotent {
		params = append(params, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
	}
	if params != nil {
		o["parameters"] = params
	}
	if op.upload {
		o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
	}
	if op.body != nil {
		o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaRef(op.body, schemas)}}}
	}
	o["responses"] = responsesDoc(op, schemas)
	if op.public {
		o["security"] = []any{}
	}
	return o
}

// responsesDoc is the OpenAPI responses object of op: its success answer and its errors.
func responsesDoc(op apiOp, schemas map[string]any) map[string]any {
	idempotent := op.method == http.MethodPost && !op.public
	resps := map[string]any{}
	ok := map[string]any{"description": http.StatusText(op.status)}
	switch {
	case op.formats:
		ok["content"] = map[string]any{
			"application/json":     map[string]any{"schema": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}},
			"text/csv":             map[string]any{"schema": map[string]any{"type": "string"}},
			"application/x-ndjson": map[string]any{"schema": map[string]any{"type": "string"}},
		}
	case op.download:
		ok["content"] = map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
	case op.resp != nil:
		s := schemaRef(op.resp, schemas)
		if op.list {
			props := map[string]any{"value": map[string]any{"type": "array", "items": s}}
			if op.paged {
				props["nextSkipToken"] = map[string]any{"type": "string", "description": "present when more follow: pass it as skipToken for the next page"}
			}
			s = map[string]any{"type": "object", "required": []string{"value"}, "properties": props}
		}
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": s}}
	}
	resps[strconv.Itoa(op.status)] = ok
	for _, code := range op.errs {
		resps[strconv.Itoa(code)] = map[string]any{"$ref": "#/components/responses/Error"}
	}
	if idempotent {
		resps["409"] = map[string]any{"$ref": "#/components/responses/Error"}
	}
	if !op.public { // the one public operation is this document, which needs no store
		// Every operation that reads or writes the store answers 503 when it cannot be
		// reached or a write (with its audit event) fails; nothing is changed then.
		resps["503"] = map[string]any{"$ref": "#/components/responses/Error"}
	}
	return resps
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(path, "/") {
		seg = strings.Trim(seg, "{}.")
		seg = strings.ReplaceAll(seg, ".", "")
		if seg == "" {
			continue
		}
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
	docType  = reflect.TypeFor[profileDoc]()
)

// schemaRef returns the schema of v's type, registering named struct types in schemas.
func schemaRef(v any, schemas map[string]any) map[string]any {
	return schemaOf(reflect.TypeOf(v), schemas)
}

func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == docType:
		return map[string]any{"$ref": "#/components/schemas/IntuneProfile"}
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem(), schemas)
		s["nullable"] = true
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case reflect.Struct:
		name := schemaName(t)
		if name == "" {
			return structSchema(t, schemas)
		}
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // placeholder against recursion
			schemas[name] = structSchema(t, schemas)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// schemaNames are the components' names of the wire types whose Go name is not the schema's
// (the document named them before they moved to package wire); "" puts the schema inline.
var schemaNames = map[reflect.Type]string{
	reflect.TypeFor[wire.AuditVerification]():      "Verify",
	reflect.TypeFor[wire.AuditAnchor]():            "Anchor",
	reflect.TypeFor[wire.AuditBreak]():             "Broken",
	reflect.TypeFor[wire.AuditUnsealed]():          "Unsealed",
	reflect.TypeFor[wire.AuditEvent]():             "Event",
	reflect.TypeFor[wire.AuditActor]():             "Actor",
	reflect.TypeFor[wire.AuditSubject]():           "Subject",
	reflect.TypeFor[wire.CommandResult]():          "Result",
	reflect.TypeFor[wire.DeviceSettingStatus]():    "DeviceSetting",
	reflect.TypeFor[wire.GroupPolicySource]():      "Source",
	reflect.TypeFor[wire.GroupPolicySummary]():     "Summary",
	reflect.TypeFor[wire.GroupPolicyRow]():         "Row",
	reflect.TypeFor[wire.GroupPolicyInstruction](): "Instruction",
	reflect.TypeFor[wire.PasswordProfile]():        "",
}

// schemaName names a struct type in components: wire.Tenant → Tenant, profileDoc →
// ProfileDoc, or schemaNames' name.
func schemaName(t reflect.Type) string {
	if n, ok := schemaNames[t]; ok {
		return n
	}
	n := t.Name()
	if n == "" {
		return ""
	}
	n = strings.TrimSuffix(n, "View")
	return strings.ToUpper(n[:1]) + n[1:]
}

func structSchema(t reflect.Type, schemas map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, schemas)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

// openAPIJSON is the document, encoded once per server.
func openAPIJSON() []byte {
	b, err := json.MarshalIndent(openAPIDocument(), "", "  ")
	if err != nil {
		return []byte(`{"openapi":"3.0.3","info":{"title":"hellomdm admin API","version":"1"},"paths":{}}`)
	}
	return b
}

// openAPIHandler serves the document (public, like Graph's $metadata: it holds no data).
func (s *API) openAPIHandler() http.HandlerFunc {
	doc := openAPIJSON()
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(doc)
	}
}
