package adminclient_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server"
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
		{adminclient.TenantRequest{}, server.TenantRequest{}},
		{adminclient.TenantPatch{}, server.TenantPatch{}},
		{adminclient.Tenant{}, server.TenantView{}},
		{adminclient.UserRequest{}, server.UserRequest{}},
		{adminclient.User{}, server.UserView{}},
		{adminclient.UserPatch{}, server.UserPatch{}},
		{adminclient.TOTP{}, server.TOTPView{}},
		{adminclient.Device{}, server.DeviceView{}},
		{adminclient.TokenRequest{}, server.TokenRequest{}},
		{adminclient.Token{}, server.TokenView{}},
		{adminclient.CreatedToken{}, server.CreatedTokenView{}},
		{adminclient.CommandRequest{}, server.CommandRequest{}},
		{adminclient.Command{}, server.CommandView{}},
		{adminclient.CommandResult{}, server.ResultView{}},
		{adminclient.ConsentRequest{}, server.ConsentRequest{}},
		{adminclient.ServicePrincipal{}, server.ServicePrincipalView{}},
		{adminclient.GroupRequest{}, server.GroupRequest{}},
		{adminclient.Group{}, server.GroupView{}},
		{adminclient.Member{}, server.MemberView{}},
		{adminclient.AssignmentTarget{}, server.AssignmentTarget{}},
		{adminclient.Assignment{}, server.AssignmentView{}},
		{adminclient.SettingState{}, server.SettingStateView{}},
		{adminclient.ProfileStatus{}, server.ProfileStatusView{}},
		{adminclient.DeviceSettingStatus{}, server.DeviceSettingView{}},
		{adminclient.DeviceProfiles{}, server.DeviceProfilesView{}},
		{adminclient.GroupPolicyReport{}, server.GroupPolicyReportView{}},
		{adminclient.GroupPolicyImport{}, server.GroupPolicyImportView{}},
		{adminclient.AuditVerification{}, server.VerifyView{}},
		{adminclient.AuditAnchor{}, server.AnchorView{}},
		{adminclient.AuditBreak{}, server.BrokenView{}},
	}
	for _, p := range pairs {
		ct, st := reflect.TypeOf(p.client), reflect.TypeOf(p.server)
		if c, s := jsonFields(ct), jsonFields(st); !reflect.DeepEqual(c, s) {
			t.Errorf("%s does not match %s:\n client %v\n server %v", ct, st, c, s)
		}
	}
}
