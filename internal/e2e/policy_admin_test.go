package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Intune exports as an admin would import them.
const (
	catalogPinRecoveryExport = `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"WHfB - Enable PIN recovery","platforms":"windows10","technologies":"mdm",
"settings":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationSetting","settingInstance":{
"@odata.type":"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}",
"groupSettingCollectionValue":[{"children":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
"settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery",
"choiceSettingValue":{"value":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery_true","children":[]}}]}]}}]}`
	customAllowListExport = `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"Web sign-in allowed URLs",
"omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"ConfigureWebSignInAllowedUrls",
"omaUri":"./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls","isEncrypted":false,"value":"signin.contoso.com;portal.contoso.com"}]}`
	customPinRecoveryOff = `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"PIN recovery off",
"omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"EnablePinRecovery",
"omaUri":"./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery","isEncrypted":false,"value":false}]}`
)

// post sends a raw JSON body (an Intune export) and decodes the answer.
func (e *env) post(path, body string) (int, map[string]any) {
	e.t.Helper()
	var out map[string]any
	st := e.api(http.MethodPost, path, json.RawMessage(body), &out)
	return st, out
}

// importProfile imports an Intune export and returns its ID.
// importProfile, assign and settingStates work in the contoso tenant (profile_helpers_test.go
// has the versions that take a tenant).
func (e *env) importProfile(route, body string) string {
	e.t.Helper()
	return e.importProfileIn(contosoTenant, route, body)
}

func (e *env) assign(route, pid, body string) {
	e.t.Helper()
	e.assignIn(contosoTenant, route, pid, body)
}

func (e *env) settingStates(did string) []wire.SettingState {
	e.t.Helper()
	return e.settingStatesIn(contosoTenant, did)
}

// stateOf is the state of the device's setting whose LocURI ends in suffix ("" if none).
func stateOf(states []wire.SettingState, suffix string) string {
	for _, s := range states {
		if strings.HasSuffix(s.LocURI, suffix) {
			return s.State
		}
	}
	return ""
}

// syncUntil runs sessions until done reports true (at most three: write, verify, settle).
func (e *env) syncUntil(a *device.Agent, done func() bool) {
	e.t.Helper()
	for range 3 {
		if _, err := a.Sync(context.Background()); err != nil {
			e.t.Fatalf("sync: %v", err)
		}
		if done() {
			return
		}
	}
}

func groupTarget(gid string) string {
	return `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + gid + `"}}]}`
}

// Issue 6 acceptance: two imported Intune profiles assigned to a group reach exactly the
// devices in it, are reported succeeded, and are removed from a device that leaves the group.
func TestPolicyAssignmentEndToEnd(t *testing.T) {
	e := start(t)
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/users", map[string]any{"userPrincipalName": "carol@contoso.com",
		"passwordProfile": map[string]string{"password": password}}, nil); st != http.StatusCreated {
		t.Fatalf("creating carol: HTTP %d", st)
	}
	agents := make([]*device.Agent, 3)
	ids := make([]string, 3)
	for i, upn := range []string{"alice@contoso.com", "carol@contoso.com", "carol@contoso.com"} {
		agents[i] = e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
		e.enroll(agents[i], upn, enroll.CSRWindows)
		ids[i] = agents[i].Identity().DeviceID
	}
	const (
		pinSuffix   = "/PassportForWork/" + contosoTenant + "/Policies/EnablePinRecovery"
		allowSuffix = "/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	)

	var g wire.Group
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups", map[string]string{"displayName": "WHfB pilot"}, &g); st != http.StatusCreated {
		t.Fatalf("creating group: HTTP %d", st)
	}
	for _, id := range ids[:2] {
		if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups/"+g.ID+"/members", map[string]string{"id": id}, nil); st != http.StatusNoContent {
			t.Fatalf("adding %s: HTTP %d", id, st)
		}
	}
	pin := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	allow := e.importProfile("deviceConfigurations", customAllowListExport)
	e.assign("configurationPolicies", pin, groupTarget(g.ID))
	e.assign("deviceConfigurations", allow, groupTarget(g.ID))

	for i, a := range agents {
		e.syncUntil(a, func() bool {
			st := e.settingStates(ids[i])
			return i == 2 || stateOf(st, pinSuffix) == store.SettingSucceeded && stateOf(st, allowSuffix) == store.SettingSucceeded
		})
	}
	wantURLs := []string{"signin.contoso.com", "portal.contoso.com"}
	for i, a := range agents[:2] {
		st := e.settingStates(ids[i])
		if stateOf(st, pinSuffix) != store.SettingSucceeded || stateOf(st, allowSuffix) != store.SettingSucceeded || len(st) != 2 {
			t.Errorf("device %d settingStates = %+v", i, st)
		}
		if pol := a.Policy(); !pol.PINRecoveryEnabled || !slices.Equal(pol.WebSignInAllowedURLs, wantURLs) {
			t.Errorf("device %d policy = %+v", i, pol)
		}
	}
	if st := e.settingStates(ids[2]); len(st) != 0 {
		t.Errorf("device outside the group has settings %+v", st)
	}
	var cmds struct{ Value []wire.Command }
	if e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+ids[2]+"/commands", nil, &cmds); len(cmds.Value) != 0 {
		t.Errorf("device outside the group got commands %+v", cmds.Value)
	}
	if pol := agents[2].Policy(); pol.PINRecoveryEnabled || len(pol.WebSignInAllowedURLs) != 0 {
		t.Errorf("device outside the group has policy %+v", pol)
	}
	for _, p := range []struct{ route, id string }{{"configurationPolicies", pin}, {"deviceConfigurations", allow}} {
		var rep wire.ProfileStatus
		if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/"+p.route+"/"+p.id+"/deviceStatuses", nil, &rep); st != http.StatusOK ||
			rep.Counts[store.SettingSucceeded] != 2 || len(rep.Devices) != 2 {
			t.Errorf("%s deviceStatuses: HTTP %d %+v", p.route, st, rep)
		}
	}

	// Device 1 leaves the group: the engine deletes both nodes and verifies.
	if st := e.api(http.MethodDelete, "/tenants/"+contosoTenant+"/groups/"+g.ID+"/members/"+ids[1], nil, nil); st != http.StatusNoContent {
		t.Fatalf("removing device: HTTP %d", st)
	}
	e.syncUntil(agents[1], func() bool {
		st := e.settingStates(ids[1])
		return stateOf(st, pinSuffix) == store.SettingRemoved && stateOf(st, allowSuffix) == store.SettingRemoved
	})
	if st := e.settingStates(ids[1]); stateOf(st, pinSuffix) != store.SettingRemoved || stateOf(st, allowSuffix) != store.SettingRemoved {
		t.Errorf("removed device settingStates = %+v", st)
	}
	if pol := agents[1].Policy(); pol.PINRecoveryEnabled || len(pol.WebSignInAllowedURLs) != 0 {
		t.Errorf("removed device policy = %+v, want defaults", pol)
	}
	if _, err := agents[0].Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pol := agents[0].Policy(); !pol.PINRecoveryEnabled {
		t.Errorf("the device still in the group lost its policy: %+v", pol)
	}

	// Membership through the enrolled user: carol joins, so both of her devices get the policy.
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups/"+g.ID+"/members", map[string]string{"id": "carol@contoso.com"}, nil); st != http.StatusNoContent {
		t.Fatalf("adding carol: HTTP %d", st)
	}
	for _, i := range []int{1, 2} {
		e.syncUntil(agents[i], func() bool { return stateOf(e.settingStates(ids[i]), pinSuffix) == store.SettingSucceeded })
		if st := e.settingStates(ids[i]); stateOf(st, pinSuffix) != store.SettingSucceeded || stateOf(st, allowSuffix) != store.SettingSucceeded {
			t.Errorf("device %d through its user: %+v", i, st)
		}
		if !agents[i].Policy().PINRecoveryEnabled {
			t.Errorf("device %d through its user: policy %+v", i, agents[i].Policy())
		}
	}
}

// Two profiles giving EnablePinRecovery different values: conflict, and nothing is sent.
func TestPolicyConflictEndToEnd(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	all := `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`
	on := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	off := e.importProfile("deviceConfigurations", customPinRecoveryOff)
	e.assign("configurationPolicies", on, all)
	e.assign("deviceConfigurations", off, all)
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	states := e.settingStates(did)
	if len(states) != 1 || states[0].State != store.SettingConflict {
		t.Fatalf("settingStates = %+v, want one conflict", states)
	}
	if src := states[0].Sources; !slices.Contains(src, on) || !slices.Contains(src, off) {
		t.Errorf("conflict sources = %v, want both profiles", src)
	}
	var cmds struct{ Value []wire.Command }
	e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did+"/commands", nil, &cmds)
	for _, c := range cmds.Value {
		if strings.Contains(c.LocURI, "EnablePinRecovery") {
			t.Errorf("a command was sent for the conflicting node: %+v", c)
		}
	}
	if a.Policy().PINRecoveryEnabled {
		t.Errorf("policy = %+v", a.Policy())
	}
}
