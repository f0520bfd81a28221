package csp

import (
	"fmt"
	"strings"
)

// OSEdition product types Windows reports in enrollment (MS-MDE2 AdditionalContext OSEdition;
// GetProductInfo PRODUCT_* values) and CSP pages use in their edition allow lists.
const (
	EditionEnterprise          = 4   // PRODUCT_ENTERPRISE
	EditionEnterpriseN         = 27  // PRODUCT_ENTERPRISE_N
	EditionPro                 = 48  // PRODUCT_PROFESSIONAL
	EditionProN                = 49  // PRODUCT_PROFESSIONAL_N
	EditionEnterpriseEval      = 72  // PRODUCT_ENTERPRISE_EVALUATION
	EditionEnterpriseNEval     = 84  // PRODUCT_ENTERPRISE_N_EVALUATION
	EditionHomeN               = 98  // PRODUCT_CORE_N
	EditionHomeChina           = 99  // PRODUCT_CORE_COUNTRYSPECIFIC
	EditionHomeSingleLanguage  = 100 // PRODUCT_CORE_SINGLELANGUAGE
	EditionHome                = 101 // PRODUCT_CORE (0x65)
	EditionEducation           = 121 // PRODUCT_EDUCATION
	EditionEducationN          = 122 // PRODUCT_EDUCATION_N
	EditionEnterpriseLTSC      = 125 // PRODUCT_ENTERPRISE_S
	EditionEnterpriseLTSCN     = 126 // PRODUCT_ENTERPRISE_S_N
	EditionProWorkstation      = 161 // PRODUCT_PRO_WORKSTATION
	EditionProWorkstationN     = 162 // PRODUCT_PRO_WORKSTATION_N
	EditionProEducation        = 164 // PRODUCT_PRO_FOR_EDUCATION
	EditionProEducationN       = 165 // PRODUCT_PRO_FOR_EDUCATION_N
	EditionEnterpriseMultiSess = 175 // PRODUCT_SERVERRDSH (Enterprise multi-session)
	EditionSE                  = 178 // PRODUCT_CLOUD (Windows SE)
	EditionSEN                 = 179 // PRODUCT_CLOUDN
	EditionIoTEnterprise       = 188 // PRODUCT_IOTENTERPRISE
	EditionIoTEnterpriseLTSC   = 191 // PRODUCT_IOTENTERPRISES
)

const (
	editionUnknownName           = "unknown edition"
	settingIDSeparator           = "_"
	settingIDDevicePrefix        = "device"
	settingIDUserPrefix          = "user"
	authenticationArea           = "Vendor/MSFT/Policy/Config/Authentication"
	authenticationResultArea     = "Vendor/MSFT/Policy/Result/Authentication"
	federatedAuthenticationArea  = "Vendor/MSFT/Policy/Config/FederatedAuthentication"
	federatedAuthenticationRArea = "Vendor/MSFT/Policy/Result/FederatedAuthentication"
	passportPolicies             = "Vendor/MSFT/PassportForWork/{TenantId}/Policies"
	credentialProvidersArea      = "Vendor/MSFT/Policy/Config/CredentialProviders"
	credentialProvidersRArea     = "Vendor/MSFT/Policy/Result/CredentialProviders"
)

// EditionName names an OSEdition product type for messages.
func EditionName(e int) string {
	switch e {
	case EditionEnterprise, EditionEnterpriseN:
		return "Enterprise"
	case EditionPro, EditionProN:
		return "Pro"
	case EditionEnterpriseEval, EditionEnterpriseNEval:
		return "Enterprise Evaluation"
	case EditionHome, EditionHomeN, EditionHomeChina, EditionHomeSingleLanguage:
		return "Home"
	case EditionEducation, EditionEducationN:
		return "Education"
	case EditionEnterpriseLTSC, EditionEnterpriseLTSCN:
		return "Enterprise LTSC"
	case EditionProWorkstation, EditionProWorkstationN:
		return "Pro for Workstations"
	case EditionProEducation, EditionProEducationN:
		return "Pro Education"
	case EditionEnterpriseMultiSess:
		return "Enterprise multi-session"
	case EditionSE, EditionSEN:
		return "Windows SE"
	case EditionIoTEnterprise, EditionIoTEnterpriseLTSC:
		return "IoT Enterprise"
	}
	return editionUnknownName
}

// proAndUp is the edition allow list of Policy CSP Authentication policies: Pro, Enterprise,
// Education, Windows SE and IoT Enterprise, but not Home (policy-csp-authentication).
func proAndUp() []int {
	return []int{
		EditionEnterprise, EditionEnterpriseN, EditionPro, EditionProN, EditionEnterpriseEval,
		EditionEnterpriseNEval, EditionEducation, EditionEducationN, EditionEnterpriseLTSC,
		EditionEnterpriseLTSCN, EditionProWorkstation, EditionProWorkstationN, EditionProEducation,
		EditionProEducationN, EditionEnterpriseMultiSess, EditionSE, EditionSEN,
		EditionIoTEnterprise, EditionIoTEnterpriseLTSC,
	}
}

// Default returns the built-in catalog. The table is validated on construction; a malformed
// entry is a programming error caught by the package tests, so Default panics on it rather
// than returning an error every caller would have to handle.
func Default() *Catalog {
	c, err := New(defaultNodes(), defaultRoots())
	if err != nil {
		panic(fmt.Sprintf("csp: built-in catalog: %v", err))
	}
	return c
}

func defaultRoots() []string {
	return []string{
		"Vendor/MSFT/PassportForWork",
		authenticationArea, authenticationResultArea,
		federatedAuthenticationArea, federatedAuthenticationRArea,
		"DevInfo", "DevDetail",
		"Vendor/MSFT/DMClient",
		"Vendor/MSFT/CertificateStore",
		"Vendor/MSFT/hellomdm",
	}
}

// tableBuilder collects nodes and derives the flags that follow from the path and access.
type tableBuilder struct{ nodes []Node }

func (b *tableBuilder) add(n Node) {
	n.Dynamic = isDynamicSegment(lastSegment(n.Path))
	n.ReadOnly = n.Access == AccessGet
	b.nodes = append(b.nodes, n)
}

func (b *tableBuilder) interior(path string, access Access, scopes []Scope, minOS, desc string) {
	b.add(Node{Path: path, Scopes: scopes, Format: FormatNode, Access: access, MinOS: minOS, Description: desc})
}

// settingIDs derives the Intune settings-catalog ids of a writable node: the scope, then the
// path in lower case with "/" replaced by "_", e.g.
// device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery.
func settingIDs(path string, scopes []Scope) []string {
	var ids []string
	tail := strings.ToLower(strings.ReplaceAll(path, "/", settingIDSeparator))
	for _, s := range scopes {
		switch s {
		case ScopeDevice:
			ids = append(ids, settingIDDevicePrefix+settingIDSeparator+tail)
		case ScopeUser:
			ids = append(ids, settingIDUserPrefix+settingIDSeparator+tail)
		}
	}
	return ids
}

func ip(v int) *int { return &v }

func defaultNodes() []Node {
	var (
		b    tableBuilder
		dev  = []Scope{ScopeDevice}
		usr  = []Scope{ScopeUser}
		both = []Scope{ScopeDevice, ScopeUser}
		none = []Scope{ScopeUnscoped}
		g    = AccessGet
		gr   = AccessGet | AccessReplace
		agr  = AccessAdd | AccessGet | AccessReplace
		adg  = AccessAdd | AccessDelete | AccessGet
		adgr = AccessAdd | AccessDelete | AccessGet | AccessReplace
	)
	passportNodes(&b, dev, both, g, adg, adgr)
	policyNodes(&b, dev, usr, both, g, adgr)
	devInfoNodes(&b, none, g, gr)
	dmClientNodes(&b, dev, g, agr, adg, adgr)
	certStoreNodes(&b, dev, g, agr, adg, adgr)

	// hellomdm's own reporting node: not a Windows CSP. The agent fills it from its Hello
	// container so the server can read what `dsregcmd /status` shows on a real device
	// (docs/protocol.md D.3).
	b.interior("Vendor/MSFT/hellomdm", g, dev, "", "hellomdm-specific root (not a Windows CSP)")
	b.interior("Vendor/MSFT/hellomdm/HelloStatus", g, dev, "", "hellomdm-specific Hello container status")
	b.add(Node{Path: "Vendor/MSFT/hellomdm/HelloStatus/CanReset", Scopes: dev, Format: FormatChr, Access: g,
		Allowed:     []string{"DestructiveOnly", "DestructiveAndNonDestructive"},
		Description: "hellomdm-specific: PIN reset kinds available, as dsregcmd CanReset"})
	b.add(Node{Path: "Vendor/MSFT/hellomdm/HelloStatus/NgcSet", Scopes: dev, Format: FormatChr, Access: g,
		Allowed: []string{"YES", "NO"}, Description: "hellomdm-specific: whether a Hello container exists, as dsregcmd NgcSet"})
	b.add(Node{Path: "Vendor/MSFT/hellomdm/HelloStatus/NgcKeyId", Scopes: dev, Format: FormatChr, Access: g,
		Description: "hellomdm-specific: Hello container key id, as dsregcmd NgcKeyId"})
	b.add(Node{Path: "Vendor/MSFT/hellomdm/HelloStatus/CanResetReason", Scopes: dev, Format: FormatChr, Access: g,
		Description: "hellomdm-specific: the support matrix row that makes CanReset DestructiveOnly, and why"})
	// What the device knows of its tenant's PIN reset service. The device cannot see an
	// admin's consent or a government cloud; the server Replaces this node when the value the
	// device reports at check-in is not the truth (device/pinreset/canreset.go).
	b.interior("Vendor/MSFT/hellomdm/PinResetService", g, dev, "", "hellomdm-specific: the tenant's PIN reset service as the device knows it")
	b.add(Node{Path: "Vendor/MSFT/hellomdm/PinResetService/Availability", Scopes: dev, Format: FormatChr, Access: gr,
		Allowed:     []string{"available", "consentRequired", "governmentCloud"},
		Description: "hellomdm-specific: available, consentRequired (an admin has not consented to both applications) or governmentCloud (Azure Government: no PIN reset service)"})
	// How the device is joined and which Hello trust model it uses: Windows has no CSP node
	// for them, so the agent reports them here (device/identity/join.go). JoinType values follow
	// Microsoft Graph's Intune joinType enum, plus domainJoined.
	b.interior("Vendor/MSFT/hellomdm/DeviceState", g, dev, "", "hellomdm-specific device join state")
	b.add(Node{Path: "Vendor/MSFT/hellomdm/DeviceState/JoinType", Scopes: dev, Format: FormatChr, Access: g,
		Allowed:     []string{"azureADJoined", "hybridAzureADJoined", "azureADRegistered", "domainJoined"},
		Description: "hellomdm-specific: how the device is joined (dsregcmd AzureAdJoined, DomainJoined, WorkplaceJoined)"})
	b.add(Node{Path: "Vendor/MSFT/hellomdm/DeviceState/TrustType", Scopes: dev, Format: FormatChr, Access: g,
		Allowed:     []string{"key", "certificate", "cloudKerberos"},
		Description: "hellomdm-specific: Windows Hello for Business trust model"})
	b.add(Node{Path: "Vendor/MSFT/hellomdm/DeviceState/AccountType", Scopes: dev, Format: FormatChr, Access: g,
		Allowed:     []string{"workOrSchool", "microsoftAccount"},
		Description: "hellomdm-specific: the kind of account the enrolled user signs in with"})
	return b.nodes
}

// passportNodes: PassportForWork CSP (passportforwork-csp, 2024 DDF; docs/protocol.md C.1).
func passportNodes(b *tableBuilder, dev, both []Scope, g, adg, adgr Access) {
	const root = "Vendor/MSFT/PassportForWork"
	b.interior(root, g, both, "10.0.10586", "Windows Hello for Business policies")
	b.interior(root+"/{TenantId}", adg, both, "", "policies of one Entra tenant; name is the tenant GUID without braces")
	b.interior(passportPolicies, adg, both, "", "the tenant's Hello for Business policies")
	pol := func(name string, f Format, scopes []Scope, def, minOS, desc string, allowed []string, lo, hi *int) {
		p := passportPolicies + "/" + name
		b.add(Node{Path: p, Scopes: scopes, Format: f, Access: adgr, Default: def, Allowed: allowed,
			Min: lo, Max: hi, MinOS: minOS, Description: desc, SettingDefinitionIDs: settingIDs(p, scopes)})
	}
	pol("UsePassportForWork", FormatBool, both, "true", "", "provision Hello for Business for users", nil, nil, nil)
	pol("RequireSecurityDevice", FormatBool, both, "false", "", "require a TPM for Hello keys", nil, nil, nil)
	pol("EnablePinRecovery", FormatBool, both, "false", "10.0.15063", "escrow a PIN reset protector for non-destructive PIN reset", nil, nil, nil)
	// DDF applicability of the next two is a placeholder (99.9.99999) [?]: left unrestricted.
	pol("EnableWindowsHelloProvisioningForSecurityKeys", FormatBool, dev, "false", "", "provision Hello on FIDO2 security keys", nil, nil, nil)
	pol("DisablePostLogonProvisioning", FormatBool, dev, "false", "", "do not start Hello provisioning after sign-in", nil, nil, nil)
	pol("UseCertificateForOnPremAuth", FormatBool, dev, "false", "", "wait for a certificate before provisioning the PIN (certificate trust)", nil, nil, nil)
	// Also 10.0.22000.527 and 10.0.22621; the lowest build is kept.
	pol("UseCloudTrustForOnPremAuth", FormatBool, dev, "false", "10.0.19044.1566", "cloud Kerberos trust for on-premises authentication", nil, nil, nil)
	pol("UseHelloCertificatesAsSmartCardCertificates", FormatBool, dev, "false", "10.0.17763", "expose Hello certificates as smart card certificates", nil, nil, nil)

	b.interior(passportPolicies+"/ExcludeSecurityDevices", adg, dev, "10.0.15063", "security devices Hello must not use")
	pol("ExcludeSecurityDevices/TPM12", FormatBool, dev, "false", "10.0.15063", "do not use TPM 1.2 for Hello keys", nil, nil, nil)

	b.interior(passportPolicies+"/PINComplexity", adg, both, "", "PIN complexity rules")
	pol("PINComplexity/MinimumPINLength", FormatInt, both, "4", "", "shortest PIN allowed", nil, ip(4), ip(127))
	pol("PINComplexity/MaximumPINLength", FormatInt, both, "127", "", "longest PIN allowed (min ≤ max, else both revert to defaults)", nil, ip(4), ip(127))
	use := []string{"0", "1", "2"} // 0 allowed, 1 required, 2 not allowed
	pol("PINComplexity/UppercaseLetters", FormatInt, both, "0", "", "upper-case letters: 0 allowed, 1 required, 2 not allowed", use, nil, nil)
	pol("PINComplexity/LowercaseLetters", FormatInt, both, "0", "", "lower-case letters: 0 allowed, 1 required, 2 not allowed", use, nil, nil)
	pol("PINComplexity/SpecialCharacters", FormatInt, both, "0", "", "special characters: 0 allowed, 1 required, 2 not allowed", use, nil, nil)
	pol("PINComplexity/Digits", FormatInt, both, "0", "", "digits: 0 allowed, 1 required, 2 not allowed (unset means required)", use, nil, nil)
	pol("PINComplexity/History", FormatInt, both, "0", "", "number of previous PINs that cannot be reused", nil, ip(0), ip(50))
	pol("PINComplexity/Expiration", FormatInt, both, "0", "", "days before the PIN expires, 0 never", nil, ip(0), ip(730))

	b.interior(passportPolicies+"/Remote", adg, dev, "", "phone sign-in settings")
	pol("Remote/UseRemotePassport", FormatBool, dev, "false", "", "allow a phone as a remote Hello device", nil, nil, nil)

	dp := func(path string, f Format, def, minOS, desc string, allowed []string) {
		p := root + "/" + path
		b.add(Node{Path: p, Scopes: dev, Format: f, Access: adgr, Default: def, Allowed: allowed,
			MinOS: minOS, Description: desc, SettingDefinitionIDs: settingIDs(p, dev)})
	}
	b.interior(root+"/Biometrics", g, dev, "", "device-wide biometric settings")
	dp("Biometrics/UseBiometrics", FormatBool, "false", "", "allow biometric gestures instead of the PIN", nil)
	dp("Biometrics/FacialFeaturesUseEnhancedAntiSpoofing", FormatBool, "false", "", "require enhanced face anti-spoofing", nil)
	dp("Biometrics/EnableESSwithSupportedPeripherals", FormatInt, "1", "10.0.22621", "Enhanced Sign-in Security with external peripherals: 0 off, 1 on", []string{"0", "1"})
	b.interior(root+"/DeviceUnlock", adg, dev, "10.0.17134", "multi-factor device unlock")
	dp("DeviceUnlock/GroupA", FormatChr, "", "10.0.17134", "first-factor credential provider GUIDs", nil)
	dp("DeviceUnlock/GroupB", FormatChr, "", "10.0.17134", "second-factor credential provider GUIDs", nil)
	dp("DeviceUnlock/Plugins", FormatChr, "", "10.0.17134", "trusted signal rules", nil)
	b.interior(root+"/DynamicLock", adg, dev, "10.0.17134", "lock when a paired device leaves")
	dp("DynamicLock/DynamicLock", FormatBool, "false", "10.0.17134", "enable dynamic lock", nil)
	dp("DynamicLock/Plugins", FormatChr, "", "10.0.17134", "dynamic lock signal rules", nil)
	b.interior(root+"/SecurityKey", adg, dev, "10.0.18362", "FIDO security key sign-in")
	dp("SecurityKey/UseSecurityKeyForSignin", FormatInt, "0", "10.0.18362", "sign in with a security key: 0 off, 1 on", []string{"0", "1"})
}

// policyNodes: Policy CSP Authentication and FederatedAuthentication areas
// (policy-csp-authentication, policy-csp-federatedauthentication; docs/protocol.md C.2). Each
// policy has a writable Config node and a read-only Result node holding the effective value.
func policyNodes(b *tableBuilder, dev, usr, both []Scope, g, adgr Access) {
	b.interior("Vendor/MSFT/Policy", g, both, "", "Policy CSP")
	b.interior("Vendor/MSFT/Policy/Config", g, both, "", "policies to set")
	b.interior("Vendor/MSFT/Policy/Result", g, both, "", "effective policy values")
	b.interior(authenticationArea, g, both, "", "Authentication policy area")
	b.interior(authenticationResultArea, g, both, "", "effective Authentication policies")
	b.interior(federatedAuthenticationArea, g, dev, "", "FederatedAuthentication policy area")
	b.interior(federatedAuthenticationRArea, g, dev, "", "effective FederatedAuthentication policies")
	// CredentialProviders holds only AllowPINLogon here (the WHfB convenience PIN policy); the
	// area is not a coverage root, so custom OMA-URIs for its other policies stay accepted as
	// they are.
	b.interior(credentialProvidersArea, g, dev, "", "CredentialProviders policy area")
	b.interior(credentialProvidersRArea, g, dev, "", "effective CredentialProviders policies")
	type pol struct {
		area, name string
		scopes     []Scope
		f          Format
		def        string
		allowed    []string
		sep        string
		syntax     Syntax
		minOS      string
		desc       string
	}
	zeroOne, zeroOneTwo := []string{"0", "1"}, []string{"0", "1", "2"}
	auth, fed, credProv := authenticationArea, federatedAuthenticationArea, credentialProvidersArea
	// ADMX-backed policies take chr data <enabled/> or <disabled/> (policy-csp-credentialproviders,
	// "Understanding ADMX-backed policies"); AllowPINLogon has no element data.
	admxOnOff := []string{"<enabled/>", "<disabled/>"}
	for _, p := range []pol{
		{auth, "ConfigureWebSignInAllowedUrls", dev, FormatChr, "", nil, ";", SyntaxDomain, "10.0.17134.2145",
			"domains web sign-in may navigate to, e.g. a federated IdP (mitigates CVE-2021-27092)"},
		{auth, "ConfigureWebcamAccessDomainNames", dev, FormatChr, "", nil, ";", SyntaxDomain, "10.0.22000",
			"domains allowed to use the webcam during web sign-in"},
		{auth, "EnableWebSignIn", dev, FormatInt, "0", zeroOneTwo, "", SyntaxNone, "10.0.17763",
			"web sign-in credential provider: 0 default, 1 enabled, 2 disabled (Entra-joined only)"},
		// 23H2 with KB5031455; the same update reached 22H2 as 10.0.22621.2506.
		{auth, "EnablePasswordlessExperience", dev, FormatInt, "0", zeroOneTwo, "", SyntaxNone, "10.0.22621.2506",
			"hide passwords at sign-in for Entra-joined devices"},
		{auth, "EnableFastFirstSignIn", dev, FormatInt, "0", zeroOneTwo, "", SyntaxNone, "10.0.17763",
			"fast first sign-in for shared devices"},
		{auth, "AllowAadPasswordReset", dev, FormatInt, "0", zeroOne, "", SyntaxNone, "10.0.16299",
			"self-service password reset link on the lock screen: 0 off, 1 on"},
		{auth, "AllowSecondaryAuthenticationDevice", dev, FormatInt, "0", zeroOne, "", SyntaxNone, "10.0.14393",
			"companion devices as a second factor: 0 off, 1 on"},
		{auth, "AllowFastReconnect", dev, FormatInt, "1", zeroOne, "", SyntaxNone, "10.0.14393",
			"EAP fast reconnect: 1 allowed, 0 blocked"},
		{auth, "AllowEAPCertSSO", usr, FormatInt, "0", zeroOne, "", SyntaxNone, "10.0.10240",
			"EAP certificate single sign-on to resources: 0 off, 1 on"},
		{auth, "PreferredAadTenantDomainName", dev, FormatChr, "", nil, "", SyntaxDomain, "10.0.17763",
			"tenant domain appended to user names at sign-in, e.g. contoso.com"},
		{fed, "EnableWebSignInForPrimaryUser", dev, FormatInt, "0", zeroOneTwo, "", SyntaxNone, "10.0.22621",
			"web sign-in for the primary user: 0 default, 1 enabled, 2 disabled"},
		// ADMX-backed: CredentialProviders.admx AllowDomainPINLogon ("Turn on convenience PIN
		// sign-in", Software\Policies\Microsoft\Windows\System!AllowDomainPINLogon).
		{credProv, "AllowPINLogon", dev, FormatChr, "", admxOnOff, "", SyntaxNone, "10.0.10240",
			"convenience PIN sign-in for domain users (ADMX-backed: <enabled/> or <disabled/>)"},
	} {
		cfg := p.area + "/" + p.name
		b.add(Node{Path: cfg, Scopes: p.scopes, Format: p.f, Access: adgr, Default: p.def, Allowed: p.allowed,
			ListSep: p.sep, Syntax: p.syntax, MinOS: p.minOS, Editions: proAndUp(), Description: p.desc,
			SettingDefinitionIDs: settingIDs(cfg, p.scopes)})
		b.add(Node{Path: resultPath(cfg), Scopes: p.scopes, Format: p.f, Access: g, MinOS: p.minOS,
			Editions: proAndUp(), Description: "effective value of " + p.name})
	}
}

// resultPath maps a Policy Config pattern or URI to its Result twin.
func resultPath(config string) string {
	return strings.Replace(config, "/Policy/Config/", "/Policy/Result/", 1)
}

// configPath maps a Policy Result pattern or URI to its Config twin.
func configPath(result string) (string, bool) {
	if !strings.Contains(result, "/Policy/Result/") {
		return result, false
	}
	return strings.Replace(result, "/Policy/Result/", "/Policy/Config/", 1), true
}

// devInfoNodes: DevInfo (devinfo-csp) and DevDetail (devdetail-csp); docs/protocol.md C.3.
func devInfoNodes(b *tableBuilder, none []Scope, g, gr Access) {
	leaf := func(path string, f Format, a Access, minOS, desc string) {
		b.add(Node{Path: path, Scopes: none, Format: f, Access: a, MinOS: minOS, Description: desc})
	}
	b.interior("DevInfo", g, none, "", "device information sent in every session's first package")
	leaf("DevInfo/DevId", FormatChr, g, "", "DeviceID (32 hex digits)")
	leaf("DevInfo/Man", FormatChr, g, "", "manufacturer")
	leaf("DevInfo/Mod", FormatChr, g, "", "model")
	leaf("DevInfo/DmV", FormatChr, g, "", "OMA DM client version (1.3)")
	leaf("DevInfo/Lang", FormatChr, g, "", "UI language, e.g. en-US")

	b.interior("DevDetail", g, none, "", "device details")
	leaf("DevDetail/DevTyp", FormatChr, g, "", "product name")
	leaf("DevDetail/OEM", FormatChr, g, "", "OEM name")
	leaf("DevDetail/FwV", FormatChr, g, "", "firmware (BIOS) version")
	leaf("DevDetail/HwV", FormatChr, g, "", "hardware version")
	leaf("DevDetail/SwV", FormatChr, g, "", "OS version Major.Minor.Build.QFE")
	leaf("DevDetail/LrgObj", FormatBool, g, "", "large object support")
	b.interior("DevDetail/URI", g, none, "", "URI limits")
	// The DDF format of the URI limits is not confirmed (docs/protocol.md G); chr is assumed.
	leaf("DevDetail/URI/MaxDepth", FormatChr, g, "", "maximum URI depth, 0 unlimited")
	leaf("DevDetail/URI/MaxTotLen", FormatChr, g, "", "maximum URI length, 0 unlimited")
	leaf("DevDetail/URI/MaxSegLen", FormatChr, g, "", "maximum URI segment length, 0 unlimited")
	b.interior("DevDetail/Ext", g, none, "", "extensions")
	b.interior("DevDetail/Ext/Microsoft", g, none, "", "Microsoft extensions")
	ms := "DevDetail/Ext/Microsoft/"
	leaf(ms+"MobileID", FormatChr, g, "", "cellular module id (absent on PCs)")
	leaf(ms+"RadioSwV", FormatChr, g, "", "radio stack version (absent on PCs)")
	leaf(ms+"CommercializationOperator", FormatChr, g, "", "mobile operator (absent on PCs)")
	leaf(ms+"Resolution", FormatChr, g, "", "screen resolution WxH")
	leaf(ms+"OSPlatform", FormatChr, g, "", "OS product name, e.g. Windows 10 Pro")
	leaf(ms+"LocalTime", FormatChr, g, "", "local time, ISO 8601")
	leaf(ms+"DeviceName", FormatChr, g, "", "device name (Replace not on desktop)")
	leaf(ms+"DNSComputerName", FormatChr, gr, "10.0.19041", "DNS host name; macros %RAND:n%, %SERIAL%; ≤63 characters; needs a reboot")
	leaf(ms+"ProcessorArchitecture", FormatInt, g, "", "SYSTEM_INFO processor architecture")
	leaf(ms+"ProcessorType", FormatInt, g, "", "SYSTEM_INFO processor type")
	leaf(ms+"TotalStorage", FormatInt, g, "", "total storage in MB")
	leaf(ms+"FreeStorage", FormatInt, g, "", "free storage in MB")
	leaf(ms+"TotalRAM", FormatInt, g, "", "RAM in MB")
	leaf(ms+"SMBIOSSerialNumber", FormatChr, g, "10.0.17763", "SMBIOS serial number")
	leaf(ms+"SMBIOSVersion", FormatChr, g, "", "SMBIOS version")
	leaf(ms+"SystemSKU", FormatChr, g, "", "SMBIOS system SKU")
	for _, n := range []string{"WLANMACAddress", "WlanIPv4Address", "WlanIPv6Address", "WlanDnsSuffix", "WlanSubnetMask"} {
		leaf("DevDetail/Ext/"+n, FormatChr, g, "", "active Wi-Fi "+strings.TrimPrefix(strings.TrimPrefix(n, "WLAN"), "Wlan"))
	}
	leaf("DevDetail/Ext/VoLTEServiceSetting", FormatBool, g, "", "VoLTE service (operators only)")
	leaf("DevDetail/Ext/DeviceHardwareData", FormatChr, g, "10.0.15063", "opaque base64 hardware hash")
}

// dmClientNodes: DMClient essentials (dmclient-csp; docs/protocol.md C.4, A.9).
func dmClientNodes(b *tableBuilder, dev []Scope, g, agr, adg, adgr Access) {
	const root = "Vendor/MSFT/DMClient"
	leaf := func(path string, f Format, a Access, def, desc string, lo *int) {
		b.add(Node{Path: root + "/" + path, Scopes: dev, Format: f, Access: a, Default: def, Min: lo, Description: desc})
	}
	b.interior(root, g, dev, "", "MDM client settings")
	leaf("HWDevID", FormatChr, g, "", "hardware device id (64 hex digits)", nil)
	b.add(Node{Path: root + "/Unenroll", Scopes: dev, Format: FormatNull, Access: AccessExec | AccessGet,
		Description: "Exec with the ProviderID as data to unenroll"})
	b.interior(root+"/Provider", g, dev, "", "enrollments by provider")
	p := "Provider/{ProviderID}"
	b.interior(root+"/"+p, adg, dev, "", "one enrollment; the name is the w7 PROVIDER-ID")
	leaf(p+"/EntDMID", FormatChr, agr, "", "enterprise device id assigned by the server", nil)
	leaf(p+"/EntDeviceName", FormatChr, agr, "", "device name given by the server", nil)
	leaf(p+"/UPN", FormatChr, agr, "", "enrolled user's UPN", nil)
	leaf(p+"/AADDeviceID", FormatChr, g, "", "Entra device id", nil)
	leaf(p+"/CertRenewTimeStamp", FormatChr, g, "", "time of the last certificate renewal", nil)
	b.interior(root+"/"+p+"/Poll", adg, dev, "", "check-in schedule (minutes and counts)")
	for _, n := range []string{"NumberOfFirstRetries", "IntervalForFirstSetOfRetries", "NumberOfSecondRetries",
		"IntervalForSecondSetOfRetries", "NumberOfRemainingScheduledRetries", "IntervalForRemainingScheduledRetries"} {
		leaf(p+"/Poll/"+n, FormatInt, adgr, "", "check-in schedule: "+n, ip(0))
	}
	leaf(p+"/Poll/PollOnLogin", FormatBool, adgr, "false", "check in when a user signs in", nil)
	leaf(p+"/Poll/AllUsersPollOnFirstLogin", FormatBool, adgr, "false", "check in on every user's first sign-in", nil)
	// WNS push (docs/protocol.md C.7).
	b.interior(root+"/"+p+"/Push", adg, dev, "", "WNS push settings of this enrollment")
	leaf(p+"/Push/PFN", FormatChr, adgr, "", "package family name whose WNS channel wakes the device", nil)
	leaf(p+"/Push/ChannelURI", FormatChr, g, "", "the WNS channel URI registered for the PFN", nil)
	leaf(p+"/Push/Status", FormatInt, g, "", "push registration status: 0 success, 1-8 failures (dmclient-csp)", ip(0))
}

// certStoreNodes: CertificateStore essentials (certificatestore-csp; docs/protocol.md C.5, A.9).
func certStoreNodes(b *tableBuilder, dev []Scope, g, agr, adg, adgr Access) {
	const root = "Vendor/MSFT/CertificateStore"
	b.interior(root, g, dev, "", "certificate stores")
	for _, store := range []string{"Root", "CA", "My"} {
		b.interior(root+"/"+store, g, dev, "", store+" store")
	}
	for _, sub := range []string{"Root/System", "CA/System", "My/User", "My/System"} {
		base := root + "/" + sub
		b.interior(base, g, dev, "", sub+" certificates")
		cert := base + "/{CertHash}"
		b.interior(cert, adg, dev, "", "one certificate; the name is its SHA-1 thumbprint in hex")
		b.add(Node{Path: cert + "/EncodedCertificate", Scopes: dev, Format: FormatB64, Access: agr,
			Description: "the DER certificate, base64"})
		for _, n := range []string{"IssuedBy", "IssuedTo", "ValidFrom", "ValidTo"} {
			b.add(Node{Path: cert + "/" + n, Scopes: dev, Format: FormatChr, Access: g, Description: "certificate " + n})
		}
		if strings.HasPrefix(sub, "My/") {
			b.add(Node{Path: cert + "/TemplateName", Scopes: dev, Format: FormatChr, Access: g, Description: "certificate template name"})
			b.interior(cert+"/PrivateKeyContainer", adg, dev, "", "marks the certificate's private key container")
		}
	}
	renew := root + "/My/WSTEP/Renew"
	b.interior(root+"/My/WSTEP", g, dev, "", "MDM client certificate enrolled by WSTEP")
	b.interior(renew, adg, dev, "", "client certificate renewal settings")
	b.add(Node{Path: renew + "/ServerURL", Scopes: dev, Format: FormatChr, Access: adgr, Syntax: SyntaxURL, Description: "renewal endpoint"})
	b.add(Node{Path: renew + "/RenewPeriod", Scopes: dev, Format: FormatInt, Access: adgr, Min: ip(1), Max: ip(1000), Description: "days before expiry to start renewal"})
	b.add(Node{Path: renew + "/RetryInterval", Scopes: dev, Format: FormatInt, Access: adgr, Min: ip(1), Max: ip(1000), Description: "days between renewal attempts"})
	b.add(Node{Path: renew + "/ROBOSupport", Scopes: dev, Format: FormatBool, Access: adgr, Description: "renew on behalf of the device"})
	b.add(Node{Path: renew + "/Status", Scopes: dev, Format: FormatInt, Access: g, Description: "renewal status"})
	b.add(Node{Path: renew + "/ErrorCode", Scopes: dev, Format: FormatInt, Access: g, Description: "last renewal error"})
	b.add(Node{Path: renew + "/LastRenewalAttemptTime", Scopes: dev, Format: FormatChr, Access: g, Description: "time of the last renewal attempt"})
	b.add(Node{Path: renew + "/RenewNow", Scopes: dev, Format: FormatNull, Access: AccessExec | AccessGet, Description: "start a renewal now"})
}
