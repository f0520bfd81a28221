package e2e

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

const (
	pinRecoveryURI = "./Device/Vendor/MSFT/PassportForWork/" + contosoTenant + "/Policies/EnablePinRecovery"
	allowListURI   = "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	allowResultURI = "./Vendor/MSFT/Policy/Result/Authentication/ConfigureWebSignInAllowedUrls"
	allowList      = "signin.contoso.com;portal.contoso.com"
)

// Issue 5 acceptance: the two PIN recovery nodes are delivered, applied, confirmed and read
// back; unenrollment ends management.
func TestPinRecoveryPolicyDelivery(t *testing.T) {
	e := start(t)
	var hookCalls []bool
	id := newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro)
	a, err := device.Open(t.TempDir(), device.Options{Identity: &id,
		OnPinRecoveryChanged: func(enabled bool) error { hookCalls = append(hookCalls, enabled); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := id.DeviceID
	ctx := context.Background()

	pin := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Replace", LocURI: pinRecoveryURI, Format: "bool", Data: "true"})
	allow := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Replace", LocURI: allowListURI, Format: "chr", Data: allowList})
	rep, err := a.Sync(ctx)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if len(rep.Applied) != 2 || rep.Applied[0].Status != syncml.StatusOK || rep.Applied[1].Status != syncml.StatusOK {
		t.Fatalf("applied = %+v", rep.Applied)
	}
	pol := a.Policy()
	if !pol.PINRecoveryEnabled || pol.TenantID != contosoTenant {
		t.Errorf("policy = %+v, want PIN recovery enabled for %s", pol, contosoTenant)
	}
	if want := []string{"signin.contoso.com", "portal.contoso.com"}; !slices.Equal(pol.WebSignInAllowedURLs, want) {
		t.Errorf("allow list = %q, want %q", pol.WebSignInAllowedURLs, want)
	}
	if !slices.Equal(hookCalls, []bool{true}) {
		t.Errorf("OnPinRecoveryChanged calls = %v, want [true]", hookCalls)
	}
	for _, id := range []string{pin, allow} {
		if v := e.command(contosoTenant, did, id); v.State != string(store.CommandSucceeded) || v.StatusCode != syncml.StatusOK {
			t.Errorf("command %s %s: state %s, status %d", v.Verb, v.LocURI, v.State, v.StatusCode)
		}
	}

	gets := map[string]string{pinRecoveryURI: "true", allowListURI: allowList, allowResultURI: allowList}
	ids := map[string]string{}
	for uri := range gets {
		ids[uri] = e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Get", LocURI: uri})
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	for uri, want := range gets {
		v := e.command(contosoTenant, did, ids[uri])
		if v.StatusCode != syncml.StatusOK || len(v.Results) != 1 || v.Results[0].Data != want {
			t.Errorf("Get %s: status %d, results %+v; want %q", uri, v.StatusCode, v.Results, want)
		}
	}

	// A policy delete reverts to the default and tells the hook.
	del := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Delete", LocURI: pinRecoveryURI})
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v := e.command(contosoTenant, did, del); v.StatusCode != syncml.StatusOK || a.Policy().PINRecoveryEnabled {
		t.Errorf("delete: status %d, policy %+v", v.StatusCode, a.Policy())
	}
	if !slices.Equal(hookCalls, []bool{true, false}) {
		t.Errorf("OnPinRecoveryChanged calls = %v, want [true false]", hookCalls)
	}

	// Unenroll: the server marks the device, and its certificate no longer gets a session.
	cert := tlsCertOf(t, a)
	if err := a.Unenroll(ctx); err != nil {
		t.Fatalf("unenroll: %v", err)
	}
	d, err := e.app.Store.Device(ctx, did)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.DeviceUnenrolled {
		t.Errorf("server device state = %s, want %s", d.State, store.DeviceUnenrolled)
	}
	if _, err := a.Sync(ctx); !errors.Is(err, enroll.ErrNotEnrolled) {
		t.Errorf("sync after unenroll: %v, want ErrNotEnrolled", err)
	}
	if _, hdr, err := e.checkin(cert, did); err != nil || hdr != syncml.StatusForbidden {
		t.Errorf("check-in with the unenrolled certificate: SyncHdr %d, err %v; want 403", hdr, err)
	}
}

// A Windows 10 1709 device lacks ConfigureWebSignInAllowedUrls (10.0.17134.2145 and later) but
// takes EnablePinRecovery (1703 and later).
func TestPolicyOnOldWindows(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows10v1709, identity.EditionEnterprise))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	pin := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Replace", LocURI: pinRecoveryURI, Format: "bool", Data: "true"})
	allow := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Replace", LocURI: allowListURI, Format: "chr", Data: allowList})
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := e.command(contosoTenant, did, pin); v.StatusCode != syncml.StatusOK {
		t.Errorf("EnablePinRecovery: status %d", v.StatusCode)
	}
	if v := e.command(contosoTenant, did, allow); v.StatusCode != syncml.StatusNotFound {
		t.Errorf("ConfigureWebSignInAllowedUrls on 1709: status %d, want 404", v.StatusCode)
	}
	if !a.Policy().PINRecoveryEnabled || len(a.Policy().WebSignInAllowedURLs) != 0 {
		t.Errorf("policy = %+v", a.Policy())
	}
}
