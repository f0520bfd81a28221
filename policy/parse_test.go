package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

func readProfile(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "profiles", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseGoodProfiles(t *testing.T) {
	p := NewParser(csp.Default())
	tests := []struct {
		file      string
		kind      string
		name      string
		scopeTags []string
		want      []model.ProfileSetting
	}{
		{
			file: "catalog_pin_recovery.json", kind: model.ProfileSettingsCatalog, name: "WHfB - Enable PIN recovery", scopeTags: []string{"0"},
			want: []model.ProfileSetting{
				{LocURI: "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/UsePassportForWork", Format: "bool", Value: "true"},
				{LocURI: "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", Format: "bool", Value: "true"},
				{LocURI: "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/PINComplexity/MinimumPINLength", Format: "int", Value: "6"},
				{LocURI: "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", Format: "chr", Value: "login.contoso.com;idp.contoso.com"},
			},
		},
		{
			file: "custom_websignin.json", kind: model.ProfileCustom, name: "Web sign-in allowed URLs", scopeTags: []string{"0", "3"},
			want: []model.ProfileSetting{
				{LocURI: "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", Format: "chr", Value: "login.contoso.com;idp.contoso.com"},
				{LocURI: "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", Format: "bool", Value: "true"},
				{LocURI: "./Device/Vendor/MSFT/Policy/Config/Start/HideShutDown", Format: "int", Value: "1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readProfile(t, tt.file)
			got, err := p.ParseProfile(raw)
			if err != nil {
				t.Fatalf("ParseProfile: %v", err)
			}
			if got.Kind != tt.kind || got.Name != tt.name || strings.Join(got.ScopeTags, ",") != strings.Join(tt.scopeTags, ",") {
				t.Errorf("kind/name/tags = %s/%q/%v, want %s/%q/%v", got.Kind, got.Name, got.ScopeTags, tt.kind, tt.name, tt.scopeTags)
			}
			if string(got.Raw) != string(raw) {
				t.Error("Raw is not the input verbatim")
			}
			if len(got.Settings) != len(tt.want) {
				t.Fatalf("got %d settings %+v, want %d", len(got.Settings), got.Settings, len(tt.want))
			}
			for i, w := range tt.want {
				g := got.Settings[i]
				if g.LocURI != w.LocURI || g.Format != w.Format || g.Value != w.Value {
					t.Errorf("setting %d = %s %s %q, want %s %s %q", i, g.LocURI, g.Format, g.Value, w.LocURI, w.Format, w.Value)
				}
			}
		})
	}
}

func TestParseBadProfiles(t *testing.T) {
	p := NewParser(csp.Default())
	tests := []struct {
		name       string
		file       string
		raw        string
		err        error
		setting    string
		msg        string
		suggestion string
	}{
		{name: "unknown definition id", file: "bad_unknown_definition.json", err: ErrInvalidSetting,
			setting: "device_vendor_msft_policy_config_abovelock_allowtoasts", msg: "unknown settingDefinitionId"},
		{name: "child without parent group", file: "bad_child_without_parent.json", err: ErrInvalidSetting,
			setting: "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery", msg: "without its parent group"},
		{name: "duplicate single value", file: "bad_duplicate.json", err: ErrInvalidSetting,
			setting: "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery", msg: "set twice"},
		{name: "wrong type", file: "bad_wrong_type.json", err: ErrInvalidSetting,
			setting: "device_vendor_msft_policy_config_authentication_enablewebsignin", msg: "wrong type"},
		{name: "out of range", file: "bad_out_of_range.json", err: ErrInvalidSetting,
			setting: "device_vendor_msft_passportforwork_{tenantid}_policies_pincomplexity_minimumpinlength", msg: "outside"},
		{name: "extra Policy segment", file: "bad_policy_passport_path.json", err: ErrInvalidSetting, setting: "EnablePinRecovery",
			msg: "does not exist", suggestion: "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery"},
		{name: "legacy format", file: "bad_legacy.json", err: ErrUnsupportedFormat, msg: "windowsIdentityProtectionConfiguration"},
		{name: "url with scheme in domain list", file: "bad_custom_wrong_value.json", err: ErrInvalidSetting, setting: "AllowedUrls", msg: "value not allowed"},
		{name: "general configuration", raw: `{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"x"}`, err: ErrUnsupportedFormat, msg: "legacy"},
		{name: "group policy", raw: `{"@odata.type":"#microsoft.graph.groupPolicyConfiguration","displayName":"x"}`, err: ErrUnsupportedFormat, msg: "ADMX"},
		{name: "no type and no settings", raw: `{"displayName":"x"}`, err: ErrUnsupportedFormat, msg: "unsupported format"},
		{name: "not json", raw: `{"name":`, err: ErrMalformed},
		{name: "no settings", raw: `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"x","settings":[]}`, err: ErrMalformed, msg: "no settings"},
		{name: "bool choice with bad option", raw: `{"name":"x","settings":[{"settingInstance":{"@odata.type":"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}","groupSettingCollectionValue":[{"children":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery","choiceSettingValue":{"value":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery_2"}}]}]}}]}`,
			err: ErrInvalidSetting, setting: "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery", msg: "value not allowed"},
		{name: "bool as simple value", raw: `{"name":"x","settings":[{"settingInstance":{"@odata.type":"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}","groupSettingCollectionValue":[{"children":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery","simpleSettingValue":{"@odata.type":"#microsoft.graph.deviceManagementConfigurationStringSettingValue","value":"true"}}]}]}}]}`,
			err: ErrInvalidSetting, setting: "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery", msg: "wrong type"},
		{name: "custom bool not a bool", raw: `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"b","omaUri":"./Device/Vendor/MSFT/Foo/Bar","value":"yes"}]}`,
			err: ErrInvalidSetting, setting: "b", msg: "wrong type"},
		{name: "custom int on bool node", raw: `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingInteger","displayName":"i","omaUri":"./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery","value":1}]}`,
			err: ErrInvalidSetting, setting: "i", msg: "wrong format"},
		{name: "custom malformed uri", raw: `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"u","omaUri":"/Vendor//MSFT","value":"v"}]}`,
			err: ErrInvalidSetting, setting: "u", msg: "must start with ./"},
		{name: "custom same node twice", raw: `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"a","omaUri":"./Vendor/MSFT/X/Y","value":"v"},{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"b","omaUri":"./Device/Vendor/MSFT/X/Y","value":"w"}]}`,
			err: ErrInvalidSetting, setting: "b", msg: "set twice"},
		{name: "custom encrypted", raw: `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"e","omaUri":"./Vendor/MSFT/X/Y","value":"v","isEncrypted":true}]}`,
			err: ErrInvalidSetting, setting: "e", msg: "encrypted"},
		{name: "read-only node", raw: `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"r","omaUri":"./DevDetail/SwV","value":"v"}]}`,
			err: ErrInvalidSetting, setting: "r", msg: "cannot be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			if tt.file != "" {
				raw = readProfile(t, tt.file)
			}
			_, err := p.ParseProfile(raw)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
			if ve.Setting != tt.setting {
				t.Errorf("Setting = %q, want %q", ve.Setting, tt.setting)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if ve.Suggestion != tt.suggestion {
				t.Errorf("Suggestion = %q, want %q", ve.Suggestion, tt.suggestion)
			}
			if tt.suggestion != "" && !strings.Contains(err.Error(), "did you mean "+tt.suggestion) {
				t.Errorf("error %q does not carry the suggestion", err)
			}
		})
	}
}

func TestNormURITenantForms(t *testing.T) {
	for _, in := range []string{
		"./Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery",
		"./Vendor/MSFT/PassportForWork/<TenantId>/Policies/EnablePinRecovery",
		"./Device/Vendor/MSFT/PassportForWork/{tenantid}/Policies/EnablePinRecovery",
		"./Device/Vendor/MSFT/PassportForWork/<Tenant ID>/Policies/EnablePinRecovery/",
	} {
		got, err := normURI(in)
		if want := "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery"; err != nil || got != want {
			t.Errorf("normURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseAssignments(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []model.Assignment
		err  bool
	}{
		{name: "all shapes", raw: `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g1"}},{"target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"g2"}},{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}},{"target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}}]}`,
			want: []model.Assignment{{Target: model.TargetGroup, GroupID: "g1"}, {Target: model.TargetExclusionGroup, GroupID: "g2"}, {Target: model.TargetAllDevices}, {Target: model.TargetAllLicensedUsers}}},
		{name: "graph list response, duplicates merged", raw: `{"value":[{"id":"a","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g1"}},{"id":"b","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g1"}}]}`,
			want: []model.Assignment{{Target: model.TargetGroup, GroupID: "g1"}}},
		{name: "empty clears", raw: `{"assignments":[]}`, want: []model.Assignment{}},
		{name: "group without id", raw: `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget"}}]}`, err: true},
		{name: "unknown target", raw: `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget"}}]}`, err: true},
		{name: "not json", raw: `[`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAssignments([]byte(tt.raw))
			if tt.err {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("got %v, want a *ValidationError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
			out, err := MarshalAssignments(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseAssignments(out)
			if err != nil || len(again) != len(got) {
				t.Errorf("round trip: %v, %v", again, err)
			}
		})
	}
}
