package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Issue 13 items 3 and 5: CanReset follows the support matrix.

const (
	govTenant = "3f9a2c71-5d4e-4b8a-a6c2-91e0d7b4f5a3" // Azure Government
	govUPN    = "dana@gov.contoso.com"
	helloPIN  = "1357"
)

// govCloud adds a government cloud tenant (with both consents, which change nothing there)
// and its user.
func (e *env) govCloud() {
	e.t.Helper()
	ctx := context.Background()
	if err := e.app.Store.CreateTenant(ctx, store.Tenant{ID: govTenant, DisplayName: "Contoso Gov", VerifiedDomains: []string{"gov.contoso.com"},
		AuthPolicy: store.AuthOnPremise, GovCloud: true}); err != nil {
		e.t.Fatal(err)
	}
	var u struct{ ID string }
	if st := e.api(http.MethodPost, "/tenants/"+govTenant+"/users", map[string]any{"userPrincipalName": govUPN, "passwordProfile": map[string]string{"password": password}}, &u); st != http.StatusCreated {
		e.t.Fatalf("creating %s: HTTP %d", govUPN, st)
	}
}

// deviceView reads one device from the tenant's device list.
func (e *env) deviceView(tenant, did string) wire.Device {
	e.t.Helper()
	var v struct {
		Value []wire.Device `json:"value"`
	}
	if st := e.api(http.MethodGet, "/tenants/"+tenant+"/devices", nil, &v); st != http.StatusOK {
		e.t.Fatalf("listing devices: HTTP %d", st)
	}
	for _, d := range v.Value {
		if d.ID == did {
			return d
		}
	}
	e.t.Fatalf("device %s not in the list of %s", did, tenant)
	return wire.Device{}
}

// statusLine returns the value of "name : value" in a dsregcmd-style report.
func statusLine(report, name string) string {
	for _, line := range strings.Split(report, "\n") {
		if n, v, ok := strings.Cut(strings.TrimSpace(line), " : "); ok && n == name {
			return v
		}
	}
	return ""
}

// liveNode is the agent's value of one of its nodes ("" when unset).
func liveNode(a *device.Agent, uri string) string {
	for _, n := range a.Nodes() {
		if n.URI == uri {
			return n.Value
		}
	}
	return ""
}

// rowOf is the row named by a CanResetReason.
func rowOf(reason string) string {
	_, rest, _ := strings.Cut(reason, "(")
	row, _, _ := strings.Cut(rest, ")")
	return row
}

// Every row of the support matrix, on a device set up so that the row applies: the row
// refuses its own reset (naming the row, changing nothing), and `device status`, the
// server's device list and device view, the lockout hint and a non-destructive reset-pin
// all give the same answer to "would a non-destructive reset succeed now", with the same
// row when it would not.
func TestCanResetAgreesAcrossTheMatrix(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.consent(contosoTenant, true)
	e.govCloud()
	const upn = "alice@contoso.com"
	type agentKey struct {
		os      string
		edition int
		gov     bool
	}
	agents := map[agentKey]*device.Agent{}
	agentFor := func(k agentKey) (*device.Agent, string, string) {
		user, tenant := upn, contosoTenant
		if k.gov {
			user, tenant = govUPN, govTenant
		}
		if a, ok := agents[k]; ok {
			return a, user, tenant
		}
		a := e.pinAgent(newIdentity(t, k.os, k.edition))
		e.enroll(a, user, enroll.CSRWindows)
		if _, err := a.ProvisionHello(ctx, user, helloPIN); err != nil {
			t.Fatalf("provision: %v", err)
		}
		agents[k] = a
		return a, user, tenant
	}
	bob := e.federatedBob(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionEnterprise))
	if _, err := bob.ProvisionHello(ctx, "bob@fabrikam.com", helloPIN); err != nil {
		t.Fatal(err)
	}
	recoveryURI := func(tenant string) string {
		return "./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"
	}
	// setRecovery sets EnablePinRecovery and, with protector, creates the protector (a sign-in
	// with the PIN); without, it leaves none (turning the policy off destroys it).
	setRecovery := func(a *device.Agent, user, tenant string, on, protector bool) {
		if !on || !protector {
			if a.Policy().PINRecoveryEnabled {
				e.replace(a, tenant, recoveryURI(tenant), "bool", "false")
			}
			if on {
				e.replace(a, tenant, recoveryURI(tenant), "bool", "true")
			}
			return
		}
		if !a.Policy().PINRecoveryEnabled {
			e.replace(a, tenant, recoveryURI(tenant), "bool", "true")
		}
		if _, err := a.UnlockHello(ctx, user, helloPIN); err != nil {
			t.Fatalf("sign-in with the PIN: %v", err)
		}
	}

	const win11, pro, ent = identity.OSVersionWindows11v23H2, identity.EditionPro, identity.EditionEnterprise
	d, nd := hello.Destructive, hello.NonDestructive
	join := func(j hello.JoinType, tr hello.TrustType, acc hello.AccountType) *identity.JoinState {
		return &identity.JoinState{Join: j, Trust: tr, Account: acc}
	}
	cases := []struct {
		row       string
		key       agentKey // zero: Windows 11 Pro in Contoso
		bob       bool
		join      *identity.JoinState
		recovery  bool // EnablePinRecovery, with a protector unless noProt
		noProt    bool
		unconsent bool
		req       pinreset.Request // the reset the row refuses
		canReset  string           // the row CanReset names; "" = DestructiveAndNonDestructive
	}{
		{row: hello.RowCloudTrustNeedsEntra, join: join(hello.OnPremises, hello.CloudTrust, hello.Enterprise), recovery: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.Settings}, canReset: hello.RowCloudTrustNeedsEntra},
		{row: hello.RowSettingsMinVersion, key: agentKey{"10.0.14393.0", ent, false}, // EnablePinRecovery needs 1703

			req: pinreset.Request{Kind: d, EntryPoint: hello.Settings}, canReset: hello.RowSettingsMinVersion},
		{row: hello.RowAboveLockMinVersion, key: agentKey{"10.0.15063.0", ent, false}, recovery: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.AboveLock}, canReset: hello.RowNonDestructiveMinVersion},
		{row: hello.RowMSADestructiveOnly, join: join(hello.EntraRegistered, hello.KeyTrust, hello.MicrosoftAccount), recovery: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowMSADestructiveOnly},
		{row: hello.RowOnPremDestructiveOnly, join: join(hello.OnPremises, hello.KeyTrust, hello.Enterprise), recovery: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowOnPremDestructiveOnly},
		{row: hello.RowHomeDestructiveOnly, key: agentKey{win11, identity.EditionHome, false}, recovery: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowHomeDestructiveOnly},
		{row: hello.RowNonDestructiveMinVersion, key: agentKey{"10.0.15063.0", ent, false}, recovery: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowNonDestructiveMinVersion},
		{row: hello.RowNonDestructiveEnterprise, key: agentKey{"10.0.17763.1", pro, false}, recovery: true, // Windows 10 1809 Pro
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowNonDestructiveEnterprise},
		{row: hello.RowNonDestructiveEdition, key: agentKey{win11, 7, false}, recovery: true, // Windows Server Standard
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowNonDestructiveEdition},
		{row: hello.RowGovCloud, key: agentKey{win11, pro, true}, recovery: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowGovCloud},
		{row: hello.RowRecoveryDisabled,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.Settings}, canReset: hello.RowRecoveryDisabled},
		{row: hello.RowTenantNotOnboarded, recovery: true, unconsent: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.AboveLock}, canReset: hello.RowTenantNotOnboarded},
		{row: hello.RowProtectorMissing, recovery: true, noProt: true,
			req: pinreset.Request{Kind: nd, EntryPoint: hello.AboveLock}, canReset: hello.RowProtectorMissing},
		// Rows of destructive reset leave non-destructive reset available.
		{row: hello.RowHybridKeyTrustAboveLock, join: join(hello.HybridJoined, hello.KeyTrust, hello.Enterprise), recovery: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.AboveLock, DCReachable: true}},
		{row: hello.RowHybridDestructiveNeedsDC, join: join(hello.HybridJoined, hello.CertTrust, hello.Enterprise), recovery: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.Settings}},
		{row: hello.RowADFSNeedsFederation, join: join(hello.HybridJoined, hello.CertTrust, hello.Enterprise), recovery: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.Settings, DCReachable: true, ADFSOnPrem: true}},
		{row: hello.RowWebSignInAllowList, bob: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.AboveLock}, canReset: hello.RowRecoveryDisabled},
		{row: hello.RowGovWebSignInAllowList, key: agentKey{win11, pro, true}, recovery: true,
			req: pinreset.Request{Kind: d, EntryPoint: hello.AboveLock}, canReset: hello.RowGovCloud},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.row, func(t *testing.T) {
			covered[tc.row] = true
			a, user, tenant := bob, "bob@fabrikam.com", fabrikamTen
			if !tc.bob {
				k := tc.key
				if k.os == "" {
					k = agentKey{win11, pro, false}
				}
				a, user, tenant = agentFor(k)
			}
			if tc.join != nil {
				if err := a.SetJoin(*tc.join); err != nil {
					t.Fatal(err)
				}
				defer a.SetJoin(identity.DefaultJoinState)
			}
			setRecovery(a, user, tenant, tc.recovery, !tc.noProt)
			if tc.unconsent {
				e.consent(tenant, false)
				defer e.consent(tenant, true)
			}
			// The device learns what only the server knows (consent, cloud) at check-in.
			e.sync(a)
			e.sync(a)
			did := a.Identity().DeviceID
			wantSvc := pinreset.ServiceAvailable
			switch {
			case tc.key.gov:
				wantSvc = pinreset.ServiceGovernmentCloud
			case tc.unconsent || tc.bob: // fabrikam never consented
				wantSvc = pinreset.ServiceConsentRequired
			}
			if got := a.ServiceAvailability(); got != wantSvc {
				t.Errorf("the device believes the PIN reset service is %q, want %q", got, wantSvc)
			}

			// 1. device status.
			report := status(t, a)
			got := statusLine(report, "CanReset")
			reason := liveNode(a, "./Device/Vendor/MSFT/hellomdm/HelloStatus/CanResetReason")
			want := hello.CanResetDestructiveAndNonDestructive
			if tc.canReset != "" {
				want = hello.CanResetDestructiveOnly
			}
			if got != want || rowOf(reason) != tc.canReset {
				t.Fatalf("device status: CanReset %q (%q), want %s (%s)\n%s", got, reason, want, tc.canReset, report)
			}
			if nd := statusLine(report, "NonDestructiveReset"); (tc.canReset == "") != (nd == "available") || (tc.canReset != "" && !strings.Contains(nd, reason)) {
				t.Errorf("device status: NonDestructiveReset %q", nd)
			}
			// 2. the server's device list, its filter and the device view.
			v := e.deviceView(tenant, did)
			if v.CanReset != want || v.CanResetReason != reason {
				t.Errorf("device list: %q (%q), device %q (%q)", v.CanReset, v.CanResetReason, want, reason)
			}
			if !contains(e.devicesWith(tenant, want), did) {
				t.Errorf("device list ?canReset=%s lacks the device", want)
			}
			var one wire.Device
			if st := e.api(http.MethodGet, "/tenants/"+tenant+"/devices/"+did, nil, &one); st != http.StatusOK || one.CanReset != want || one.CanResetReason != reason {
				t.Errorf("device view: HTTP %d %q (%q)", st, one.CanReset, one.CanResetReason)
			}
			// 3. the lockout hint.
			hint, err := a.LockoutHint("/state", user)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(hint, "--destructive") != (tc.canReset != "") || (tc.canReset != "" && !strings.Contains(hint, tc.canReset)) {
				t.Errorf("lockout hint disagrees with CanReset %s (%s):\n%s", want, tc.canReset, hint)
			}
			// 4. reset-pin, non-destructive, from Settings and above the lock screen. A
			// garbage token stops a reset the matrix lets through at the service, so nothing
			// changes either way.
			path := containerFile(t, a)
			before := readFile(t, path)
			for _, ep := range []hello.EntryPoint{hello.Settings, hello.AboveLock} {
				_, err := a.ResetPIN(ctx, pinreset.Request{UPN: user, EntryPoint: ep, Kind: nd, AccessToken: "e30.e30.sig", NewPIN: "8642"})
				var ref *hello.RefusalError
				refused := errors.As(err, &ref)
				switch {
				case tc.canReset == "" && refused:
					t.Errorf("reset-pin from %s refused (%v) although CanReset is %s", ep, err, want)
				case tc.canReset != "" && !refused && ep == hello.Settings:
					t.Errorf("reset-pin from %s = %v, want the refusal %s", ep, err, tc.canReset)
				case tc.canReset != "" && ep == hello.Settings && ref.Row != tc.canReset:
					t.Errorf("reset-pin from Settings refused by %s, CanReset by %s", ref.Row, tc.canReset)
				case tc.canReset == "" && err == nil:
					t.Errorf("reset-pin with a garbage token succeeded")
				}
			}
			// The row refuses its own reset, naming it, and changes nothing.
			req := tc.req
			req.UPN, req.Password, req.OTP, req.NewPIN = user, password, "123456", "8642"
			_, err = a.ResetPIN(ctx, req)
			var ref *hello.RefusalError
			if !errors.As(err, &ref) || ref.Row != tc.row || !strings.Contains(err.Error(), tc.row) {
				t.Fatalf("err = %v, want a refusal naming %s", err, tc.row)
			}
			if !bytes.Equal(before, readFile(t, path)) {
				t.Error("a refusal changed the container")
			}
		})
	}
	for _, r := range hello.SupportRules() {
		if !covered[r.ID] {
			t.Errorf("support matrix row %s has no case", r.ID)
		}
	}
}
