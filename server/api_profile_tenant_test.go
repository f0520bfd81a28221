package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server/omadm"
)

// Custom OMA-URIs and the tenant's ID: a literal TenantId segment is refused with the
// corrected URI naming this tenant; another tenant's GUID is accepted with a warning in the
// answer (create and update), never stored in the profile.
func TestProfileTenantIDAdvice(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	const other = "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d"
	doc := func(uri string) string {
		return `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"PIN recovery","omaSettings":[` +
			`{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"EnablePinRecovery","omaUri":"` + uri + `","value":true}]}`
	}
	path := "/tenants/" + testTenant + "/deviceConfigurations"

	st, body := ts.call(testToken, http.MethodPost, path, doc("./Device/Vendor/MSFT/PassportForWork/TenantId/Policies/EnablePinRecovery"))
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if st != http.StatusUnprocessableEntity || !strings.Contains(msg, "replace TenantId with your tenant ID ("+testTenant+")") ||
		!strings.Contains(msg, "./Device/Vendor/MSFT/PassportForWork/"+testTenant+"/Policies/EnablePinRecovery") {
		t.Fatalf("literal TenantId: HTTP %d %q", st, msg)
	}

	st, body = ts.call(testToken, http.MethodPost, path, doc("./Device/Vendor/MSFT/PassportForWork/"+other+"/Policies/EnablePinRecovery"))
	ws, _ := body["warnings"].([]any)
	if st != http.StatusCreated || len(ws) != 1 || !strings.Contains(ws[0].(string), other) || !strings.Contains(ws[0].(string), testTenant) {
		t.Fatalf("another tenant's GUID: HTTP %d warnings %v", st, body["warnings"])
	}
	id, _ := body["id"].(string)
	if st, got := ts.call(testToken, http.MethodGet, path+"/"+id, ""); st != http.StatusOK || got["warnings"] != nil {
		t.Fatalf("the stored profile carries warnings: HTTP %d %v", st, got["warnings"])
	}
	// Fixing it with an update: no warning any more.
	st, body = ts.call(testToken, http.MethodPut, path+"/"+id, doc("./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery"))
	if st != http.StatusOK || body["warnings"] != nil {
		t.Fatalf("update: HTTP %d warnings %v", st, body["warnings"])
	}
	st, body = ts.call(testToken, http.MethodPatch, path+"/"+id, `{"omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"x","omaUri":"./Device/Vendor/MSFT/PassportForWork/`+other+`/Policies/EnablePinRecovery","value":true}]}`)
	if ws, _ := body["warnings"].([]any); st != http.StatusOK || len(ws) != 1 {
		t.Fatalf("patch: HTTP %d warnings %v", st, body["warnings"])
	}
}
