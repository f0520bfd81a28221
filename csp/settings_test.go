package csp

import (
	"slices"
	"testing"
)

func TestSettingName(t *testing.T) {
	for in, want := range map[string]string{
		"EnablePinRecovery":             "Enable Pin Recovery",
		"MinimumPINLength":              "Minimum PIN Length",
		"TPM12":                         "TPM12",
		"UseRemotePassport":             "Use Remote Passport",
		"ConfigureWebSignInAllowedUrls": "Configure Web Sign In Allowed Urls",
		"":                              "",
	} {
		if got := SettingName(in); got != want {
			t.Errorf("SettingName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSearchSettings(t *testing.T) {
	c := Default()
	const pinRecovery = "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery"
	ids := func(ss []Setting) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	tests := []struct {
		name, query, category string
		want                  []string // each must be found
		notWant               []string // none may be found
	}{
		{"by name", "pin recovery", "", []string{pinRecovery, "user_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery"}, nil},
		{"by name in category", "Enable Pin Recovery", "windows hello for business", []string{pinRecovery}, nil},
		{"one word of the id", "pinrecovery", "", []string{pinRecovery}, nil},
		{"other category", "pin recovery", "Authentication", nil, []string{pinRecovery}},
		{"unknown words", "pin zebra", "", nil, []string{pinRecovery}},
		{"category alone", "", "Authentication", []string{"device_vendor_msft_policy_config_authentication_configurewebsigninallowedurls"}, []string{pinRecovery}},
		{"read-only nodes are no settings", "DevId", "", nil, []string{"devinfo_devid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(c.SearchSettings(tt.query, tt.category))
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%q in %q: %s missing from %v", tt.query, tt.category, w, got)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(got, w) {
					t.Errorf("%q in %q: %s found", tt.query, tt.category, w)
				}
			}
		})
	}
}

func TestSettingsShape(t *testing.T) {
	c := Default()
	var found bool
	for _, s := range c.Settings() {
		if s.Node.ReadOnly || s.Node.Interior() {
			t.Errorf("%s: a read-only or interior node listed as a setting", s.ID)
		}
		if s.ID == "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery" {
			found = true
			if s.Name != "Enable Pin Recovery" || s.Category != "Windows Hello For Business" ||
				s.GroupID != "device_vendor_msft_passportforwork_{tenantid}" ||
				s.LocURI() != "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery" {
				t.Errorf("EnablePinRecovery: %+v (%s)", s, s.LocURI())
			}
		}
		if s.Category == "Authentication" && s.GroupID != "" {
			t.Errorf("%s: a Policy CSP setting nested in group %s", s.ID, s.GroupID)
		}
	}
	if !found {
		t.Error("EnablePinRecovery is not a setting")
	}
	if got := c.SettingCategories(); !slices.Equal(got, []string{"Authentication", "Credential Providers", "Federated Authentication", "Windows Hello For Business"}) {
		t.Errorf("categories %v", got)
	}
}
