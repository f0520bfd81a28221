package e2e

import (
	"encoding/json"
	"net/http"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Tenant-aware forms of the policy admin helpers of policy_admin_test.go (importProfile,
// assign and settingStates act on contoso only); the PIN reset tests also drive fabrikam.

// unassigned is the body of POST .../assign that removes every assignment of a profile:
// the engine then deletes the profile's nodes on the devices and verifies the deletion.
const unassigned = `{"assignments":[]}`

// groupWith creates a group in the tenant holding one member (a device ID or a UPN).
func (e *env) groupWith(tenant, name, member string) string {
	e.t.Helper()
	var g wire.Group
	if st := e.api(http.MethodPost, "/tenants/"+tenant+"/groups", map[string]string{"displayName": name}, &g); st != http.StatusCreated {
		e.t.Fatalf("creating group %q in %s: HTTP %d", name, tenant, st)
	}
	if st := e.api(http.MethodPost, "/tenants/"+tenant+"/groups/"+g.ID+"/members", map[string]string{"id": member}, nil); st != http.StatusNoContent {
		e.t.Fatalf("adding %s to group %q: HTTP %d", member, name, st)
	}
	return g.ID
}

// importProfileIn imports an Intune export into the tenant's route and returns its ID.
func (e *env) importProfileIn(tenant, route, body string) string {
	e.t.Helper()
	st, out := e.post("/tenants/"+tenant+"/"+route, body)
	id, _ := out["id"].(string)
	if st != http.StatusCreated || id == "" {
		e.t.Fatalf("importing into %s of %s: HTTP %d %v", route, tenant, st, out)
	}
	return id
}

// assignIn replaces the assignments of one of the tenant's profiles.
func (e *env) assignIn(tenant, route, pid, body string) {
	e.t.Helper()
	if st, out := e.post("/tenants/"+tenant+"/"+route+"/"+pid+"/assign", body); st != http.StatusOK {
		e.t.Fatalf("assigning %s in %s: HTTP %d %v", pid, tenant, st, out)
	}
}

func (e *env) settingStatesIn(tenant, did string) []wire.SettingState {
	e.t.Helper()
	var out struct{ Value []wire.SettingState }
	if st := e.api(http.MethodGet, "/tenants/"+tenant+"/devices/"+did+"/settingStates", nil, &out); st != http.StatusOK {
		e.t.Fatalf("settingStates of %s in %s: HTTP %d", did, tenant, st)
	}
	return out.Value
}

// syncUntilState syncs the agent until the engine reports the setting whose LocURI ends in
// suffix in state want (a write and its verifying Get can take two sessions), and fails the
// test when it never gets there.
func (e *env) syncUntilState(a *device.Agent, tenant, suffix, want string) {
	e.t.Helper()
	did := a.Identity().DeviceID
	e.syncUntil(a, func() bool { return stateOf(e.settingStatesIn(tenant, did), suffix) == want })
	if st := e.settingStatesIn(tenant, did); stateOf(st, suffix) != want {
		e.t.Fatalf("setting ...%s of %s: states %+v, want %s", suffix, did, st, want)
	}
}

// customAllowListProfile is an Intune custom (OMA-URI) profile setting
// Policy/Config/Authentication/ConfigureWebSignInAllowedUrls to urls, as
// examples/policy/web-sign-in-allowed-urls.custom.json does.
func (e *env) customAllowListProfile(name, urls string) string {
	e.t.Helper()
	type omaSetting struct {
		Type        string `json:"@odata.type"`
		DisplayName string `json:"displayName"`
		OMAURI      string `json:"omaUri"`
		IsEncrypted bool   `json:"isEncrypted"`
		Value       string `json:"value"`
	}
	b, err := json.Marshal(struct {
		Type        string       `json:"@odata.type"`
		DisplayName string       `json:"displayName"`
		OMASettings []omaSetting `json:"omaSettings"`
	}{"#microsoft.graph.windows10CustomConfiguration", name, []omaSetting{{
		Type: "#microsoft.graph.omaSettingString", DisplayName: "ConfigureWebSignInAllowedUrls", OMAURI: allowListURI, Value: urls,
	}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}
