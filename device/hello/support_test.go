package hello

import (
	"errors"
	"strings"
	"testing"
)

func entraNonDestructive() ResetRequest {
	return ResetRequest{
		Join: AzureADJoined, Trust: CloudTrust, EntryPoint: AboveLock, Kind: NonDestructive,
		Account: Enterprise, Edition: EditionProfessional, OSVersion: "10.0.19045.3803",
		RecoveryEnabled: true, ProtectorPresent: true, TenantOnboarded: true,
	}
}

func hybridDestructive() ResetRequest {
	return ResetRequest{
		Join: HybridJoined, Trust: CertTrust, EntryPoint: AboveLock, Kind: Destructive,
		Account: Enterprise, Edition: EditionEnterprise, OSVersion: "10.0.22631.4460",
		DCReachable: true,
	}
}

func msaDestructive() ResetRequest {
	return ResetRequest{
		EntryPoint: Settings, Kind: Destructive, Account: MicrosoftAccount,
		Edition: EditionHome, OSVersion: "10.0.19045",
	}
}

func onPremDestructive() ResetRequest {
	return ResetRequest{
		Join: OnPremises, Trust: KeyTrust, EntryPoint: Settings, Kind: Destructive,
		Account: Enterprise, Edition: EditionEnterprise, OSVersion: "10.0.19045.1",
		DCReachable: true, ADFSOnPrem: true, FederationReachable: true,
	}
}

func with(r ResetRequest, fn func(*ResetRequest)) ResetRequest {
	fn(&r)
	return r
}

func TestCheckSupportRows(t *testing.T) {
	tests := []struct {
		name    string
		req     ResetRequest
		wantRow string // "" = supported
	}{
		// Supported combinations.
		{"Entra joined non-destructive above lock", entraNonDestructive(), ""},
		{"hybrid cert trust destructive above lock", hybridDestructive(), ""},
		{"MSA destructive from Settings", msaDestructive(), ""},
		{"on-premises AD FS destructive", onPremDestructive(), ""},
		{"Entra joined destructive above lock needs no DC", with(entraNonDestructive(), func(r *ResetRequest) { r.Kind = Destructive; r.RecoveryEnabled = false }), ""},
		{"hybrid key trust destructive from Settings", with(hybridDestructive(), func(r *ResetRequest) { r.Trust = KeyTrust; r.EntryPoint = Settings }), ""},
		{"hybrid key trust non-destructive above lock without DC", with(entraNonDestructive(), func(r *ResetRequest) { r.Join = HybridJoined; r.Trust = KeyTrust }), ""},
		{"hybrid cloud trust destructive above lock", with(hybridDestructive(), func(r *ResetRequest) { r.Trust = CloudTrust }), ""},
		{"Enterprise 1709 non-destructive", with(entraNonDestructive(), func(r *ResetRequest) { r.Edition = EditionEnterprise; r.OSVersion = "10.0.16299.15" }), ""},
		{"Enterprise Eval 1809 non-destructive", with(entraNonDestructive(), func(r *ResetRequest) { r.Edition = EditionEnterpriseEval; r.OSVersion = "10.0.17763.1" }), ""},
		{"Education 1903 non-destructive", with(entraNonDestructive(), func(r *ResetRequest) { r.Edition = EditionEducation; r.OSVersion = "10.0.18362.30" }), ""},
		{"Pro Windows 11 non-destructive", with(entraNonDestructive(), func(r *ResetRequest) { r.OSVersion = "10.0.26100.1" }), ""},
		{"Settings on 1703", with(msaDestructive(), func(r *ResetRequest) { r.OSVersion = "10.0.15063.0" }), ""},
		{"federated IdP allow-listed", with(entraNonDestructive(), func(r *ResetRequest) { r.FederatedIdP = true; r.IdPAllowListed = true }), ""},
		{"federated IdP from Settings", with(entraNonDestructive(), func(r *ResetRequest) { r.FederatedIdP = true; r.EntryPoint = Settings }), ""},
		{"hybrid key trust with AD FS needs no federation", with(hybridDestructive(), func(r *ResetRequest) {
			r.Trust = KeyTrust
			r.EntryPoint = Settings
			r.ADFSOnPrem = true
		}), ""},

		// One refusal per row.
		{"cloud trust on-premises", with(onPremDestructive(), func(r *ResetRequest) { r.Trust = CloudTrust }), RowCloudTrustNeedsEntra},
		{"Settings before 1703", with(msaDestructive(), func(r *ResetRequest) { r.OSVersion = "10.0.14393.0" }), RowSettingsMinVersion},
		{"above lock before 1709", with(hybridDestructive(), func(r *ResetRequest) { r.OSVersion = "10.0.15063.2" }), RowAboveLockMinVersion},
		{"MSA non-destructive", with(msaDestructive(), func(r *ResetRequest) {
			r.Kind = NonDestructive
			r.Edition = EditionProfessional
			r.RecoveryEnabled, r.ProtectorPresent, r.TenantOnboarded = true, true, true
		}), RowMSADestructiveOnly},
		{"on-premises non-destructive", with(onPremDestructive(), func(r *ResetRequest) {
			r.Kind = NonDestructive
			r.RecoveryEnabled, r.ProtectorPresent, r.TenantOnboarded = true, true, true
		}), RowOnPremDestructiveOnly},
		{"Home non-destructive", with(entraNonDestructive(), func(r *ResetRequest) { r.Edition = EditionHome }), RowHomeDestructiveOnly},
		{"non-destructive on 1703", with(entraNonDestructive(), func(r *ResetRequest) {
			r.EntryPoint = Settings
			r.Edition = EditionEnterprise
			r.OSVersion = "10.0.15063.0"
		}), RowNonDestructiveMinVersion},
		{"Pro non-destructive on 1809", with(entraNonDestructive(), func(r *ResetRequest) { r.OSVersion = "10.0.17763.1" }), RowNonDestructiveEnterprise},
		{"Education non-destructive on 1709", with(entraNonDestructive(), func(r *ResetRequest) { r.Edition = EditionEducation; r.OSVersion = "10.0.16299.0" }), RowNonDestructiveEnterprise},
		{"unknown edition non-destructive on 1903", with(entraNonDestructive(), func(r *ResetRequest) { r.Edition = 7; r.OSVersion = "10.0.18362.0" }), RowNonDestructiveEdition},
		{"government cloud", with(entraNonDestructive(), func(r *ResetRequest) { r.GovCloud, r.ProtectorPresent, r.TenantOnboarded = true, false, false }), RowGovCloud},
		{"government cloud destructive", with(entraNonDestructive(), func(r *ResetRequest) { r.GovCloud, r.Kind, r.GovSignInAllowListed = true, Destructive, true }), ""},
		{"recovery policy off", with(entraNonDestructive(), func(r *ResetRequest) { r.RecoveryEnabled = false }), RowRecoveryDisabled},
		{"tenant not onboarded", with(entraNonDestructive(), func(r *ResetRequest) { r.TenantOnboarded = false }), RowTenantNotOnboarded},
		{"no protector", with(entraNonDestructive(), func(r *ResetRequest) { r.ProtectorPresent = false }), RowProtectorMissing},
		{"hybrid key trust destructive above lock", with(hybridDestructive(), func(r *ResetRequest) { r.Trust = KeyTrust }), RowHybridKeyTrustAboveLock},
		{"hybrid destructive without DC", with(hybridDestructive(), func(r *ResetRequest) { r.DCReachable = false }), RowHybridDestructiveNeedsDC},
		{"on-premises AD FS unreachable", with(onPremDestructive(), func(r *ResetRequest) { r.FederationReachable = false }), RowADFSNeedsFederation},
		{"hybrid cert trust AD FS unreachable", with(hybridDestructive(), func(r *ResetRequest) { r.ADFSOnPrem = true }), RowADFSNeedsFederation},
		{"federated IdP not allow-listed above lock", with(entraNonDestructive(), func(r *ResetRequest) { r.FederatedIdP = true }), RowWebSignInAllowList},
		{"Azure Government above lock without the government sign-in host", with(entraNonDestructive(), func(r *ResetRequest) { r.Kind, r.GovCloud = Destructive, true }), RowGovWebSignInAllowList},
		{"Azure Government above lock with the government sign-in host", with(entraNonDestructive(), func(r *ResetRequest) {
			r.Kind, r.GovCloud, r.GovSignInAllowListed = Destructive, true, true
		}), ""},
		{"Azure Government from Settings", with(entraNonDestructive(), func(r *ResetRequest) { r.Kind, r.GovCloud, r.EntryPoint = Destructive, true, Settings }), ""},
	}
	refused := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSupport(tt.req)
			if tt.wantRow == "" {
				if err != nil {
					t.Fatalf("CheckSupport = %v, want supported", err)
				}
				return
			}
			var re *RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("CheckSupport = %v, want *RefusalError", err)
			}
			if re.Row != tt.wantRow {
				t.Fatalf("refused by %s (%v), want %s", re.Row, err, tt.wantRow)
			}
			if !strings.Contains(err.Error(), tt.wantRow) || re.Reason == "" {
				t.Fatalf("refusal %q does not name its row and reason", err)
			}
			refused[re.Row] = true
		})
	}
	for _, row := range SupportRules() {
		if !refused[row.ID] {
			t.Errorf("row %s has no refusing test case", row.ID)
		}
		if row.Source == "" || row.Reason == "" {
			t.Errorf("row %s lacks a source or reason", row.ID)
		}
	}
}

func TestSupportRuleIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range SupportRules() {
		if seen[r.ID] {
			t.Errorf("duplicate row %s", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestCheckSupportInvalid(t *testing.T) {
	tests := []struct {
		name string
		req  ResetRequest
	}{
		{"zero request", ResetRequest{}},
		{"bad version", with(hybridDestructive(), func(r *ResetRequest) { r.OSVersion = "ten" })},
		{"enterprise without join", with(hybridDestructive(), func(r *ResetRequest) { r.Join = JoinUnknown })},
		{"enterprise without trust", with(hybridDestructive(), func(r *ResetRequest) { r.Trust = TrustUnknown })},
		{"unknown kind", with(hybridDestructive(), func(r *ResetRequest) { r.Kind = ResetKind(9) })},
		{"unknown entry point", with(hybridDestructive(), func(r *ResetRequest) { r.EntryPoint = EntryPoint(-1) })},
		{"MSA with unknown join value", with(msaDestructive(), func(r *ResetRequest) { r.Join = JoinType(42) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSupport(tt.req)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("CheckSupport = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestParseOSVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    OSVersion
		wantErr bool
	}{
		{"10.0.19045.3803", OSVersion{10, 0, 19045, 3803}, false},
		{"10.0.22000", OSVersion{10, 0, 22000, 0}, false},
		{"6.3.9600.0", OSVersion{6, 3, 9600, 0}, false},
		{"10.0", OSVersion{}, true},
		{"10.0.1.2.3", OSVersion{}, true},
		{"10.0.-1.0", OSVersion{}, true},
		{"10.0.+1.0", OSVersion{}, true},
		{"10..1.0", OSVersion{}, true},
		{"10.0.99999999999.0", OSVersion{}, true},
		{"", OSVersion{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOSVersion(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseOSVersion(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

func TestOSVersionCompare(t *testing.T) {
	a := OSVersion{10, 0, 17763, 5000}
	b := OSVersion{10, 0, 18362, 0}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Fatal("Compare ordering wrong")
	}
}

// Entra registered devices reset non-destructively (Learn "PIN reset"); cloud Kerberos
// trust does not exist there.
func TestCheckSupportEntraRegistered(t *testing.T) {
	reg := with(entraNonDestructive(), func(r *ResetRequest) { r.Join = EntraRegistered; r.Trust = KeyTrust })
	if err := CheckSupport(reg); err != nil {
		t.Errorf("registered, key trust, non-destructive: %v", err)
	}
	cloud := with(reg, func(r *ResetRequest) { r.Trust = CloudTrust })
	var ref *RefusalError
	if err := CheckSupport(cloud); !errors.As(err, &ref) || ref.Row != RowCloudTrustNeedsEntra {
		t.Errorf("registered, cloud trust: %v, want %s", err, RowCloudTrustNeedsEntra)
	}
	for _, s := range []string{"entra", "hybrid", "registered", "domain", "aad", "onprem"} {
		j, err := ParseJoinType(s)
		if err != nil {
			t.Fatalf("ParseJoinType(%q): %v", s, err)
		}
		if s != "aad" && s != "onprem" && j.Name() != s {
			t.Errorf("ParseJoinType(%q).Name() = %q", s, j.Name())
		}
	}
	if _, err := ParseJoinType("workplace"); err == nil {
		t.Error("ParseJoinType accepted an unknown name")
	}
}

// NonDestructiveRefusal is CanReset's question: nil when a non-destructive reset succeeds
// from at least one entry point.
func TestNonDestructiveRefusal(t *testing.T) {
	ok := entraNonDestructive()
	if ref, err := NonDestructiveRefusal(with(ok, func(r *ResetRequest) { r.Kind, r.EntryPoint = Destructive, Settings })); ref != nil || err != nil {
		t.Errorf("supported device: %v, %v", ref, err)
	}
	// A federated IdP missing from the allow list blocks only the lock screen: Settings works.
	if ref, err := NonDestructiveRefusal(with(ok, func(r *ResetRequest) { r.FederatedIdP = true })); ref != nil || err != nil {
		t.Errorf("federated IdP not allow-listed: %v, %v", ref, err)
	}
	for _, tc := range []struct {
		edit func(*ResetRequest)
		row  string
	}{
		{func(r *ResetRequest) { r.Edition = EditionHome }, RowHomeDestructiveOnly},
		{func(r *ResetRequest) { r.OSVersion = "10.0.17763.1" }, RowNonDestructiveEnterprise},
		{func(r *ResetRequest) { r.GovCloud = true }, RowGovCloud},
		{func(r *ResetRequest) { r.TenantOnboarded = false }, RowTenantNotOnboarded},
		{func(r *ResetRequest) { r.OSVersion = "10.0.14393.0" }, RowSettingsMinVersion},
	} {
		ref, err := NonDestructiveRefusal(with(ok, tc.edit))
		if err != nil || ref == nil || ref.Row != tc.row {
			t.Errorf("want %s: %v, %v", tc.row, ref, err)
		}
	}
	if _, err := NonDestructiveRefusal(ResetRequest{}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("invalid request: %v", err)
	}
}
