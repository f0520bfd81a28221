package e2e

import (
	"net/http"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// After a profile is deleted its status keeps answering: removal pending per device until the
// device has checked in and confirmed the Delete, then removed. A setting that another
// profile still sets is not reported as being removed.
func TestDeletedProfileStatusFollowsRemoval(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	const route = "deviceConfigurations"
	all := `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`
	pid := e.importProfile(route, e.customAllowListProfile("Allow list", allowList))
	e.assign(route, pid, all)
	e.syncUntilState(a, contosoTenant, "ConfigureWebSignInAllowedUrls", "succeeded")

	status := func(path string) (int, wire.ProfileStatus) {
		t.Helper()
		var v wire.ProfileStatus
		st := e.api(http.MethodGet, path, nil, &v)
		return st, v
	}
	path := "/tenants/" + contosoTenant + "/" + route + "/" + pid + "/deviceStatuses"
	if st := e.api(http.MethodDelete, "/tenants/"+contosoTenant+"/"+route+"/"+pid, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d", st)
	}
	st, v := status(path)
	if st != http.StatusOK || !v.Deleted || v.Counts["pending"] != 1 || len(v.Devices) != 1 || v.Devices[0].DeviceID != did ||
		!v.Devices[0].Settings[0].Removing || v.Devices[0].Settings[0].State != "pending" {
		t.Fatalf("before the device checked in: HTTP %d %+v", st, v)
	}
	// A token with scope tags cannot tell which tags the deleted profile had: 404.
	var tok wire.CreatedToken
	if st := e.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "scoped", Role: "reader", TenantID: contosoTenant, RoleScopeTagIDs: []string{"0"}}, &tok); st != http.StatusCreated {
		t.Fatalf("token: HTTP %d", st)
	}
	req, err := http.NewRequest(http.MethodGet, e.url+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Secret)
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("scoped token: HTTP %d", resp.StatusCode)
	}
	// The other profile route answers for the deleted profile too (its kind went with it).
	if st, _ := status("/tenants/" + contosoTenant + "/configurationPolicies/" + pid + "/deviceStatuses"); st != http.StatusOK {
		t.Fatalf("other route: HTTP %d", st)
	}
	e.syncUntilState(a, contosoTenant, "ConfigureWebSignInAllowedUrls", "removed")
	st, v = status(path)
	if st != http.StatusOK || !v.Deleted || v.Counts["removed"] != 1 || v.Counts["pending"] != 0 || v.Devices[0].Settings[0].Removing {
		t.Fatalf("after the device confirmed: HTTP %d %+v", st, v)
	}
	if st, _ := status("/tenants/" + contosoTenant + "/" + route + "/00000000-0000-0000-0000-00000000beef/deviceStatuses"); st != http.StatusNotFound {
		t.Fatalf("a profile that never existed: HTTP %d", st)
	}

	// Two profiles set the same node; deleting one leaves the node to the other.
	p1 := e.importProfile(route, e.customAllowListProfile("A", allowList))
	p2 := e.importProfile(route, e.customAllowListProfile("B", allowList))
	e.assign(route, p1, all)
	e.assign(route, p2, all)
	e.syncUntilState(a, contosoTenant, "ConfigureWebSignInAllowedUrls", "succeeded")
	if st := e.api(http.MethodDelete, "/tenants/"+contosoTenant+"/"+route+"/"+p1, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d", st)
	}
	if st, v := status("/tenants/" + contosoTenant + "/" + route + "/" + p1 + "/deviceStatuses"); st != http.StatusNotFound {
		t.Fatalf("a deleted profile whose node another profile still sets: HTTP %d %+v", st, v)
	}
}
