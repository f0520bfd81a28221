package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Issue 13 item 3: consent withdrawn is known to the server at once and to the device at its
// next check-in, through an ordinary Replace the server queues; granting it again undoes it.
func TestConsentChangeReachesDevice(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.consent(contosoTenant, true)
	a := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	e.pinRecoveryFor(a)
	if _, err := a.ProvisionHello(ctx, "alice@contoso.com", helloPIN); err != nil {
		t.Fatal(err)
	}
	e.sync(a)
	did := a.Identity().DeviceID
	canReset := func() (dev, srv string) {
		t.Helper()
		return statusLine(status(t, a), "CanReset"), e.deviceView(contosoTenant, did).CanReset
	}
	if dev, srv := canReset(); dev != hello.CanResetDestructiveAndNonDestructive || srv != dev {
		t.Fatalf("consented: device %s, server %s", dev, srv)
	}

	e.consent(contosoTenant, false)
	// The server knows at once; the device has not checked in yet.
	if dev, srv := canReset(); dev != hello.CanResetDestructiveAndNonDestructive || srv != hello.CanResetDestructiveOnly {
		t.Fatalf("consent withdrawn, before the check-in: device %s, server %s", dev, srv)
	}
	rep := e.sync(a)
	if dev, srv := canReset(); dev != hello.CanResetDestructiveOnly || srv != dev {
		t.Fatalf("consent withdrawn, after the check-in: device %s, server %s", dev, srv)
	}
	if !strings.Contains(fmt.Sprint(rep.Applied), "PinResetService/Availability") {
		t.Errorf("the check-in applied %+v, want the PinResetService Replace", rep.Applied)
	}
	var cmds struct{ Value []wire.Command }
	if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did+"/commands", nil, &cmds); st != http.StatusOK {
		t.Fatalf("commands: HTTP %d", st)
	}
	if !strings.Contains(fmt.Sprintf("%+v", cmds.Value), "consentRequired") {
		t.Errorf("no listed command told the device: %+v", cmds.Value)
	}

	e.consent(contosoTenant, true)
	e.sync(a)
	e.sync(a) // the first check-in delivers the truth; the second reports the new CanReset
	if dev, srv := canReset(); dev != hello.CanResetDestructiveAndNonDestructive || srv != dev {
		t.Fatalf("consent granted again: device %s, server %s", dev, srv)
	}
}

// Issue 13 item 5: a government cloud tenant. Consent and assigning EnablePinRecovery warn;
// the device learns why non-destructive reset is unavailable; reset-pin says so instead of
// blaming the protector; above the lock screen an Entra joined device needs the government
// sign-in host in ConfigureWebSignInAllowedUrls, and the error names that workaround.
func TestGovernmentCloudPinReset(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.govCloud()
	const govNotice = "not available in Azure Government"

	var consent map[string]any
	if st := e.api(http.MethodPost, "/tenants/"+govTenant+"/pinReset/consent", map[string]any{"app": "service", "granted": true}, &consent); st != http.StatusOK {
		t.Fatalf("consent: HTTP %d", st)
	}
	if !strings.Contains(fmt.Sprint(consent["warnings"]), govNotice) {
		t.Errorf("consent answer carries no warning: %v", consent)
	}
	e.consent(govTenant, true)

	a := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, govUPN, enroll.CSRWindows)
	gid := e.groupWith(govTenant, "WHfB", a.Identity().DeviceID)
	pid := e.importProfileIn(govTenant, "configurationPolicies", catalogPinRecoveryExport)
	st, assigned := e.post("/tenants/"+govTenant+"/configurationPolicies/"+pid+"/assign", groupTarget(gid))
	if st != http.StatusOK || !strings.Contains(fmt.Sprint(assigned["warnings"]), govNotice) {
		t.Errorf("assigning EnablePinRecovery: HTTP %d, no warning: %v", st, assigned)
	}
	e.syncUntilState(a, govTenant, pinRecoveryNode, store.SettingSucceeded)
	if _, err := a.ProvisionHello(ctx, govUPN, helloPIN); err != nil {
		t.Fatal(err)
	}
	e.sync(a)
	e.sync(a)
	report := status(t, a)
	if statusLine(report, "CanReset") != hello.CanResetDestructiveOnly || !strings.Contains(statusLine(report, "NonDestructiveReset"), govNotice) {
		t.Errorf("device status:\n%s", report)
	}
	if v := e.deviceView(govTenant, a.Identity().DeviceID); v.CanReset != hello.CanResetDestructiveOnly || !strings.Contains(v.CanResetReason, govNotice) {
		t.Errorf("device list: %q (%q)", v.CanReset, v.CanResetReason)
	}

	var users struct {
		Value []struct{ ID, UserPrincipalName string }
	}
	if st := e.api(http.MethodGet, "/tenants/"+govTenant+"/users", nil, &users); st != http.StatusOK || len(users.Value) != 1 {
		t.Fatalf("users: HTTP %d %+v", st, users)
	}
	otp := e.enrollTOTP(govTenant, users.Value[0].ID)
	path := containerFile(t, a)
	before := readFile(t, path)

	// Non-destructive: the real reason, not the missing protector.
	_, err := a.ResetPIN(ctx, pinreset.Request{UPN: govUPN, EntryPoint: hello.Settings, Kind: hello.NonDestructive,
		Password: password, OTP: otp.next(), NewPIN: "8642"})
	if err == nil || !strings.Contains(err.Error(), "the PIN reset service is not available in Azure Government; use destructive PIN reset") ||
		strings.Contains(err.Error(), "protector") {
		t.Errorf("non-destructive reset: %v", err)
	}
	// Destructive above the lock screen: "We can't open that page right now" until the
	// government sign-in host is allowed, and the error says so.
	dreq := pinreset.Request{UPN: govUPN, EntryPoint: hello.AboveLock, Kind: hello.Destructive, Password: password, NewPIN: "8642"}
	dreq.OTP = otp.next()
	_, err = a.ResetPIN(ctx, dreq)
	var wse *pinreset.WebSignInError
	if !errors.As(err, &wse) || wse.Host != hello.GovSignInHost {
		t.Fatalf("destructive above lock without the allow list: %v", err)
	}
	for _, want := range []string{"We can't open that page right now", "add " + hello.GovSignInHost + " to", "ConfigureWebSignInAllowedUrls"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if string(before) != string(readFile(t, path)) {
		t.Error("a refusal changed the container")
	}
	e.replace(a, govTenant, "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", "chr", hello.GovSignInHost)
	dreq.OTP = otp.next()
	res, err := a.ResetPIN(ctx, dreq)
	if err != nil {
		t.Fatalf("destructive above lock with %s allowed: %v", hello.GovSignInHost, err)
	}
	if res.CanReset != hello.CanResetDestructiveOnly || !strings.Contains(res.CanResetReason, govNotice) {
		t.Errorf("after the destructive reset: %+v", res.UserState)
	}
}

// Issue 13 item 3: on a Home device EnablePinRecovery keeps the state the device answered
// (the PassportForWork CSP exists on Home), while the device's CanReset, the device list and
// the profile status say non-destructive reset is unavailable there because of the edition.
func TestHomeEditionPinRecoveryStatus(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.consent(contosoTenant, true)
	a := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionHome))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	gid := e.groupWith(contosoTenant, "Home devices", a.Identity().DeviceID)
	pid := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	e.assign("configurationPolicies", pid, groupTarget(gid))
	e.syncUntilState(a, contosoTenant, pinRecoveryNode, store.SettingSucceeded)
	if _, err := a.ProvisionHello(ctx, "alice@contoso.com", helloPIN); err != nil {
		t.Fatal(err)
	}
	e.sync(a)
	did := a.Identity().DeviceID
	if got := statusLine(status(t, a), "CanReset"); got != hello.CanResetDestructiveOnly {
		t.Errorf("device CanReset %q", got)
	}
	if v := e.deviceView(contosoTenant, did); v.CanReset != hello.CanResetDestructiveOnly || rowOf(v.CanResetReason) != hello.RowHomeDestructiveOnly {
		t.Errorf("device list: %q (%q)", v.CanReset, v.CanResetReason)
	}
	var ps wire.ProfileStatus
	if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/configurationPolicies/"+pid+"/deviceStatuses", nil, &ps); st != http.StatusOK || len(ps.Devices) != 1 {
		t.Fatalf("profile status: HTTP %d %+v", st, ps)
	}
	dev := ps.Devices[0]
	raw, _ := json.Marshal(dev)
	if stateOf(dev.Settings, pinRecoveryNode) != store.SettingSucceeded || dev.CanReset != hello.CanResetDestructiveOnly ||
		rowOf(dev.CanResetReason) != hello.RowHomeDestructiveOnly || !strings.Contains(dev.CanResetReason, "Home edition") {
		t.Errorf("profile status: %s", raw)
	}
}
