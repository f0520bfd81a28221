package gpo

import "strings"

// This file is the mapping of every Windows Hello for Business administrative template
// policy to its MDM node. It is keyed on the registry key and value name a policy writes
// (what registry.pol, LGPO text and a backup hold), never on the ADMX category path, which
// moves between Windows releases (PIN Complexity moved from Windows Components to System).
//
// Sources, cited per row below:
//   - Passport.admx (namespace Microsoft.Policies.MicrosoftPassportForWork; the policies under
//     Windows Components > Windows Hello for Business and System > PIN Complexity),
//   - Biometrics.admx (Face_EnhancedAntiSpoofing under Windows Components > Biometrics >
//     Facial Features),
//   - CredentialProviders.admx (AllowDomainPINLogon under System > Logon),
//   - the PassportForWork CSP page (passportforwork-csp) for ./Device|User/Vendor/MSFT/
//     PassportForWork nodes, and the Policy CSP CredentialProviders page
//     (policy-csp-credentialproviders) for AllowPINLogon.
//
// Every node named here must be a writable node of the csp catalog; the package tests check
// it, and Analyzer validates every value against the catalog before calling it supported.

// Registry keys the WHfB policies write (HKLM or HKCU by half).
const (
	keyPassport      = `SOFTWARE\Policies\Microsoft\PassportForWork`
	keyExclude       = keyPassport + `\ExcludeSecurityDevices`
	keyPIN           = keyPassport + `\PINComplexity`
	keyDeviceUnlock  = keyPassport + `\DeviceUnlock`
	keyDynamicLock   = keyPassport + `\DynamicLock`
	keyWinBioCredPrv = `SOFTWARE\Microsoft\Windows\CurrentVersion\WinBio\Credential Provider`
	keyFacial        = `SOFTWARE\Policies\Microsoft\Biometrics\FacialFeatures`
	keySystem        = `Software\Policies\Microsoft\Windows\System`
)

// CSP node patterns (without scope prefix) and their documentation pages.
const (
	pfwPolicies = "Vendor/MSFT/PassportForWork/{TenantId}/Policies/"
	pfwRoot     = "Vendor/MSFT/PassportForWork/"
	docPFW      = "PassportForWork CSP (passportforwork-csp)"
	docCredProv = "Policy CSP - CredentialProviders (policy-csp-credentialproviders)"
)

// conversion turns registry data into a CSP value.
type conversion int

const (
	convBool      conversion = iota + 1 // REG_DWORD 1 → true, 0 → false (the ADMX's enabledValue/disabledValue)
	convInt                             // REG_DWORD → decimal, checked against the node's range/allowed values
	convChr                             // REG_SZ / REG_EXPAND_SZ → chr as is
	convADMXOnOff                       // REG_DWORD 1 → <enabled/>, 0 → <disabled/> (ADMX-backed Policy CSP node)
)

// admxPolicy is one administrative template policy, as its ADMX file defines it.
type admxPolicy struct {
	file, name string
	display    []string // en-US display names (ADML), current first; older names after
	class      string   // Machine, User or Both
	key        string
	valueName  string  // "" when only elements carry values
	on, off    *uint32 // enabledValue / disabledValue (decimal); nil when the ADMX has none
	elements   []admxElement
}

// admxElement is one element of a policy's presentation: a checkbox (boolean, true 1 /
// false 0 in every policy here), a number box (decimal) or a text box (text).
type admxElement struct {
	kind      string // boolean, decimal or text
	key       string // "" = the policy's key
	valueName string
	label     string // en-US label, for reports
}

func (e admxElement) keyOf(p *admxPolicy) string {
	if e.key != "" {
		return e.key
	}
	return p.key
}

// mapping is one registry value → one CSP node.
type mapping struct {
	key, valueName string
	policy         string // admxPolicy.name
	label          string // element label; "" for the policy's own value
	node           string // catalog pattern; "" when MDM has no equivalent
	conv           conversion
	notSupported   string // why, when node is ""
	doc            string // the CSP documentation page of node
}

func u32(v uint32) *uint32 { return &v }

// admxPolicies lists the policies of Passport.admx, the facial anti-spoofing policy of
// Biometrics.admx and the convenience PIN policy of CredentialProviders.admx, with the
// registry values each writes (read from the ADMX files).
var admxPolicies = []admxPolicy{
	// Passport.admx: MSPassport_UsePassportForWork, class Both.
	{file: "Passport.admx", name: "MSPassport_UsePassportForWork", display: []string{"Use Windows Hello for Business"}, class: "Both",
		key: keyPassport, valueName: "Enabled", on: u32(1), off: u32(0),
		elements: []admxElement{{kind: "boolean", valueName: "DisablePostLogonProvisioning", label: "Do not start Windows Hello provisioning after sign-in"}}},
	// Passport.admx: MSPassport_RequireSecurityDevice, class Machine; element TPM12 under
	// ExcludeSecurityDevices.
	{file: "Passport.admx", name: "MSPassport_RequireSecurityDevice", display: []string{"Use a hardware security device"}, class: "Machine",
		key: keyPassport, valueName: "RequireSecurityDevice", on: u32(1), off: u32(0),
		elements: []admxElement{{kind: "boolean", key: keyExclude, valueName: "TPM12", label: "Do not use TPM 1.2"}}},
	// Passport.admx: MSPassport_UseBiometrics, class Machine; writes outside Policies.
	{file: "Passport.admx", name: "MSPassport_UseBiometrics", display: []string{"Allow use of biometrics", "Use biometrics"}, class: "Machine",
		key: keyWinBioCredPrv, valueName: "Domain Accounts", on: u32(1), off: u32(0)},
	// Passport.admx: MSPassport_EnablePinRecovery ("Use PIN Recovery"), class Machine.
	{file: "Passport.admx", name: "MSPassport_EnablePinRecovery", display: []string{"Use PIN Recovery"}, class: "Machine",
		key: keyPassport, valueName: "EnablePinRecovery", on: u32(1), off: u32(0)},
	// Passport.admx PIN complexity: decimal elements (min/max length 4–127, history 0–50,
	// expiration 0–730) and tri-state policies (enabledValue 1 = required, disabledValue 2 =
	// not allowed; not configured = allowed).
	{file: "Passport.admx", name: "MSPassport_MinimumPINLength", display: []string{"Minimum PIN length"}, class: "Machine",
		key: keyPIN, elements: []admxElement{{kind: "decimal", valueName: "MinimumPINLength", label: "Minimum PIN length"}}},
	{file: "Passport.admx", name: "MSPassport_MaximumPINLength", display: []string{"Maximum PIN length"}, class: "Machine",
		key: keyPIN, elements: []admxElement{{kind: "decimal", valueName: "MaximumPINLength", label: "Maximum PIN length"}}},
	{file: "Passport.admx", name: "MSPassport_UppercaseLetters", display: []string{"Require uppercase letters"}, class: "Machine",
		key: keyPIN, valueName: "UppercaseLetters", on: u32(1), off: u32(2)},
	{file: "Passport.admx", name: "MSPassport_LowercaseLetters", display: []string{"Require lowercase letters"}, class: "Machine",
		key: keyPIN, valueName: "LowercaseLetters", on: u32(1), off: u32(2)},
	{file: "Passport.admx", name: "MSPassport_SpecialCharacters", display: []string{"Require special characters"}, class: "Machine",
		key: keyPIN, valueName: "SpecialCharacters", on: u32(1), off: u32(2)},
	{file: "Passport.admx", name: "MSPassport_Digits", display: []string{"Require digits"}, class: "Machine",
		key: keyPIN, valueName: "Digits", on: u32(1), off: u32(2)},
	{file: "Passport.admx", name: "MSPassport_PINHistory", display: []string{"History"}, class: "Machine",
		key: keyPIN, elements: []admxElement{{kind: "decimal", valueName: "History", label: "PIN History"}}},
	{file: "Passport.admx", name: "MSPassport_PINExpiration", display: []string{"Expiration"}, class: "Machine",
		key: keyPIN, elements: []admxElement{{kind: "decimal", valueName: "Expiration", label: "PIN Expiration (days)"}}},
	// Passport.admx: WHFB_UseCertificateForOnPremAuth, class Both.
	{file: "Passport.admx", name: "WHFB_UseCertificateForOnPremAuth", display: []string{"Use certificate for on-premises authentication"}, class: "Both",
		key: keyPassport, valueName: "UseCertificateForOnPremAuth", on: u32(1), off: u32(0)},
	// Passport.admx: WHFB_UseCloudTrustForOnPremAuth, class Machine.
	{file: "Passport.admx", name: "WHFB_UseCloudTrustForOnPremAuth",
		display: []string{"Use cloud Kerberos trust for on-premises authentication", "Use cloud trust for on-premises authentication"}, class: "Machine",
		key: keyPassport, valueName: "UseCloudTrustForOnPremAuth", on: u32(1), off: u32(0)},
	// Passport.admx: MSPassport_UseDeviceUnlock, class Machine: three text elements.
	{file: "Passport.admx", name: "MSPassport_UseDeviceUnlock", display: []string{"Configure device unlock factors"}, class: "Machine",
		key: keyDeviceUnlock, elements: []admxElement{
			{kind: "text", valueName: "GroupA", label: "First unlock factor credential providers"},
			{kind: "text", valueName: "GroupB", label: "Second unlock factor credential providers"},
			{kind: "text", valueName: "Plugins", label: "Signal rules for device unlock"}}},
	// Passport.admx: MSPassport_UseDynamicLock, class Machine: DynamicLock 1/0 and a text element.
	{file: "Passport.admx", name: "MSPassport_UseDynamicLock", display: []string{"Configure dynamic lock factors"}, class: "Machine",
		key: keyDynamicLock, valueName: "DynamicLock", on: u32(1), off: u32(0),
		elements: []admxElement{{kind: "text", valueName: "Plugins", label: "Signal rules"}}},
	// Passport.admx: the smart card node policies, class Machine.
	{file: "Passport.admx", name: "MSPassport_DisableSmartCardNode", display: []string{"Turn off smart card emulation"}, class: "Machine",
		key: keyPassport, valueName: "DisableSmartCardNode", on: u32(1), off: u32(0)},
	{file: "Passport.admx", name: "MSPassport_AllowAllUserAccessToSmartCardNode", display: []string{"Allow enumeration of emulated smart card for all users"}, class: "Machine",
		key: keyPassport, valueName: "AllowAllUserAccessToSmartCardNode", on: u32(1), off: u32(0)},
	// Passport.admx: MSPassport_UseHelloCertificatesAsSmartCardCertificates, class Machine.
	{file: "Passport.admx", name: "MSPassport_UseHelloCertificatesAsSmartCardCertificates",
		display: []string{"Use Windows Hello for Business certificates as smart card certificates"}, class: "Machine",
		key: keyPassport, valueName: "UseHelloCertificatesAsSmartCardCertificates", on: u32(1), off: u32(0)},
	// Biometrics.admx: Face_EnhancedAntiSpoofing, class Machine.
	{file: "Biometrics.admx", name: "Face_EnhancedAntiSpoofing", display: []string{"Configure enhanced anti-spoofing"}, class: "Machine",
		key: keyFacial, valueName: "EnhancedAntiSpoofing", on: u32(1), off: u32(0)},
	// CredentialProviders.admx: AllowDomainPINLogon, class Machine.
	{file: "CredentialProviders.admx", name: "AllowDomainPINLogon", display: []string{"Turn on convenience PIN sign-in"}, class: "Machine",
		key: keySystem, valueName: "AllowDomainPINLogon", on: u32(1), off: u32(0)},
}

// mappings: one row per registry value above. Node patterns and formats are those of the CSP
// pages named in doc, as the csp catalog holds them.
var mappings = []mapping{
	// passportforwork-csp: Policies/UsePassportForWork, bool, Device and User.
	{key: keyPassport, valueName: "Enabled", policy: "MSPassport_UsePassportForWork", node: pfwPolicies + "UsePassportForWork", conv: convBool, doc: docPFW},
	// passportforwork-csp: Policies/DisablePostLogonProvisioning, bool, Device.
	{key: keyPassport, valueName: "DisablePostLogonProvisioning", policy: "MSPassport_UsePassportForWork", label: "Do not start Windows Hello provisioning after sign-in",
		node: pfwPolicies + "DisablePostLogonProvisioning", conv: convBool, doc: docPFW},
	// passportforwork-csp: Policies/RequireSecurityDevice, bool, Device and User.
	{key: keyPassport, valueName: "RequireSecurityDevice", policy: "MSPassport_RequireSecurityDevice", node: pfwPolicies + "RequireSecurityDevice", conv: convBool, doc: docPFW},
	// passportforwork-csp: Policies/ExcludeSecurityDevices/TPM12, bool, Device.
	{key: keyExclude, valueName: "TPM12", policy: "MSPassport_RequireSecurityDevice", label: "Do not use TPM 1.2",
		node: pfwPolicies + "ExcludeSecurityDevices/TPM12", conv: convBool, doc: docPFW},
	// passportforwork-csp: Biometrics/UseBiometrics, bool, Device (not per tenant).
	{key: keyWinBioCredPrv, valueName: "Domain Accounts", policy: "MSPassport_UseBiometrics", node: pfwRoot + "Biometrics/UseBiometrics", conv: convBool, doc: docPFW},
	// passportforwork-csp: Policies/EnablePinRecovery, bool, Device and User.
	{key: keyPassport, valueName: "EnablePinRecovery", policy: "MSPassport_EnablePinRecovery", node: pfwPolicies + "EnablePinRecovery", conv: convBool, doc: docPFW},
	// passportforwork-csp: Policies/PINComplexity/*, int, Device and User. The tri-state
	// values keep their ADMX meaning: 1 required, 2 not allowed (0 allowed) in both.
	{key: keyPIN, valueName: "MinimumPINLength", policy: "MSPassport_MinimumPINLength", node: pfwPolicies + "PINComplexity/MinimumPINLength", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "MaximumPINLength", policy: "MSPassport_MaximumPINLength", node: pfwPolicies + "PINComplexity/MaximumPINLength", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "UppercaseLetters", policy: "MSPassport_UppercaseLetters", node: pfwPolicies + "PINComplexity/UppercaseLetters", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "LowercaseLetters", policy: "MSPassport_LowercaseLetters", node: pfwPolicies + "PINComplexity/LowercaseLetters", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "SpecialCharacters", policy: "MSPassport_SpecialCharacters", node: pfwPolicies + "PINComplexity/SpecialCharacters", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "Digits", policy: "MSPassport_Digits", node: pfwPolicies + "PINComplexity/Digits", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "History", policy: "MSPassport_PINHistory", node: pfwPolicies + "PINComplexity/History", conv: convInt, doc: docPFW},
	{key: keyPIN, valueName: "Expiration", policy: "MSPassport_PINExpiration", node: pfwPolicies + "PINComplexity/Expiration", conv: convInt, doc: docPFW},
	// passportforwork-csp: Policies/UseCertificateForOnPremAuth, bool, Device.
	{key: keyPassport, valueName: "UseCertificateForOnPremAuth", policy: "WHFB_UseCertificateForOnPremAuth", node: pfwPolicies + "UseCertificateForOnPremAuth", conv: convBool, doc: docPFW},
	// passportforwork-csp: Policies/UseCloudTrustForOnPremAuth, bool, Device.
	{key: keyPassport, valueName: "UseCloudTrustForOnPremAuth", policy: "WHFB_UseCloudTrustForOnPremAuth", node: pfwPolicies + "UseCloudTrustForOnPremAuth", conv: convBool, doc: docPFW},
	// passportforwork-csp: DeviceUnlock/GroupA, GroupB, Plugins, chr, Device.
	{key: keyDeviceUnlock, valueName: "GroupA", policy: "MSPassport_UseDeviceUnlock", label: "First unlock factor credential providers", node: pfwRoot + "DeviceUnlock/GroupA", conv: convChr, doc: docPFW},
	{key: keyDeviceUnlock, valueName: "GroupB", policy: "MSPassport_UseDeviceUnlock", label: "Second unlock factor credential providers", node: pfwRoot + "DeviceUnlock/GroupB", conv: convChr, doc: docPFW},
	{key: keyDeviceUnlock, valueName: "Plugins", policy: "MSPassport_UseDeviceUnlock", label: "Signal rules for device unlock", node: pfwRoot + "DeviceUnlock/Plugins", conv: convChr, doc: docPFW},
	// passportforwork-csp: DynamicLock/DynamicLock bool and DynamicLock/Plugins chr, Device.
	{key: keyDynamicLock, valueName: "DynamicLock", policy: "MSPassport_UseDynamicLock", node: pfwRoot + "DynamicLock/DynamicLock", conv: convBool, doc: docPFW},
	{key: keyDynamicLock, valueName: "Plugins", policy: "MSPassport_UseDynamicLock", label: "Signal rules", node: pfwRoot + "DynamicLock/Plugins", conv: convChr, doc: docPFW},
	// passportforwork-csp has no node for smart card emulation or its enumeration.
	{key: keyPassport, valueName: "DisableSmartCardNode", policy: "MSPassport_DisableSmartCardNode",
		notSupported: "the PassportForWork CSP has no node for smart card emulation", doc: docPFW},
	{key: keyPassport, valueName: "AllowAllUserAccessToSmartCardNode", policy: "MSPassport_AllowAllUserAccessToSmartCardNode",
		notSupported: "the PassportForWork CSP has no node for enumerating the emulated smart card", doc: docPFW},
	// passportforwork-csp: Policies/UseHelloCertificatesAsSmartCardCertificates, bool, Device.
	{key: keyPassport, valueName: "UseHelloCertificatesAsSmartCardCertificates", policy: "MSPassport_UseHelloCertificatesAsSmartCardCertificates",
		node: pfwPolicies + "UseHelloCertificatesAsSmartCardCertificates", conv: convBool, doc: docPFW},
	// passportforwork-csp: Biometrics/FacialFeaturesUseEnhancedAntiSpoofing, bool, Device.
	{key: keyFacial, valueName: "EnhancedAntiSpoofing", policy: "Face_EnhancedAntiSpoofing", node: pfwRoot + "Biometrics/FacialFeaturesUseEnhancedAntiSpoofing", conv: convBool, doc: docPFW},
	// policy-csp-credentialproviders: AllowPINLogon, ADMX-backed chr, Device.
	{key: keySystem, valueName: "AllowDomainPINLogon", policy: "AllowDomainPINLogon", node: "Vendor/MSFT/Policy/Config/CredentialProviders/AllowPINLogon", conv: convADMXOnOff, doc: docCredProv},
}

// Indexes, built once.
var (
	byRegistry = func() map[string]*mapping {
		m := make(map[string]*mapping, len(mappings))
		for i := range mappings {
			m[regIndex(mappings[i].key, mappings[i].valueName)] = &mappings[i]
		}
		return m
	}()
	byPolicyName = func() map[string]*admxPolicy {
		m := make(map[string]*admxPolicy, len(admxPolicies))
		for i := range admxPolicies {
			m[admxPolicies[i].name] = &admxPolicies[i]
		}
		return m
	}()
	byDisplayName = func() map[string]*admxPolicy {
		m := map[string]*admxPolicy{}
		for i := range admxPolicies {
			for _, d := range admxPolicies[i].display {
				m[strings.ToLower(d)] = &admxPolicies[i]
			}
		}
		return m
	}()
)

// regIndex is the lookup key of a registry value: registry names are case-insensitive.
func regIndex(key, valueName string) string {
	return strings.ToLower(strings.Trim(key, `\`)) + "!" + strings.ToLower(valueName)
}
