package hello

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JoinType is how the device is joined.
type JoinType int

// Join types. The zero value is invalid for enterprise accounts.
const (
	JoinUnknown     JoinType = iota
	AzureADJoined            // Microsoft Entra joined
	HybridJoined             // Microsoft Entra hybrid joined
	OnPremises               // domain joined, on-premises-only deployment
	EntraRegistered          // Microsoft Entra registered (workplace joined): a work account added to a personal or other-joined device
)

func (j JoinType) String() string {
	return enumName(int(j), "JoinType", "", "Entra joined", "Entra hybrid joined", "on-premises domain joined", "Entra registered")
}

// Name is the join type's short name on the command line and in the agent's state: entra,
// hybrid, domain or registered.
func (j JoinType) Name() string {
	return enumName(int(j), "JoinType", "", "entra", "hybrid", "domain", "registered")
}

// ParseJoinType reads a join type's Name; "aad" and "onprem", the names of earlier
// releases, are accepted for entra and domain.
func ParseJoinType(s string) (JoinType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "entra", "aad":
		return AzureADJoined, nil
	case "hybrid":
		return HybridJoined, nil
	case "domain", "onprem":
		return OnPremises, nil
	case "registered":
		return EntraRegistered, nil
	}
	return JoinUnknown, fmt.Errorf("join type %q: want entra, hybrid, registered or domain", s)
}

// TrustType is the Windows Hello for Business trust model.
type TrustType int

// Trust types. The zero value is invalid for enterprise accounts.
const (
	TrustUnknown TrustType = iota
	CertTrust              // certificate trust
	KeyTrust               // key trust
	CloudTrust             // cloud Kerberos trust
)

func (t TrustType) String() string {
	return enumName(int(t), "TrustType", "", "certificate trust", "key trust", "cloud Kerberos trust")
}

// Name is the trust type's short name: cert, key or cloud.
func (t TrustType) Name() string {
	return enumName(int(t), "TrustType", "", "cert", "key", "cloud")
}

// ParseTrustType reads a trust type's Name.
func ParseTrustType(s string) (TrustType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "cert":
		return CertTrust, nil
	case "key":
		return KeyTrust, nil
	case "cloud":
		return CloudTrust, nil
	}
	return TrustUnknown, fmt.Errorf("trust type %q: want key, cert or cloud", s)
}

// EntryPoint is where the user starts the reset.
type EntryPoint int

// Entry points.
const (
	EntryUnknown EntryPoint = iota
	Settings                // Settings › Accounts › Sign-in options › I forgot my PIN
	AboveLock               // "I forgot my PIN" on the lock screen's PIN credential provider
)

func (e EntryPoint) String() string {
	return enumName(int(e), "EntryPoint", "", "Settings", "above the lock screen")
}

// ResetKind is destructive or non-destructive reset.
type ResetKind int

// Reset kinds.
const (
	KindUnknown ResetKind = iota
	Destructive
	NonDestructive
)

func (k ResetKind) String() string {
	return enumName(int(k), "ResetKind", "", "destructive", "non-destructive")
}

// AccountType is the kind of account whose PIN is reset.
type AccountType int

// Account types.
const (
	AccountUnknown   AccountType = iota
	Enterprise                   // work or school account
	MicrosoftAccount             // MSA
)

func (a AccountType) String() string {
	return enumName(int(a), "AccountType", "", "enterprise account", "Microsoft account")
}

// Name is the account type's short name: enterprise or msa.
func (a AccountType) Name() string {
	return enumName(int(a), "AccountType", "", "enterprise", "msa")
}

// ParseAccountType reads an account type's Name.
func ParseAccountType(s string) (AccountType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "enterprise":
		return Enterprise, nil
	case "msa":
		return MicrosoftAccount, nil
	}
	return AccountUnknown, fmt.Errorf("account type %q: want enterprise or msa", s)
}

func enumName(v int, typ string, names ...string) string {
	if v > 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// OSEdition values (GetProductInfo PRODUCT_* constants, reported by MS-MDE2 AdditionalContext
// OSEdition and DevDetail Ext/Microsoft/OSEdition) grouped by the families the Learn page
// names.
const (
	EditionEnterprise     = 4   // PRODUCT_ENTERPRISE
	EditionProfessional   = 48  // PRODUCT_PROFESSIONAL
	EditionEnterpriseEval = 72  // PRODUCT_ENTERPRISE_EVALUATION
	EditionHome           = 101 // PRODUCT_CORE
	EditionEducation      = 121 // PRODUCT_EDUCATION
)

type editionFamily int

const (
	familyUnknown editionFamily = iota
	familyHome
	familyPro
	familyEnterprise
	familyEducation
)

func familyOf(edition int) editionFamily {
	switch edition {
	case 4, 27, 72, 84, 125, 126, 129, 130: // Enterprise, N, Evaluation, N Evaluation, LTSC (S) variants
		return familyEnterprise
	case 48, 49, 161, 162, 164, 165: // Pro, Pro N, Pro for Workstations (N), Pro Education (N)
		return familyPro
	case 121, 122: // Education, Education N
		return familyEducation
	case 98, 99, 100, 101: // Home N, Home China, Home Single Language, Home
		return familyHome
	}
	return familyUnknown
}

// OSVersion is a Windows version "major.minor.build[.revision]".
type OSVersion struct {
	Major, Minor, Build, Revision uint32
}

// ParseOSVersion parses "10.0.19045.3803" or "10.0.19045".
func ParseOSVersion(s string) (OSVersion, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 && len(parts) != 4 {
		return OSVersion{}, fmt.Errorf("parsing OS version %q: want 3 or 4 dot-separated numbers", s)
	}
	var n [4]uint32
	for i, p := range parts {
		if p == "" || len(p) > 10 || strings.TrimLeft(p, "0123456789") != "" {
			return OSVersion{}, fmt.Errorf("parsing OS version %q: %q is not a number", s, p)
		}
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return OSVersion{}, fmt.Errorf("parsing OS version %q: %w", s, err)
		}
		n[i] = uint32(v)
	}
	return OSVersion{n[0], n[1], n[2], n[3]}, nil
}

// Compare returns -1, 0 or +1.
func (v OSVersion) Compare(w OSVersion) int {
	for _, d := range [][2]uint32{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Build, w.Build}, {v.Revision, w.Revision}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

func (v OSVersion) String() string {
	return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Build, v.Revision)
}

// Build numbers of the Windows 10 releases the support matrix names.
const (
	build1703 = 15063 // Windows 10 version 1703
	build1709 = 16299 // Windows 10 version 1709
	build1903 = 18362 // Windows 10 version 1903
)

// win10 returns the first Windows 10 version of a build.
func win10(build uint32) OSVersion { return OSVersion{Major: 10, Minor: 0, Build: build} }

// ResetRequest describes a PIN reset attempt for CheckSupport.
type ResetRequest struct {
	Join       JoinType  // may be JoinUnknown for a Microsoft account
	Trust      TrustType // may be TrustUnknown for a Microsoft account
	EntryPoint EntryPoint
	Kind       ResetKind
	Account    AccountType
	Edition    int    // OSEdition, e.g. 4 Enterprise, 48 Pro, 121 Education, 101 Home
	OSVersion  string // "10.0.x.y"

	DCReachable         bool // line of sight to a domain controller
	FederationReachable bool // line of sight to the on-premises federation service
	ADFSOnPrem          bool // the deployment uses on-premises AD FS

	RecoveryEnabled  bool // PassportForWork EnablePinRecovery is true
	ProtectorPresent bool // the container holds a PIN reset protector the service can decrypt
	TenantOnboarded  bool // the tenant consented to the PIN reset service and client apps
	// GovCloud: the tenant is in a government cloud (Azure Government), where the PIN reset
	// service is not offered.
	GovCloud bool

	// FederatedIdP is true when sign-in is handled by AD FS or a non-Microsoft identity
	// provider; IdPAllowListed when all its domains are in
	// Policy/Authentication/ConfigureWebSignInAllowedUrls.
	FederatedIdP   bool
	IdPAllowListed bool
	// GovSignInAllowListed: GovSignInHost is in ConfigureWebSignInAllowedUrls (matters for
	// a GovCloud tenant's Entra joined devices above the lock screen).
	GovSignInAllowListed bool
}

// GovSignInHost is the Azure US Government sign-in host. The Learn page "PIN reset" documents
// that above-lock PIN reset on Entra joined devices in Azure Government stops at "We can't
// open that page right now" unless this host is in
// Policy/Authentication/ConfigureWebSignInAllowedUrls.
const GovSignInHost = "login.microsoftonline.us"

// Row IDs of the support matrix, in evaluation order.
const (
	RowCloudTrustNeedsEntra     = "cloud-trust-needs-entra"
	RowSettingsMinVersion       = "settings-min-version"
	RowAboveLockMinVersion      = "above-lock-min-version"
	RowMSADestructiveOnly       = "msa-destructive-only"
	RowOnPremDestructiveOnly    = "on-premises-destructive-only"
	RowHomeDestructiveOnly      = "home-destructive-only"
	RowNonDestructiveMinVersion = "non-destructive-min-version"
	RowNonDestructiveEnterprise = "non-destructive-enterprise-1709-1809"
	RowNonDestructiveEdition    = "non-destructive-edition-1903"
	RowGovCloud                 = "government-cloud"
	RowRecoveryDisabled         = "recovery-policy-disabled"
	RowTenantNotOnboarded       = "tenant-not-onboarded"
	RowProtectorMissing         = "protector-missing"
	RowHybridKeyTrustAboveLock  = "hybrid-key-trust-destructive-above-lock"
	RowHybridDestructiveNeedsDC = "hybrid-destructive-needs-dc"
	RowADFSNeedsFederation      = "adfs-needs-federation-service"
	RowWebSignInAllowList       = "web-sign-in-allowlist"
	RowGovWebSignInAllowList    = "government-web-sign-in-allowlist"
)

// SupportRule is one row of the PIN reset support matrix.
type SupportRule struct {
	ID      string
	Reason  string // shown when the row refuses
	Suggest string // what works instead; may be empty
	Source  string // where the rule comes from
	refuses func(r *ResetRequest, v OSVersion) bool
}

const (
	srcLearn    = "learn.microsoft.com/windows/security/identity-protection/hello-for-business/pin-reset"
	srcLearnOld = srcLearn + " (requirements of the 1709–1909 era revisions)"
	srcCSP      = "learn.microsoft.com/windows/client-management/mdm/passportforwork-csp (EnablePinRecovery)"
)

// SupportRules returns the support matrix, in the order CheckSupport evaluates it. Each
// call returns a new slice. A combination no row refuses is supported; that includes
// Microsoft Entra registered devices with key or certificate trust, for which the Learn page
// "PIN reset" lists both destructive and non-destructive reset.
func SupportRules() []SupportRule {
	nd := func(r *ResetRequest) bool { return r.Kind == NonDestructive }
	d := func(r *ResetRequest) bool { return r.Kind == Destructive }
	return []SupportRule{
		{
			ID: RowCloudTrustNeedsEntra, Source: "learn.microsoft.com/windows/security/identity-protection/hello-for-business/deploy/hybrid-cloud-kerberos-trust",
			Reason:  "cloud Kerberos trust exists only on Entra joined or hybrid joined devices",
			Suggest: "use key trust or certificate trust on on-premises and Entra registered devices",
			refuses: func(r *ResetRequest, _ OSVersion) bool {
				return (r.Join == OnPremises || r.Join == EntraRegistered) && r.Trust == CloudTrust
			},
		},
		{
			ID: RowSettingsMinVersion, Source: srcCSP,
			Reason:  "PIN reset from Settings needs Windows 10 version 1703 (10.0.15063) or later",
			Suggest: "update Windows",
			refuses: func(r *ResetRequest, v OSVersion) bool {
				return r.EntryPoint == Settings && v.Compare(win10(build1703)) < 0
			},
		},
		{
			ID: RowAboveLockMinVersion, Source: srcLearnOld,
			Reason:  "PIN reset above the lock screen needs Windows 10 version 1709 (10.0.16299) or later",
			Suggest: "sign in with another credential and reset from Settings, or update Windows",
			refuses: func(r *ResetRequest, v OSVersion) bool {
				return r.EntryPoint == AboveLock && v.Compare(win10(build1709)) < 0
			},
		},
		{
			ID: RowMSADestructiveOnly, Source: srcLearn + " (MSA/Enterprise)",
			Reason:  "non-destructive PIN reset is for enterprise accounts only",
			Suggest: "use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && r.Account == MicrosoftAccount },
		},
		{
			ID: RowOnPremDestructiveOnly, Source: srcLearn + " (On Premises)",
			Reason:  "the PIN reset service relies on Entra identities, so on-premises deployments have no non-destructive reset",
			Suggest: "use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && r.Join == OnPremises },
		},
		{
			ID: RowHomeDestructiveOnly, Source: srcLearn + " (requirements: Enterprise, Education and Pro)",
			Reason:  "Home edition has no non-destructive PIN reset",
			Suggest: "use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && familyOf(r.Edition) == familyHome },
		},
		{
			ID: RowNonDestructiveMinVersion, Source: srcLearnOld,
			Reason:  "non-destructive PIN reset needs Windows 10 version 1709 (10.0.16299) or later",
			Suggest: "use destructive PIN reset, or update Windows",
			refuses: func(r *ResetRequest, v OSVersion) bool { return nd(r) && v.Compare(win10(build1709)) < 0 },
		},
		{
			ID: RowNonDestructiveEnterprise, Source: srcLearnOld,
			Reason:  "on Windows 10 versions 1709 to 1809 non-destructive PIN reset needs Enterprise edition",
			Suggest: "use destructive PIN reset, or update to version 1903 (10.0.18362) or later",
			refuses: func(r *ResetRequest, v OSVersion) bool {
				return nd(r) && v.Compare(win10(build1709)) >= 0 && v.Compare(win10(build1903)) < 0 && familyOf(r.Edition) != familyEnterprise
			},
		},
		{
			ID: RowNonDestructiveEdition, Source: srcLearn + " (requirements: Enterprise, Education and Pro)",
			Reason:  "non-destructive PIN reset needs Pro, Enterprise or Education edition",
			Suggest: "use destructive PIN reset",
			refuses: func(r *ResetRequest, v OSVersion) bool {
				f := familyOf(r.Edition)
				return nd(r) && v.Compare(win10(build1903)) >= 0 && f != familyPro && f != familyEnterprise && f != familyEducation
			},
		},
		{
			// Before the policy and onboarding rows: in Azure Government no policy or
			// consent makes the service exist, and the protector can never be escrowed.
			ID: RowGovCloud, Source: srcLearn + " (Enable the Microsoft PIN Reset Service: not available in Azure Government)",
			Reason:  "the PIN reset service is not available in Azure Government",
			Suggest: "use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && r.GovCloud },
		},
		{
			ID: RowRecoveryDisabled, Source: srcCSP,
			Reason:  "PIN recovery is not enabled (PassportForWork EnablePinRecovery is false)",
			Suggest: "set ./Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery to true, or use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && !r.RecoveryEnabled },
		},
		{
			ID: RowTenantNotOnboarded, Source: srcLearn + " (Enable the Microsoft PIN Reset Service)",
			Reason:  "the tenant has not consented to the PIN reset service and client applications",
			Suggest: "grant admin consent to both PIN reset applications, or use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && !r.TenantOnboarded },
		},
		{
			ID: RowProtectorMissing, Source: srcLearn + " (How nondestructive PIN reset works)",
			Reason:  "the Hello container has no PIN reset protector yet",
			Suggest: "sign in with the PIN once after EnablePinRecovery applies so the protector is created, or use destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return nd(r) && !r.ProtectorPresent },
		},
		{
			ID: RowHybridKeyTrustAboveLock, Source: srcLearn + " (Microsoft Entra hybrid joined)",
			Reason:  "hybrid key trust can't do destructive PIN reset above the lock screen (key sync delay)",
			Suggest: "use non-destructive PIN reset above the lock screen, or destructive reset from Settings",
			refuses: func(r *ResetRequest, _ OSVersion) bool {
				return d(r) && r.Join == HybridJoined && r.Trust == KeyTrust && r.EntryPoint == AboveLock
			},
		},
		{
			ID: RowHybridDestructiveNeedsDC, Source: srcLearn + " (User experience)",
			Reason:  "destructive PIN reset on a hybrid joined device needs connectivity to a domain controller",
			Suggest: "connect to the corporate network, or use non-destructive PIN reset",
			refuses: func(r *ResetRequest, _ OSVersion) bool { return d(r) && r.Join == HybridJoined && !r.DCReachable },
		},
		{
			ID: RowADFSNeedsFederation, Source: srcLearn + " (On Premises; User experience)",
			Reason:  "with on-premises AD FS (on-premises deployments, or hybrid certificate trust) destructive PIN reset needs connectivity to the federation service",
			Suggest: "connect to the corporate network",
			refuses: func(r *ResetRequest, _ OSVersion) bool {
				usesADFS := r.Join == OnPremises || (r.Join == HybridJoined && r.Trust == CertTrust)
				return d(r) && r.ADFSOnPrem && usesADFS && !r.FederationReachable
			},
		},
		{
			ID: RowWebSignInAllowList, Source: srcLearn + " (Configure allowed URLs for federated identity providers)",
			Reason:  "above-lock PIN reset on an Entra joined device runs in web sign-in, which can't open the federated identity provider's pages",
			Suggest: "list the identity provider's domains in ./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls",
			refuses: func(r *ResetRequest, _ OSVersion) bool {
				return r.Account == Enterprise && r.Join == AzureADJoined && r.EntryPoint == AboveLock && r.FederatedIdP && !r.IdPAllowListed
			},
		},
		{
			ID: RowGovWebSignInAllowList, Source: srcLearn + " (Configure allowed URLs for federated identity providers: Azure US Government)",
			Reason:  "in Azure Government, above-lock PIN reset on an Entra joined device stops at \"We can't open that page right now\" until web sign-in may open " + GovSignInHost,
			Suggest: "add " + GovSignInHost + " to ./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls",
			refuses: func(r *ResetRequest, _ OSVersion) bool {
				return r.Account == Enterprise && r.Join == AzureADJoined && r.EntryPoint == AboveLock && r.GovCloud && !r.GovSignInAllowListed
			},
		},
	}
}

func (r ResetRequest) validate() (OSVersion, error) {
	var errs []error
	if r.Account != Enterprise && r.Account != MicrosoftAccount {
		errs = append(errs, fmt.Errorf("unknown account type %d", int(r.Account)))
	}
	if r.Account == Enterprise || r.Join != JoinUnknown {
		if r.Join < AzureADJoined || r.Join > EntraRegistered {
			errs = append(errs, fmt.Errorf("unknown join type %d", int(r.Join)))
		}
	}
	if r.Account == Enterprise || r.Trust != TrustUnknown {
		if r.Trust < CertTrust || r.Trust > CloudTrust {
			errs = append(errs, fmt.Errorf("unknown trust type %d", int(r.Trust)))
		}
	}
	if r.EntryPoint != Settings && r.EntryPoint != AboveLock {
		errs = append(errs, fmt.Errorf("unknown entry point %d", int(r.EntryPoint)))
	}
	if r.Kind != Destructive && r.Kind != NonDestructive {
		errs = append(errs, fmt.Errorf("unknown reset kind %d", int(r.Kind)))
	}
	v, err := ParseOSVersion(r.OSVersion)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return OSVersion{}, fmt.Errorf("%w: %w", ErrInvalidRequest, errors.Join(errs...))
	}
	return v, nil
}

// NonDestructiveRefusal answers dsregcmd's CanReset question for the device and user r
// describes: would a non-destructive reset succeed now from at least one entry point
// (Settings or above the lock screen)? It returns nil when it would, and otherwise the
// refusal of the Settings entry point, the one that depends on the fewest outside facts
// (r.Kind and r.EntryPoint are ignored). An invalid request returns an error wrapping
// ErrInvalidRequest.
func NonDestructiveRefusal(r ResetRequest) (*RefusalError, error) {
	r.Kind = NonDestructive
	var first *RefusalError
	for _, ep := range []EntryPoint{Settings, AboveLock} {
		r.EntryPoint = ep
		err := CheckSupport(r)
		if err == nil {
			return nil, nil
		}
		var ref *RefusalError
		if !errors.As(err, &ref) {
			return nil, err
		}
		if first == nil {
			first = ref
		}
	}
	return first, nil
}

// CheckSupport evaluates r against SupportRules in order and returns a *RefusalError naming
// the first row that refuses, an error wrapping ErrInvalidRequest for a malformed request,
// or nil when the reset is supported.
func CheckSupport(r ResetRequest) error {
	v, err := r.validate()
	if err != nil {
		return fmt.Errorf("checking PIN reset support: %w", err)
	}
	for _, row := range SupportRules() {
		if row.refuses(&r, v) {
			return &RefusalError{Row: row.ID, Reason: row.Reason, Suggest: row.Suggest}
		}
	}
	return nil
}
