package adminclient_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// jsonFields lists t's JSON properties as "name,options:kind", embedded structs flattened
// (as encoding/json does).
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		kind := f.Type.Kind().String()
		if f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Slice {
			kind += "/" + f.Type.Elem().Kind().String()
		}
		out = append(out, name+","+opts+":"+kind)
	}
	sort.Strings(out)
	return out
}

// TestWireTypesMatchServer holds each wire type to the server type whose JSON it mirrors:
// the same properties, omitempty/omitzero options and kinds of value.
func TestWireTypesMatchServer(t *testing.T) {
	pairs := []struct{ client, server any }{
		{adminclient.TenantRequest{}, adminapi.TenantRequest{}},
		{adminclient.TenantPatch{}, adminapi.TenantPatch{}},
		{adminclient.Tenant{}, adminapi.TenantView{}},
		{adminclient.UserRequest{}, adminapi.UserRequest{}},
		{adminclient.User{}, adminapi.UserView{}},
		{adminclient.UserPatch{}, adminapi.UserPatch{}},
		{adminclient.AdminRoleRequest{}, adminapi.AdminRoleRequest{}},
		{adminclient.TOTP{}, adminapi.TOTPView{}},
		{adminclient.Device{}, adminapi.DeviceView{}},
		{adminclient.DeviceWNS{}, adminapi.DeviceWNSView{}},
		{adminclient.TenantWNS{}, adminapi.TenantWNSView{}},
		{adminclient.TenantWNSPatch{}, adminapi.TenantWNSPatch{}},
		{adminclient.DevicePage{}, adminapi.DevicePageView{}},
		{adminclient.Overview{}, adminapi.OverviewView{}},
		{adminclient.ResendFailed{}, adminapi.ResendFailedView{}},
		{adminclient.ProfileTrouble{}, adminapi.ProfileTroubleView{}},
		{adminclient.PushStatus{}, adminapi.PushStatus{}},
		{adminclient.SyncResult{}, adminapi.SyncResult{}},
		{adminclient.TokenRequest{}, adminapi.TokenRequest{}},
		{adminclient.Token{}, adminapi.TokenView{}},
		{adminclient.CreatedToken{}, adminapi.CreatedTokenView{}},
		{adminclient.CommandRequest{}, adminapi.CommandRequest{}},
		{adminclient.Command{}, adminapi.CommandView{}},
		{adminclient.CommandResult{}, adminapi.ResultView{}},
		{adminclient.ConsentRequest{}, adminapi.ConsentRequest{}},
		{adminclient.SettingDefinition{}, adminapi.SettingDefinitionView{}},
		{adminclient.SettingOption{}, adminapi.SettingOptionView{}},
		{adminclient.ServicePrincipal{}, adminapi.ServicePrincipalView{}},
		{adminclient.GroupRequest{}, adminapi.GroupRequest{}},
		{adminclient.Group{}, adminapi.GroupView{}},
		{adminclient.Member{}, adminapi.MemberView{}},
		{adminclient.AssignmentTarget{}, adminapi.AssignmentTarget{}},
		{adminclient.Assignment{}, adminapi.AssignmentView{}},
		{adminclient.SettingState{}, adminapi.SettingStateView{}},
		{adminclient.ProfileStatus{}, adminapi.ProfileStatusView{}},
		{adminclient.DeviceSettingStatus{}, adminapi.DeviceSettingView{}},
		{adminclient.DeviceProfiles{}, adminapi.DeviceProfilesView{}},
		{adminclient.GroupPolicyReport{}, adminapi.GroupPolicyReportView{}},
		{adminclient.GroupPolicyImport{}, adminapi.GroupPolicyImportView{}},
		{adminclient.AuditVerification{}, adminapi.VerifyView{}},
		{adminclient.AuditAnchor{}, adminapi.AnchorView{}},
		{adminclient.AuditBreak{}, adminapi.BrokenView{}},
		{adminclient.AuditPage{}, adminapi.AuditPageView{}},
		{adminclient.AuditUnsealed{}, adminapi.UnsealedView{}},
		{adminclient.AuditEvent{}, audit.Event{}},
		{adminclient.AuditActor{}, audit.Actor{}},
		{adminclient.AuditSubject{}, audit.Subject{}},
	}
	for _, p := range pairs {
		ct, st := reflect.TypeOf(p.client), reflect.TypeOf(p.server)
		if c, s := jsonFields(ct), jsonFields(st); !reflect.DeepEqual(c, s) {
			t.Errorf("%s does not match %s:\n client %v\n server %v", ct, st, c, s)
		}
	}
}
