package adminclient_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/policy/gpo"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
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
		{wire.TenantRequest{}, adminapi.TenantRequest{}},
		{wire.TenantPatch{}, adminapi.TenantPatch{}},
		{wire.Tenant{}, adminapi.TenantView{}},
		{wire.UserRequest{}, adminapi.UserRequest{}},
		{wire.User{}, adminapi.UserView{}},
		{wire.UserPatch{}, adminapi.UserPatch{}},
		{wire.AdminRoleRequest{}, adminapi.AdminRoleRequest{}},
		{wire.TOTP{}, adminapi.TOTPView{}},
		{wire.Device{}, adminapi.DeviceView{}},
		{wire.DeviceWNS{}, adminapi.DeviceWNSView{}},
		{wire.TenantWNS{}, adminapi.TenantWNSView{}},
		{wire.TenantWNSPatch{}, adminapi.TenantWNSPatch{}},
		{wire.DevicePage{}, adminapi.DevicePageView{}},
		{wire.Overview{}, adminapi.OverviewView{}},
		{wire.ResendFailed{}, adminapi.ResendFailedView{}},
		{wire.ProfileTrouble{}, adminapi.ProfileTroubleView{}},
		{wire.PushStatus{}, adminapi.PushStatus{}},
		{wire.SyncResult{}, adminapi.SyncResult{}},
		{wire.TokenRequest{}, adminapi.TokenRequest{}},
		{wire.Token{}, adminapi.TokenView{}},
		{wire.CreatedToken{}, adminapi.CreatedTokenView{}},
		{wire.CommandRequest{}, adminapi.CommandRequest{}},
		{wire.Command{}, adminapi.CommandView{}},
		{wire.CommandResult{}, adminapi.ResultView{}},
		{wire.ConsentRequest{}, adminapi.ConsentRequest{}},
		{wire.SettingDefinition{}, adminapi.SettingDefinitionView{}},
		{wire.SettingOption{}, adminapi.SettingOptionView{}},
		{wire.ServicePrincipal{}, adminapi.ServicePrincipalView{}},
		{wire.GroupRequest{}, adminapi.GroupRequest{}},
		{wire.Group{}, adminapi.GroupView{}},
		{wire.Member{}, adminapi.MemberView{}},
		{wire.AssignmentTarget{}, adminapi.AssignmentTarget{}},
		{wire.Assignment{}, adminapi.AssignmentView{}},
		{wire.SettingState{}, adminapi.SettingStateView{}},
		{wire.ProfileStatus{}, adminapi.ProfileStatusView{}},
		{wire.DeviceSettingStatus{}, adminapi.DeviceSettingView{}},
		{wire.DeviceProfiles{}, adminapi.DeviceProfilesView{}},
		{wire.GroupPolicyReport{}, adminapi.GroupPolicyReportView{}},
		{wire.GroupPolicyImport{}, adminapi.GroupPolicyImportView{}},
		{wire.AuditVerification{}, adminapi.VerifyView{}},
		{wire.AuditAnchor{}, adminapi.AnchorView{}},
		{wire.AuditBreak{}, adminapi.BrokenView{}},
		{wire.AuditPage{}, adminapi.AuditPageView{}},
		{wire.AuditUnsealed{}, adminapi.UnsealedView{}},
		{wire.AuditEvent{}, audit.Event{}},
		{wire.AuditActor{}, audit.Actor{}},
		{wire.AuditSubject{}, audit.Subject{}},
		{wire.GroupPolicySource{}, gpo.Source{}},
		{wire.GroupPolicySummary{}, gpo.Summary{}},
		{wire.GroupPolicyRow{}, gpo.Row{}},
		{wire.GroupPolicyInstruction{}, gpo.Instruction{}},
		{wire.MemberRequest{}, adminapi.MemberRequest{}},
		{wire.SettingCategory{}, adminapi.SettingCategoryView{}},
	}
	for _, p := range pairs {
		ct, st := reflect.TypeOf(p.client), reflect.TypeOf(p.server)
		if c, s := jsonFields(ct), jsonFields(st); !reflect.DeepEqual(c, s) {
			t.Errorf("%s does not match %s:\n client %v\n server %v", ct, st, c, s)
		}
		// Byte for byte, property order included: the server's value, every field set, read
		// into the wire type and written again.
		sv := reflect.New(st).Elem()
		fill(sv, map[reflect.Type]bool{})
		sb, err := json.Marshal(sv.Interface())
		if err != nil {
			t.Fatal(err)
		}
		cv := reflect.New(ct)
		if err := json.Unmarshal(sb, cv.Interface()); err != nil {
			t.Fatal(err)
		}
		if cb, _ := json.Marshal(cv.Elem().Interface()); !bytes.Equal(cb, sb) {
			t.Errorf("%s encodes unlike %s:\n client %s\n server %s", ct, st, cb, sb)
		}
	}
}

// fill sets every exported field of v.
func fill(v reflect.Value, seen map[reflect.Type]bool) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
		return
	case reflect.TypeFor[json.RawMessage]():
		v.Set(reflect.ValueOf(json.RawMessage(`{"raw":1}`)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(3)
	case reflect.Uint64:
		v.SetUint(4)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), seen)
		v.Set(p)
	case reflect.Slice:
		if !seen[v.Type().Elem()] {
			s := reflect.MakeSlice(v.Type(), 2, 2)
			fill(s.Index(0), seen)
			fill(s.Index(1), seen)
			v.Set(s)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, seen)
		m.SetMapIndex(reflect.ValueOf("a"), e)
		m.SetMapIndex(reflect.ValueOf("b"), e)
		v.Set(m)
	case reflect.Struct:
		seen[v.Type()] = true
		defer delete(seen, v.Type())
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				fill(v.Field(i), seen)
				if v.Field(i).Kind() == reflect.String {
					v.Field(i).SetString(v.Type().Field(i).Name)
				}
			}
		}
	}
}
