package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/push"
	"github.com/hellomdm/hellomdm/server/push/wns"
	"github.com/hellomdm/hellomdm/server/push/wns/wnstest"
)

const (
	wnsPFN    = "Contoso.MDM_8wekyb3d8bbwe"
	wnsSID    = "ms-app://s-1-15-2-2972962901-2322836549-3722629029-1345238579-3987825745-2155616079-650196962"
	wnsSecret = "Vex8L9WOFZuj95euaLrvSH7XyoDhLJc7"
)

// awaitNotification waits for the test WNS to accept a notification for the device's channel.
func awaitNotification(t *testing.T, w *wnstest.Server, did string) {
	t.Helper()
	select {
	case n := <-w.Notified:
		if n.Channel != did || n.Header.Get("X-WNS-Type") != "wns/raw" {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no notification reached the test WNS")
	}
}

// startWNS starts a server whose WNS client talks to a WNS test server on loopback (its
// address the only allowlist entry), and a test WNS accepting the tenant's credentials.
func startWNS(t *testing.T) (*env, *wnstest.Server) {
	t.Helper()
	w := wnstest.New(wnsSID, wnsSecret)
	t.Cleanup(w.Close)
	allow, err := wns.ParseAllowlist([]string{w.Host()})
	if err != nil {
		t.Fatal(err)
	}
	e := startOpts(t, testpg.OpenStore(t), nil, func(o *server.Options) {
		o.WNS = wns.Config{TokenURL: w.TokenURL(), Allowlist: &allow, RootCAs: w.RootCAs()}
	})
	return e, w
}

// wnsAgent enrolls a device whose WNS client registers channel(pfn) for the PFN.
func (e *env) wnsAgent(channel func(deviceID, pfn string) string) *device.Agent {
	e.t.Helper()
	id := newIdentity(e.t, "10.0.22631.4317", 4)
	a, err := device.Open(e.t.TempDir(), device.Options{Identity: &id, HTTPTimeout: 20 * time.Second,
		WNSChannel: func(pfn string) string { return channel(id.DeviceID, pfn) }})
	if err != nil {
		e.t.Fatal(err)
	}
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	return a
}

func (e *env) setWNS(patch map[string]string) (int, map[string]any) {
	e.t.Helper()
	var out map[string]any
	st := e.api(http.MethodPatch, "/tenants/"+contosoTenant+"/wns", patch, &out)
	return st, out
}

func (e *env) deviceWNS(did string) *wire.DeviceWNS {
	e.t.Helper()
	var v wire.Device
	if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did, nil, &v); st != http.StatusOK {
		e.t.Fatalf("reading device %s: HTTP %d", did, st)
	}
	return v.WNS
}

// A real Windows device's path: the admin configures the tenant's WNS settings (the secret
// never comes back), the device gets the PFN at its next session and reports a channel on
// the test WNS, an admin change (an assignment) makes the push hub wake it through WNS, the
// woken session applies the change, and Sync now goes through WNS too. A channel WNS calls
// gone is dropped and read again at the next session.
func TestWNSWakeEndToEnd(t *testing.T) {
	e, w := startWNS(t)
	ctx := context.Background()
	if st, out := e.setWNS(map[string]string{"pfn": wnsPFN}); st != http.StatusUnprocessableEntity {
		t.Fatalf("a PFN without credentials: HTTP %d %v, want 422", st, out)
	}
	st, out := e.setWNS(map[string]string{"pfn": wnsPFN, "packageSid": wnsSID, "clientSecret": wnsSecret})
	if st != http.StatusOK || out["clientSecretConfigured"] != true || out["pfn"] != wnsPFN {
		t.Fatalf("PATCH wns: HTTP %d %v", st, out)
	}
	a := e.wnsAgent(func(did, pfn string) string {
		if pfn != wnsPFN {
			return ""
		}
		return w.OpenChannel(did)
	})
	did := a.Identity().DeviceID
	// The group and the profile exist before the device has a channel: nothing wakes it yet.
	gid := e.groupWith(contosoTenant, "WNS pilot", did)
	pid := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v := e.deviceWNS(did)
	if v == nil || !v.HasChannel || v.ChannelHost != w.Host() || v.Status == nil || *v.Status != 0 || v.PFN != wnsPFN {
		t.Fatalf("device wns after the first session: %+v", v)
	}
	if left := time.Until(v.ChannelExpiresAt); left < 29*24*time.Hour || left > 30*24*time.Hour {
		t.Errorf("channel expires in %s, want 30 days", left)
	}
	if n := w.Requests(); n != 0 {
		t.Fatalf("%d notifications before any change", n)
	}

	// An admin change: the hub wakes the device through WNS; Windows starts a session when
	// the raw push arrives, and the change is applied in it.
	e.assign("configurationPolicies", pid, groupTarget(gid))
	awaitNotification(t, w, did)
	// (The hub forgets a device without a built-in channel once its change is applied: read
	// its record of the wake-up before the woken session.)
	waitFor(t, 10*time.Second, "the hub's record of the WNS wake-up", func() bool {
		st := e.app.Push.Status(did)
		return st.LastWakeReason == "policy" && st.LastWakeVia == "wns"
	})
	e.syncUntilState(a, contosoTenant, "/Policies/EnablePinRecovery", "succeeded")
	if v := e.deviceWNS(did); v.LastWakeResult != "accepted" || v.LastWakeAt.IsZero() {
		t.Errorf("last wake-up %q at %v", v.LastWakeResult, v.LastWakeAt)
	}
	// Sync now goes through WNS too.
	var res struct{ Wake string }
	if code := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/devices/"+did+"/syncDevice", nil, &res); code != http.StatusAccepted || res.Wake != "forwarded" {
		t.Fatalf("syncDevice: HTTP %d %+v", code, res)
	}
	awaitNotification(t, w, did)

	// The channel expires at WNS: the wake-up fails, the channel is dropped, and the next
	// session reads the device's new one.
	w.ExpireChannel(did)
	if err := e.app.WNS.Wake(ctx, contosoTenant, did); !errors.Is(err, wns.ErrChannelGone) {
		t.Fatalf("Wake on an expired channel: %v, want ErrChannelGone", err)
	}
	if v := e.deviceWNS(did); v.HasChannel {
		t.Fatalf("the gone channel is still kept: %+v", v)
	}
	if err := e.app.WNS.Wake(ctx, contosoTenant, did); !errors.Is(err, push.ErrNoChannel) {
		t.Fatalf("Wake without a channel: %v, want ErrNoWNSChannel", err)
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v := e.deviceWNS(did); !v.HasChannel {
		t.Fatalf("no channel after the re-read: %+v", v)
	}
	if err := e.app.WNS.Wake(ctx, contosoTenant, did); err != nil {
		t.Fatalf("Wake on the new channel: %v", err)
	}

	// The secret is in no answer and no audit event.
	var view map[string]any
	e.api(http.MethodGet, "/tenants/"+contosoTenant+"/wns", nil, &view)
	if view["clientSecretConfigured"] != true || view["clientSecret"] != nil {
		t.Errorf("GET wns: %v", view)
	}
	// (On PostgreSQL the audit sequencer seals events within about a second: wait for them.)
	var kinds map[string]int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		kinds = map[string]int{}
		err := e.app.Store.AuditEvents(ctx, contosoTenant, 0, func(ev *audit.Event) (bool, error) {
			if strings.Contains(string(ev.Details), wnsSecret) {
				t.Errorf("audit event %s %s carries the client secret", ev.Kind, ev.Action)
			}
			if ev.Kind == audit.KindDevicePush {
				kinds[ev.Action]++
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if kinds["pfnSet"] > 0 && kinds["channelReported"] > 0 && kinds["channelGone"] > 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, action := range []string{"pfnSet", "channelReported", "channelGone"} {
		if kinds[action] == 0 {
			t.Errorf("no device.push %s event: %v", action, kinds)
		}
	}

	// Clearing the PFN removes it from the device and forgets the channel.
	if st, out := e.setWNS(map[string]string{"pfn": ""}); st != http.StatusOK {
		t.Fatalf("clearing the PFN: HTTP %d %v", st, out)
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v := e.deviceWNS(did); v != nil {
		t.Fatalf("device wns after the PFN was cleared: %+v", v)
	}
	for _, n := range a.Nodes() {
		if strings.HasSuffix(n.URI, "/Push/PFN") {
			t.Errorf("the device still holds a PFN: %+v", n)
		}
	}
}

// A channel URI outside the allowlist is refused when the device reports it, and never
// called: not an http URI, not another host, not an address of the server's network.
func TestWNSRefusesChannelOutsideAllowlist(t *testing.T) {
	e, w := startWNS(t)
	if st, out := e.setWNS(map[string]string{"pfn": wnsPFN, "packageSid": wnsSID, "clientSecret": wnsSecret}); st != http.StatusOK {
		t.Fatalf("PATCH wns: HTTP %d %v", st, out)
	}
	for _, uri := range []string{
		"http://" + w.Host() + "/channel/x",
		"https://169.254.169.254/latest/meta-data/",
		"https://evil.example@" + w.Host() + "/channel/x",
		"https://db5p.notify.windows.com.evil.example/?token=x",
	} {
		a := e.wnsAgent(func(string, string) string { return uri })
		did := a.Identity().DeviceID
		if _, err := a.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		v := e.deviceWNS(did)
		if v == nil || v.HasChannel || v.Refused == "" {
			t.Errorf("%s: device wns %+v, want refused", uri, v)
		}
		if err := e.app.WNS.Wake(context.Background(), contosoTenant, did); !errors.Is(err, push.ErrNoChannel) {
			t.Errorf("%s: Wake = %v, want ErrNoWNSChannel", uri, err)
		}
	}
	if n := w.Requests(); n != 0 {
		t.Errorf("the test WNS got %d notifications", n)
	}
}
