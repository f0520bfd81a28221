package gpo

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// The fixtures under testdata are one GPO, "WHfB - PIN recovery", in the four forms an
// administrator has it in. They are generated here (go test -run TestFixtures -update) and
// committed; without -update the test regenerates them and fails if the committed files
// differ, so the fixtures and their generator cannot drift apart.
//
// The GPO sets, in the Computer half, in this order: Use Windows Hello for Business
// (Enabled, "Do not start provisioning after sign-in" cleared), Use a hardware security
// device (Enabled, "Do not use TPM 1.2" ticked), Use PIN Recovery (Enabled), Minimum PIN
// length (Enabled, 6), Maximum PIN length (Disabled: no disabledValue, so a **del.), Require
// uppercase letters (Disabled: 2), Require digits (Enabled: 1), Turn off smart card emulation
// (Enabled: no MDM equivalent), Turn on convenience PIN sign-in (Enabled), Configure enhanced
// anti-spoofing (Enabled), Configure dynamic lock factors (Enabled with a signal rule), and
// one value no ADMX describes (Contoso's banner). In the User half: Use Windows Hello for
// Business (Enabled, provisioning check box cleared) and Use certificate for on-premises
// authentication (Enabled, which the CSP has no ./User node for).

var update = flag.Bool("update", false, "rewrite testdata fixtures and golden files")

const (
	fixtureGPOName  = "WHfB - PIN recovery"
	fixtureGPOID    = "{5C2E4B1A-8D3F-4E6A-9B7C-1D2E3F4A5B6C}"
	fixtureBackupID = "{A1B2C3D4-E5F6-4789-ABCD-EF0123456789}"
	fixtureDomain   = "contoso.com"
	dynamicLockRule = `<rule schemaVersion="1.0"><signal type="bluetooth" scenario="Dynamic Lock" classOfDevice="512" rssiMin="-10" rssiMaxDelta="-10"/></rule>`
)

func dw(scope Scope, key, name string, n uint64) Entry {
	return Entry{Scope: scope, Key: key, ValueName: name, Action: ActionSet, Value: Value{Type: RegDWord, Num: n}}
}

func sz(scope Scope, key, name, s string) Entry {
	return Entry{Scope: scope, Key: key, ValueName: name, Action: ActionSet, Value: Value{Type: RegSZ, Str: s}}
}

func del(scope Scope, key, name string) Entry {
	return Entry{Scope: scope, Key: key, ValueName: name, Action: ActionDelete}
}

// fixtureEntries is the GPO as its registry.pol files hold it, in the order GPMC writes
// policies (the gpreport lists them in the same order).
func fixtureEntries(scope Scope) []Entry {
	const (
		p   = `SOFTWARE\Policies\Microsoft\PassportForWork`
		pin = p + `\PINComplexity`
	)
	if scope == User {
		return []Entry{
			dw(User, p, "Enabled", 1),
			dw(User, p, "DisablePostLogonProvisioning", 0),
			dw(User, p, "UseCertificateForOnPremAuth", 1),
		}
	}
	return []Entry{
		dw(Machine, p, "Enabled", 1),
		dw(Machine, p, "DisablePostLogonProvisioning", 0),
		dw(Machine, p, "RequireSecurityDevice", 1),
		dw(Machine, p+`\ExcludeSecurityDevices`, "TPM12", 1),
		dw(Machine, p, "EnablePinRecovery", 1),
		dw(Machine, pin, "MinimumPINLength", 6),
		del(Machine, pin, "MaximumPINLength"),
		dw(Machine, pin, "UppercaseLetters", 2),
		dw(Machine, pin, "Digits", 1),
		dw(Machine, p, "DisableSmartCardNode", 1),
		dw(Machine, `Software\Policies\Microsoft\Windows\System`, "AllowDomainPINLogon", 1),
		dw(Machine, `SOFTWARE\Policies\Microsoft\Biometrics\FacialFeatures`, "EnhancedAntiSpoofing", 1),
		dw(Machine, p+`\DynamicLock`, "DynamicLock", 1),
		sz(Machine, p+`\DynamicLock`, "Plugins", dynamicLockRule),
		sz(Machine, `Software\Policies\Contoso\Hello`, "Banner", "Welcome to Contoso"),
	}
}

// fixtureReportXML is the gpreport.xml of the GPO as Get-GPOReport -ReportType Xml writes
// it (before the UTF-16 encoding).
func fixtureReportXML() string {
	policy := func(name, state, category, extra string) string {
		return "        <q1:Policy>\r\n          <q1:Name>" + name + "</q1:Name>\r\n          <q1:State>" + state +
			"</q1:State>\r\n          <q1:Explain>See the ADMX explanation text.</q1:Explain>\r\n          <q1:Supported>At least Windows 10</q1:Supported>\r\n          <q1:Category>" +
			category + "</q1:Category>\r\n" + extra + "        </q1:Policy>\r\n"
	}
	check := func(name, state string) string {
		return "          <q1:CheckBox>\r\n            <q1:Name>" + name + "</q1:Name>\r\n            <q1:State>" + state + "</q1:State>\r\n          </q1:CheckBox>\r\n"
	}
	numeric := func(name, v string) string {
		return "          <q1:Numeric>\r\n            <q1:Name>" + name + "</q1:Name>\r\n            <q1:Value>" + v + "</q1:Value>\r\n          </q1:Numeric>\r\n"
	}
	text := func(name, v string) string {
		return "          <q1:EditText>\r\n            <q1:Name>" + name + "</q1:Name>\r\n            <q1:Value>" + v + "</q1:Value>\r\n          </q1:EditText>\r\n"
	}
	const (
		whfb = "Windows Components/Windows Hello for Business"
		pinc = "System/PIN Complexity"
	)
	esc := strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace
	computer := policy("Use Windows Hello for Business", "Enabled", whfb, check("Do not start Windows Hello provisioning after sign-in", "Disabled")) +
		policy("Use a hardware security device", "Enabled", whfb, check("Do not use TPM 1.2", "Enabled")) +
		policy("Use PIN Recovery", "Enabled", whfb, "") +
		policy("Minimum PIN length", "Enabled", pinc, numeric("Minimum PIN length", "6")) +
		policy("Maximum PIN length", "Disabled", pinc, "") +
		policy("Require uppercase letters", "Disabled", pinc, "") +
		policy("Require digits", "Enabled", pinc, "") +
		policy("Turn off smart card emulation", "Enabled", whfb, "") +
		policy("Turn on convenience PIN sign-in", "Enabled", "System/Logon", "") +
		policy("Configure enhanced anti-spoofing", "Enabled", "Windows Components/Biometrics/Facial Features", "") +
		policy("Configure dynamic lock factors", "Enabled", whfb, text("Signal rules:", esc(dynamicLockRule))) +
		"        <q1:RegistrySetting>\r\n          <q1:KeyPath>Software\\Policies\\Contoso\\Hello</q1:KeyPath>\r\n          <q1:AdmSetting>false</q1:AdmSetting>\r\n" +
		"          <q1:Value>\r\n            <q1:Name>Banner</q1:Name>\r\n            <q1:String>Welcome to Contoso</q1:String>\r\n          </q1:Value>\r\n        </q1:RegistrySetting>\r\n"
	user := policy("Use Windows Hello for Business", "Enabled", whfb, check("Do not start Windows Hello provisioning after sign-in", "Disabled")) +
		policy("Use certificate for on-premises authentication", "Enabled", whfb, "")
	half := func(tag, body string) string {
		return "  <" + tag + ">\r\n    <VersionDirectory>3</VersionDirectory>\r\n    <VersionSysvol>3</VersionSysvol>\r\n    <Enabled>true</Enabled>\r\n" +
			"    <ExtensionData>\r\n      <Extension xmlns:q1=\"http://www.microsoft.com/GroupPolicy/Settings/Registry\" xsi:type=\"q1:RegistrySettings\">\r\n" +
			body + "      </Extension>\r\n      <Name>Registry</Name>\r\n    </ExtensionData>\r\n  </" + tag + ">\r\n"
	}
	return "<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n" +
		"<GPO xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://www.microsoft.com/GroupPolicy/Settings\">\r\n" +
		"  <Identifier>\r\n    <Identifier xmlns=\"http://www.microsoft.com/GroupPolicy/Types\">" + fixtureGPOID + "</Identifier>\r\n" +
		"    <Domain xmlns=\"http://www.microsoft.com/GroupPolicy/Types\">" + fixtureDomain + "</Domain>\r\n  </Identifier>\r\n" +
		"  <Name>" + fixtureGPOName + "</Name>\r\n  <IncludeComments>true</IncludeComments>\r\n" +
		"  <CreatedTime>2026-11-30T09:12:44</CreatedTime>\r\n  <ModifiedTime>2026-12-01T15:03:10</ModifiedTime>\r\n  <ReadTime>2026-12-02T08:00:00.0000000Z</ReadTime>\r\n" +
		"  <SecurityDescriptor>\r\n    <SDDL xmlns=\"http://www.microsoft.com/GroupPolicy/Types/Security\">O:DAG:DAD:PAI(A;CI;CCDCLCSWRPWPDTLOSDRCWDWO;;;DA)</SDDL>\r\n  </SecurityDescriptor>\r\n" +
		"  <FilterDataAvailable>true</FilterDataAvailable>\r\n" +
		half("Computer", computer) + half("User", user) +
		"  <LinksTo>\r\n    <SOMName>Workstations</SOMName>\r\n    <SOMPath>" + fixtureDomain + "/Workstations</SOMPath>\r\n    <Enabled>true</Enabled>\r\n    <NoOverride>false</NoOverride>\r\n  </LinksTo>\r\n" +
		"</GPO>"
}

// utf16LEWithBOM encodes text as Get-GPOReport -Path writes it.
func utf16LEWithBOM(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

// lgpoText renders entries as LGPO.exe /parse prints them.
func lgpoText(source string, scope Scope, entries []Entry) string {
	conf := "Computer"
	if scope == User {
		conf = "User"
	}
	var b strings.Builder
	b.WriteString("; ----------------------------------------------------------------------\r\n")
	b.WriteString("; PARSING " + conf + " POLICY\r\n; Source file:  " + source + "\r\n\r\n")
	for _, e := range entries {
		b.WriteString(conf + "\r\n" + e.Key + "\r\n")
		switch e.Action {
		case ActionDelete:
			b.WriteString(e.ValueName + "\r\nDELETE\r\n\r\n")
		case ActionDeleteAllValues:
			b.WriteString("*\r\nDELETEALLVALUES\r\n\r\n")
		default:
			b.WriteString(e.ValueName + "\r\n")
			switch e.Value.Type {
			case RegDWord:
				b.WriteString("DWORD:" + e.Value.Data() + "\r\n\r\n")
			default:
				b.WriteString("SZ:" + e.Value.Str + "\r\n\r\n")
			}
		}
	}
	b.WriteString("; PARSING COMPLETED.\r\n; ----------------------------------------------------------------------\r\n\r\n")
	return b.String()
}

const backupXML = `<?xml version="1.0" encoding="utf-8"?><!-- Copyright (c) Microsoft Corporation.  All rights reserved. --><GroupPolicyBackupScheme bkp:version="2.0" bkp:type="GroupPolicyBackupTemplate" xmlns:bkp="http://www.microsoft.com/GroupPolicy/GPOOperations" xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations">
    <GroupPolicyObject><SecurityGroups><Group bkp:Source="FromDACL"><Sid><![CDATA[S-1-5-21-1004336348-1177238915-682003330-512]]></Sid><SamAccountName><![CDATA[Domain Admins]]></SamAccountName><Type><![CDATA[Global]]></Type><NetBIOSDomainName><![CDATA[CONTOSO]]></NetBIOSDomainName><DnsDomainName><![CDATA[contoso.com]]></DnsDomainName><UPN><![CDATA[Domain Admins@contoso.com]]></UPN></Group></SecurityGroups><FilePaths/><GroupPolicyCoreSettings><ID><![CDATA[` + fixtureGPOID + `]]></ID><Domain><![CDATA[contoso.com]]></Domain><SecurityDescriptor>01 00 04 9c 00 00 00 00</SecurityDescriptor><DisplayName><![CDATA[` + fixtureGPOName + `]]></DisplayName><Options><![CDATA[0]]></Options><UserVersionNumber><![CDATA[196611]]></UserVersionNumber><MachineVersionNumber><![CDATA[196611]]></MachineVersionNumber><MachineExtensionGuids><![CDATA[[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]]]></MachineExtensionGuids><UserExtensionGuids><![CDATA[[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F73-3407-48AE-BA88-E8213C6761F1}]]]></UserExtensionGuids><WMIFilter/></GroupPolicyCoreSettings>
        <GroupPolicyExtension bkp:ID="{35378EAC-683F-11D2-A89A-00C04FBBCFA2}" bkp:DescName="Registry">
            <FSObjectFile bkp:Path="%GPO_MACH_FSPATH%\registry.pol" bkp:SourceExpandedPath="\\dc01.contoso.com\sysvol\contoso.com\Policies\` + fixtureGPOID + `\Machine\registry.pol" bkp:Location="DomainSysvol\GPO\Machine\registry.pol"/>
            <FSObjectFile bkp:Path="%GPO_USER_FSPATH%\registry.pol" bkp:SourceExpandedPath="\\dc01.contoso.com\sysvol\contoso.com\Policies\` + fixtureGPOID + `\User\registry.pol" bkp:Location="DomainSysvol\GPO\User\registry.pol"/>
        </GroupPolicyExtension>
        <GroupPolicyExtension bkp:ID="{F15C46CD-82A0-4C2D-A210-5D0D3182A418}" bkp:DescName="Unknown Extension">
            <FSObjectDir bkp:Path="%GPO_MACH_FSPATH%\Microsoft" bkp:SourceExpandedPath="\\dc01.contoso.com\sysvol\contoso.com\Policies\` + fixtureGPOID + `\Machine\Microsoft" bkp:Location="DomainSysvol\GPO\Machine\Microsoft"/>
        </GroupPolicyExtension>
    </GroupPolicyObject>
</GroupPolicyBackupScheme>`

const bkupInfoXML = `<BackupInst xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"><GPOGuid><![CDATA[` + fixtureGPOID + `]]></GPOGuid><GPODomain><![CDATA[contoso.com]]></GPODomain><GPODomainGuid><![CDATA[{2B7D0E5C-6C1F-4E5B-8C0D-9E1F2A3B4C5D}]]></GPODomainGuid><GPODomainController><![CDATA[dc01.contoso.com]]></GPODomainController><BackupTime><![CDATA[2026-12-02T08:00:00]]></BackupTime><ID><![CDATA[` + fixtureBackupID + `]]></ID><Comment><![CDATA[before moving to MDM]]></Comment><GPODisplayName><![CDATA[` + fixtureGPOName + `]]></GPODisplayName></BackupInst>`

const manifestXML = `<?xml version="1.0" encoding="utf-8"?>
<Backups xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest" xmlns:mfst="http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest" mfst:version="1.0">
  <BackupInst xmlns:bkp="http://www.microsoft.com/GroupPolicy/GPOOperations">
    <GPOGuid><![CDATA[` + fixtureGPOID + `]]></GPOGuid>
    <GPODomain><![CDATA[contoso.com]]></GPODomain>
    <GPODomainGuid><![CDATA[{2B7D0E5C-6C1F-4E5B-8C0D-9E1F2A3B4C5D}]]></GPODomainGuid>
    <GPODomainController><![CDATA[dc01.contoso.com]]></GPODomainController>
    <BackupTime><![CDATA[2026-12-02T08:00:00]]></BackupTime>
    <ID><![CDATA[` + fixtureBackupID + `]]></ID>
    <Comment><![CDATA[before moving to MDM]]></Comment>
    <GPODisplayName><![CDATA[` + fixtureGPOName + `]]></GPODisplayName>
  </BackupInst>
</Backups>`

// fixtureFiles maps each testdata path to its generated content.
func fixtureFiles() map[string][]byte {
	machine := EncodeRegistryPol(fixtureEntries(Machine))
	user := EncodeRegistryPol(fixtureEntries(User))
	report := utf16LEWithBOM(fixtureReportXML())
	inst := "backup/" + fixtureBackupID + "/"
	return map[string][]byte{
		"registry.pol":      machine,
		"user-registry.pol": user,
		"empty.pol":         EncodeRegistryPol(nil),
		"gpreport.xml":      report,
		"lgpo.txt": []byte(lgpoText(`C:\GPO\`+fixtureBackupID+`\DomainSysvol\GPO\Machine\registry.pol`, Machine, fixtureEntries(Machine)) +
			lgpoText(`C:\GPO\`+fixtureBackupID+`\DomainSysvol\GPO\User\registry.pol`, User, fixtureEntries(User))),
		"backup/manifest.xml":                          []byte(manifestXML),
		inst + "Backup.xml":                            []byte(backupXML),
		inst + "bkupInfo.xml":                          []byte(bkupInfoXML),
		inst + "gpreport.xml":                          report,
		inst + "DomainSysvol/GPO/Machine/registry.pol": machine,
		inst + "DomainSysvol/GPO/User/registry.pol":    user,
	}
}

func TestFixtures(t *testing.T) {
	for name, want := range fixtureFiles() {
		p := filepath.Join("testdata", filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFixtures -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator (run go test -run TestFixtures -update)", p)
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
