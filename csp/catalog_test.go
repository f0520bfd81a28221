package csp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const tenant = "7a3f1c2e-9b4d-4e6f-8a1b-2c3d4e5f6a7b"

func TestDefaultWellFormed(t *testing.T) {
	c := Default()
	for _, n := range c.Nodes() {
		t.Run(n.Path, func(t *testing.T) {
			if p := n.Parent(); !topLevel(p) {
				if _, ok := c.Node(p); !ok {
					t.Errorf("parent %s missing", p)
				}
			}
			if !n.Format.valid() {
				t.Errorf("format %q invalid", n.Format)
			}
			if n.Access == 0 {
				t.Error("access empty")
			}
			if n.ReadOnly != (n.Access == AccessGet) {
				t.Error("ReadOnly inconsistent with Access")
			}
			if n.Default != "" {
				m := Match{Node: n, Scope: n.Scopes[0], URI: n.Path}
				if got, err := c.ValidateValue(m, n.Format, n.Default); err != nil || got != n.Default {
					t.Errorf("default %q: got %q, %v", n.Default, got, err)
				}
			}
			for _, id := range n.SettingDefinitionIDs {
				got, _, ok := c.BySettingDefinitionID(id)
				if !ok || got != n {
					t.Errorf("setting id %s does not map back", id)
				}
			}
		})
	}
}

func TestDefaultHasRequiredNodes(t *testing.T) {
	c := Default()
	for _, tc := range []struct{ uri string }{
		{"./Device/Vendor/MSFT/PassportForWork"},
		{"./Device/Vendor/MSFT/PassportForWork/" + tenant},
		{"./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"},
		{"./User/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"},
		{"./User/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/PINComplexity/Expiration"},
		{"./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/ExcludeSecurityDevices/TPM12"},
		{"./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/Remote/UseRemotePassport"},
		{"./Device/Vendor/MSFT/PassportForWork/Biometrics/EnableESSwithSupportedPeripherals"},
		{"./Device/Vendor/MSFT/PassportForWork/DeviceUnlock/GroupA"},
		{"./Device/Vendor/MSFT/PassportForWork/DynamicLock/Plugins"},
		{"./Device/Vendor/MSFT/PassportForWork/SecurityKey/UseSecurityKeyForSignin"},
		{"./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"},
		{"./Device/Vendor/MSFT/Policy/Result/Authentication/AllowFastReconnect"},
		{"./User/Vendor/MSFT/Policy/Config/Authentication/AllowEAPCertSSO"},
		{"./Device/Vendor/MSFT/Policy/Config/FederatedAuthentication/EnableWebSignInForPrimaryUser"},
		{"./DevInfo/DmV"},
		{"./DevDetail/Ext/Microsoft/OSPlatform"},
		{"./DevDetail/Ext/Microsoft/TotalRAM"},
		{"./DevDetail/Ext/DeviceHardwareData"},
		{"./DevDetail/URI/MaxSegLen"},
		{"./Device/Vendor/MSFT/DMClient/HWDevID"},
		{"./Device/Vendor/MSFT/DMClient/Unenroll"},
		{"./Device/Vendor/MSFT/DMClient/Provider/hellomdm/Poll/IntervalForFirstSetOfRetries"},
		{"./Device/Vendor/MSFT/DMClient/Provider/hellomdm/AADDeviceID"},
		{"./Device/Vendor/MSFT/CertificateStore/Root/System/0123456789ABCDEF0123456789ABCDEF01234567/EncodedCertificate"},
		{"./Device/Vendor/MSFT/CertificateStore/My/User/0123456789ABCDEF0123456789ABCDEF01234567/PrivateKeyContainer"},
		{"./Device/Vendor/MSFT/hellomdm/HelloStatus/CanReset"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			if _, ok := c.Lookup(tc.uri); !ok {
				t.Errorf("Lookup(%s) failed", tc.uri)
			}
		})
	}
}

func TestNewRejectsBadTables(t *testing.T) {
	ok := Node{Path: "Vendor/MSFT/X", Scopes: []Scope{ScopeDevice}, Format: FormatNode, Access: AccessGet, ReadOnly: true, Description: "x"}
	leaf := func(mod func(*Node)) []Node {
		n := Node{Path: "Vendor/MSFT/X/Y", Scopes: []Scope{ScopeDevice}, Format: FormatInt, Access: AccessGet | AccessReplace, Description: "y"}
		mod(&n)
		return []Node{ok, n}
	}
	for _, tc := range []struct {
		name  string
		nodes []Node
		roots []string
	}{
		{"missing parent", leaf(func(n *Node) { n.Path = "Vendor/MSFT/Z/Y" }), nil},
		{"bad format", leaf(func(n *Node) { n.Format = "string" }), nil},
		{"empty access", leaf(func(n *Node) { n.Access = 0 }), nil},
		{"bad default", leaf(func(n *Node) { n.Default = "yes" }), nil},
		{"default out of range", leaf(func(n *Node) { n.Default = "9"; n.Max = ip(5) }), nil},
		{"min above max", leaf(func(n *Node) { n.Min, n.Max = ip(5), ip(4) }), nil},
		{"readonly flag wrong", leaf(func(n *Node) { n.ReadOnly = true }), nil},
		{"dynamic flag missing", leaf(func(n *Node) { n.Path = "Vendor/MSFT/X/{Y}" }), nil},
		{"no scope", leaf(func(n *Node) { n.Scopes = nil }), nil},
		{"scope not in parent", leaf(func(n *Node) { n.Scopes = []Scope{ScopeUser} }), nil},
		{"bad min OS", leaf(func(n *Node) { n.MinOS = "ten" }), nil},
		{"no description", leaf(func(n *Node) { n.Description = " " }), nil},
		{"duplicate", []Node{ok, ok}, nil},
		{"bad setting id", leaf(func(n *Node) { n.SettingDefinitionIDs = []string{"user_x"} }), nil},
		{"unknown root", []Node{ok}, []string{"Vendor/MSFT/Nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.nodes, tc.roots); !errors.Is(err, ErrCatalog) {
				t.Errorf("New: err = %v, want ErrCatalog", err)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no scope is device", "./Vendor/MSFT/Policy/Config/X", "./Device/Vendor/MSFT/Policy/Config/X"},
		{"device stays", "./Device/Vendor/MSFT/Policy/Config/X", "./Device/Vendor/MSFT/Policy/Config/X"},
		{"user stays", "./User/Vendor/MSFT/Policy/Config/X", "./User/Vendor/MSFT/Policy/Config/X"},
		{"devinfo stays", "./DevInfo/DevId", "./DevInfo/DevId"},
		{"devdetail stays", "./DevDetail/Ext/Microsoft/OSPlatform", "./DevDetail/Ext/Microsoft/OSPlatform"},
		{"trailing slash", "./Vendor/MSFT/PassportForWork/", "./Device/Vendor/MSFT/PassportForWork"},
		{"white space", "  ./DevInfo/Man\n", "./DevInfo/Man"},
		{"empty segment kept", "./Device/Vendor//MSFT", "./Device/Vendor//MSFT"},
		{"leading slash left invalid", "/Vendor/MSFT/X", "/Vendor/MSFT/X"},
		{"case kept", "./vendor/MSFT/X", "./vendor/MSFT/X"},
		{"root", "./", "./"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Canonical(tc.in); got != tc.want {
				t.Errorf("Canonical(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	c := Default()
	pin := "/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"
	for _, tc := range []struct {
		name, uri string
		ok        bool
		path      string
		scope     Scope
		canonical string
	}{
		{"device", "./Device" + pin, true, "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", ScopeDevice, "./Device" + pin},
		{"no prefix", "." + pin, true, "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", ScopeDevice, "./Device" + pin},
		{"user", "./User" + pin, true, "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", ScopeUser, "./User" + pin},
		{"tenant interior", "./Device/Vendor/MSFT/PassportForWork/" + tenant, true, "Vendor/MSFT/PassportForWork/{TenantId}", ScopeDevice, "./Device/Vendor/MSFT/PassportForWork/" + tenant},
		{"braced tenant", "./Device/Vendor/MSFT/PassportForWork/{" + tenant + "}/Policies/EnablePinRecovery", false, "", 0, ""},
		{"tenant not a guid", "./Device/Vendor/MSFT/PassportForWork/contoso/Policies/EnablePinRecovery", false, "", 0, ""},
		{"literal pattern", "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies", false, "", 0, ""},
		{"device-only node in user scope", "./User/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/UseCloudTrustForOnPremAuth", false, "", 0, ""},
		{"user-only policy in device scope", "./Device/Vendor/MSFT/Policy/Config/Authentication/AllowEAPCertSSO", false, "", 0, ""},
		{"devinfo", "./DevInfo/DevId", true, "DevInfo/DevId", ScopeUnscoped, "./DevInfo/DevId"},
		{"devinfo under device", "./Device/DevInfo/DevId", false, "", 0, ""},
		{"leading slash", "/Vendor/MSFT/PassportForWork", false, "", 0, ""},
		{"empty segment", "./Device/Vendor/MSFT//PassportForWork", false, "", 0, ""},
		{"wrong case", "./Device/Vendor/MSFT/passportforwork", false, "", 0, ""},
		{"vendor alone", "./Device/Vendor/MSFT", false, "", 0, ""},
		{"unknown csp", "./Device/Vendor/MSFT/Nope/X", false, "", 0, ""},
		{"provider", "./Vendor/MSFT/DMClient/Provider/hellomdm/EntDMID", true, "Vendor/MSFT/DMClient/Provider/{ProviderID}/EntDMID", ScopeDevice, "./Device/Vendor/MSFT/DMClient/Provider/hellomdm/EntDMID"},
		{"cert hash too short", "./Vendor/MSFT/CertificateStore/Root/System/ABCD/EncodedCertificate", false, "", 0, ""},
		{"below a leaf", "./Device" + pin + "/X", false, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := c.Lookup(tc.uri)
			if ok != tc.ok {
				t.Fatalf("Lookup(%s) ok = %v, want %v", tc.uri, ok, tc.ok)
			}
			if !ok {
				return
			}
			if m.Node.Path != tc.path || m.Scope != tc.scope || m.URI != tc.canonical {
				t.Errorf("got %s %s %s, want %s %s %s", m.Node.Path, m.Scope, m.URI, tc.path, tc.scope, tc.canonical)
			}
		})
	}
	m, _ := c.Lookup("./Device" + pin)
	if m.Vars["TenantId"] != tenant {
		t.Errorf("Vars = %v, want TenantId %s", m.Vars, tenant)
	}
}

func TestInKnownCSP(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		uri  string
		want bool
	}{
		{"./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/Nope", true},
		{"./Vendor/MSFT/Policy/Config/Authentication/Nope", true},
		{"./User/Vendor/MSFT/Policy/Result/Authentication/AllowEAPCertSSO", true},
		{"./Vendor/MSFT/Policy/Config/Browser/AllowCookies", false},
		{"./Vendor/MSFT/Policy/PassportForWork/" + tenant + "/Policies/EnablePinRecovery", false},
		{"./DevDetail/Ext/Nope", true},
		{"./Vendor/MSFT/DMClient/Provider/x/Push/PFN", true},
		{"./User/Vendor/MSFT/DMClient/Provider/x", false},
		{"./Vendor/MSFT/BitLocker/RequireDeviceEncryption", false},
		{"/Vendor/MSFT/PassportForWork", false},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			if got := c.InKnownCSP(tc.uri); got != tc.want {
				t.Errorf("InKnownCSP(%s) = %v, want %v", tc.uri, got, tc.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	c := Default()
	pin := "/" + tenant + "/Policies/EnablePinRecovery"
	want := "./Device/Vendor/MSFT/PassportForWork" + pin
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"extra Policy segment (PIN reset page)", "./Vendor/MSFT/Policy/PassportForWork" + pin, want, true},
		{"wrong case", "./Device/Vendor/MSFT/passportForWork" + pin, want, true},
		{"wrong case of scope", "./device/Vendor/MSFT/PassportForWork" + pin, want, true},
		{"typo", "./Device/Vendor/MSFT/PassportForWork" + "/" + tenant + "/Policies/EnablePinRecovry", want, true},
		{"missing Policies", "./Device/Vendor/MSFT/PassportForWork/" + tenant + "/EnablePinRecovery", want, true},
		{"braced tenant", "./Device/Vendor/MSFT/PassportForWork/{" + tenant + "}/Policies/EnablePinRecovery", want, true},
		{"user scope kept", "./User/Vendor/MSFT/Policy/PassportForWork" + pin, "./User/Vendor/MSFT/PassportForWork" + pin, true},
		{"policy typo", "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSigninAllowedUrls",
			"./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", true},
		{"devinfo case", "./devinfo/DevId", "./DevInfo/DevId", true},
		{"already valid", want, "", false},
		{"far away", "./Vendor/MSFT/Something/Completely/Different/Here/Now", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := c.Suggest(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Suggest(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestValidateValue(t *testing.T) {
	c := Default()
	pol := "./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/"
	urls := "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	for _, tc := range []struct {
		name, uri string
		format    Format
		value     string
		want      string
		err       error
	}{
		{"bool true", pol + "EnablePinRecovery", FormatBool, "true", "true", nil},
		{"bool True normalized", pol + "EnablePinRecovery", FormatBool, "True", "true", nil},
		{"bool FALSE", pol + "EnablePinRecovery", FormatBool, "FALSE", "false", nil},
		{"bool yes", pol + "EnablePinRecovery", FormatBool, "yes", "", ErrFormat},
		{"bool 1", pol + "EnablePinRecovery", FormatBool, "1", "", ErrFormat},
		{"bool sent as chr", pol + "EnablePinRecovery", FormatChr, "true", "", ErrFormat},
		{"bool without format", pol + "EnablePinRecovery", "", "true", "", ErrFormat},
		{"format case-insensitive", pol + "EnablePinRecovery", "BOOL", "true", "true", nil},
		{"min length 4", pol + "PINComplexity/MinimumPINLength", FormatInt, "4", "4", nil},
		{"min length 127", pol + "PINComplexity/MinimumPINLength", FormatInt, "127", "127", nil},
		{"min length 3", pol + "PINComplexity/MinimumPINLength", FormatInt, "3", "", ErrValue},
		{"min length 128", pol + "PINComplexity/MinimumPINLength", FormatInt, "128", "", ErrValue},
		{"min length not a number", pol + "PINComplexity/MinimumPINLength", FormatInt, "six", "", ErrFormat},
		{"min length +6 normalized", pol + "PINComplexity/MinimumPINLength", FormatInt, "+6", "6", nil},
		{"digits 0", pol + "PINComplexity/Digits", FormatInt, "0", "0", nil},
		{"digits 2", pol + "PINComplexity/Digits", FormatInt, "2", "2", nil},
		{"digits 3", pol + "PINComplexity/Digits", FormatInt, "3", "", ErrValue},
		{"digits -1", pol + "PINComplexity/Digits", FormatInt, "-1", "", ErrValue},
		{"url list", urls, FormatChr, "signin.contoso.com;portal.contoso.com", "signin.contoso.com;portal.contoso.com", nil},
		{"url list trimmed and lower-cased", urls, FormatChr, " Signin.Contoso.com ; login.microsoftonline.us;", "signin.contoso.com;login.microsoftonline.us", nil},
		{"url with scheme", urls, FormatChr, "https://signin.contoso.com", "", ErrValue},
		{"url with path", urls, FormatChr, "signin.contoso.com/adfs", "", ErrValue},
		{"url with port", urls, FormatChr, "signin.contoso.com:443", "", ErrValue},
		{"empty element", urls, FormatChr, "a.contoso.com;;b.contoso.com", "", ErrValue},
		{"empty list", urls, FormatChr, "", "", ErrValue},
		{"bad label", urls, FormatChr, "-bad.contoso.com", "", ErrValue},
		{"chr default format", urls, "", "signin.contoso.com", "signin.contoso.com", nil},
		{"b64 ok", "./Vendor/MSFT/CertificateStore/Root/System/0123456789ABCDEF0123456789ABCDEF01234567/EncodedCertificate", FormatB64, "TUlJ\nQg==", "TUlJQg==", nil},
		{"b64 bad", "./Vendor/MSFT/CertificateStore/Root/System/0123456789ABCDEF0123456789ABCDEF01234567/EncodedCertificate", FormatB64, "***", "", ErrFormat},
		{"interior with data", "./Device/Vendor/MSFT/PassportForWork/" + tenant, FormatNode, "x", "", ErrValue},
		{"interior", "./Device/Vendor/MSFT/PassportForWork/" + tenant, FormatNode, "", "", nil},
		{"https url", "./Vendor/MSFT/CertificateStore/My/WSTEP/Renew/ServerURL", FormatChr, "https://mdm.example.com/EnrollmentServer/Enrollment.svc", "https://mdm.example.com/EnrollmentServer/Enrollment.svc", nil},
		{"http url refused", "./Vendor/MSFT/CertificateStore/My/WSTEP/Renew/ServerURL", FormatChr, "http://mdm.example.com/x", "", ErrValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := c.Lookup(tc.uri)
			if !ok {
				t.Fatalf("Lookup(%s) failed", tc.uri)
			}
			got, err := c.ValidateValue(m, tc.format, tc.value)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				var ne *NodeError
				if !errors.As(err, &ne) || !strings.Contains(err.Error(), m.URI) {
					t.Errorf("error %q does not name node %s", err, m.URI)
				}
				return
			}
			if got != tc.want {
				t.Errorf("normalized = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestApplicable(t *testing.T) {
	c := Default()
	pin := "./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"
	urls := "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	for _, tc := range []struct {
		name, uri, os string
		edition       int
		err           error
	}{
		{"pin recovery on 1703", pin, "10.0.15063", EditionPro, nil},
		{"pin recovery on 1607", pin, "10.0.14393.0", EditionPro, ErrNotApplicable},
		{"pin recovery on Home", pin, "10.0.19045", EditionHome, nil},
		{"pin recovery below root's 1511", pin, "10.0.10240", EditionPro, ErrNotApplicable},
		{"urls at exact build", urls, "10.0.17134.2145", EditionEnterprise, nil},
		{"urls one QFE below", urls, "10.0.17134.2144", EditionEnterprise, ErrNotApplicable},
		{"urls on 1809 base", urls, "10.0.17763", EditionEnterprise, nil},
		{"urls numeric compare", urls, "10.0.22631.9", EditionPro, nil},
		{"urls on Home", urls, "10.0.22631", EditionHome, ErrNotApplicable},
		{"urls on Education", urls, "10.0.22631", EditionEducation, nil},
		{"no checks", urls, "", 0, nil},
		{"bad version", urls, "10.x", EditionPro, ErrVersion},
		{"result twin on Home", "./Device/Vendor/MSFT/Policy/Result/Authentication/ConfigureWebSignInAllowedUrls", "10.0.22631", EditionHome, ErrNotApplicable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := c.Lookup(tc.uri)
			if !ok {
				t.Fatalf("Lookup(%s) failed", tc.uri)
			}
			err := c.Applicable(m, tc.os, tc.edition)
			if !errors.Is(err, tc.err) {
				t.Errorf("Applicable(%s, %d) = %v, want %v", tc.os, tc.edition, err, tc.err)
			}
		})
	}
}

func TestBySettingDefinitionID(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		id    string
		path  string
		scope Scope
	}{
		{"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery", "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", ScopeDevice},
		{"user_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery", "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", ScopeUser},
		{"Device_Vendor_MSFT_Policy_Config_Authentication_ConfigureWebSignInAllowedUrls", "Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", ScopeDevice},
		{"device_vendor_msft_passportforwork_{tenantid}_policies_pincomplexity_minimumpinlength", "Vendor/MSFT/PassportForWork/{TenantId}/Policies/PINComplexity/MinimumPINLength", ScopeDevice},
	} {
		t.Run(tc.id, func(t *testing.T) {
			n, s, ok := c.BySettingDefinitionID(tc.id)
			if !ok || n.Path != tc.path || s != tc.scope {
				t.Errorf("got %v %v %v", n, s, ok)
			}
		})
	}
	if _, _, ok := c.BySettingDefinitionID("user_vendor_msft_policy_config_authentication_configurewebsigninallowedurls"); ok {
		t.Error("user-scope id of a device-only policy resolved")
	}
}

func TestChildren(t *testing.T) {
	c := Default()
	var names []string
	for _, n := range c.Children("Vendor/MSFT/PassportForWork/{TenantId}/Policies/PINComplexity") {
		names = append(names, n.Name())
	}
	want := "Digits,Expiration,History,LowercaseLetters,MaximumPINLength,MinimumPINLength,SpecialCharacters,UppercaseLetters"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("Children = %s, want %s", got, want)
	}
	if got := c.Children("Vendor/MSFT/Nope"); len(got) != 0 {
		t.Errorf("Children of unknown = %v", got)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"10.0.9", "10.0.10", -1},
		{"10.0.17134.2145", "10.0.17134", 1},
		{"10.0", "10.0.0.0", 0},
	} {
		t.Run(fmt.Sprint(tc.a, "_", tc.b), func(t *testing.T) {
			if got, err := CompareVersions(tc.a, tc.b); err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func ExampleCatalog_Suggest() {
	c := Default()
	s, ok := c.Suggest("./Vendor/MSFT/Policy/PassportForWork/" + tenant + "/Policies/EnablePinRecovery")
	fmt.Println(s, ok)
	// Output: ./Device/Vendor/MSFT/PassportForWork/7a3f1c2e-9b4d-4e6f-8a1b-2c3d4e5f6a7b/Policies/EnablePinRecovery true
}

func TestConcrete(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name, pattern string
		scope         Scope
		vars          map[string]string
		want          string
		ok            bool
	}{
		{"user pin", "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", ScopeUser,
			map[string]string{"TenantId": tenant}, "./User/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery", true},
		{"devinfo", "DevInfo/DevId", ScopeUnscoped, nil, "./DevInfo/DevId", true},
		{"missing var", "Vendor/MSFT/PassportForWork/{TenantId}", ScopeDevice, nil, "", false},
		{"bad var", "Vendor/MSFT/PassportForWork/{TenantId}", ScopeDevice, map[string]string{"TenantId": "x"}, "", false},
		{"wrong scope", "Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", ScopeUser, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Concrete(tc.pattern, tc.scope, tc.vars)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("Concrete = %q, %v; want %q ok=%v", got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUnknownNode) {
				t.Errorf("err = %v, want ErrUnknownNode", err)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{(AccessAdd | AccessGet | AccessReplace).String(), "Add,Get,Replace"},
		{(AccessExec).String(), "Exec"},
		{ScopeUser.String(), "user"},
		{Scope(9).String(), "scope(9)"},
		{EditionName(EditionHome), "Home"},
		{EditionName(7), "unknown edition"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestValidateXMLAndNull(t *testing.T) {
	c, err := New([]Node{
		{Path: "Vendor/MSFT/X", Scopes: []Scope{ScopeDevice}, Format: FormatNode, Access: AccessGet, ReadOnly: true, Description: "x"},
		{Path: "Vendor/MSFT/X/Profile", Scopes: []Scope{ScopeDevice}, Format: FormatXML, Access: AccessAdd | AccessGet, Description: "xml"},
		{Path: "Vendor/MSFT/X/Run", Scopes: []Scope{ScopeDevice}, Format: FormatNull, Access: AccessExec, Description: "action"},
	}, []string{"Vendor/MSFT/X"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uri string
		format    Format
		value     string
		err       error
	}{
		{"well-formed", "./Vendor/MSFT/X/Profile", FormatXML, "<WLANProfile><name>x</name></WLANProfile>", nil},
		{"unclosed", "./Vendor/MSFT/X/Profile", FormatXML, "<WLANProfile>", ErrFormat},
		{"text only", "./Vendor/MSFT/X/Profile", FormatXML, "hello", ErrFormat},
		{"null", "./Vendor/MSFT/X/Run", FormatNull, "ignored", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := c.Lookup(tc.uri)
			if !ok {
				t.Fatal("lookup failed")
			}
			if _, err := c.ValidateValue(m, tc.format, tc.value); !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
	if _, err := c.ValidateValue(Match{URI: "./x"}, FormatChr, "x"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("ValidateValue without node = %v", err)
	}
	if err := c.Applicable(Match{URI: "./x"}, "", 0); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Applicable without node = %v", err)
	}
}
