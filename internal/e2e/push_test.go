package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// runPushAgent enrolls an agent at e and runs it with the push channel and a poll schedule
// so long (a poll "minute" of an hour) that nothing in the test can come from a poll; it
// returns the agent once its channel is held by holder and its first session is done.
func runPushAgent(t *testing.T, e *env, holder *server.App) *device.Agent {
	t.Helper()
	a, err := device.Open(t.TempDir(), device.Options{Identity: ptr(newIdentity(t, "10.0.22631.2428", 48)), HTTPTimeout: 20 * time.Second,
		PollUnit: time.Hour, PushChannel: true, PushMinBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("device run: %v", err)
		}
	})
	did := a.Identity().DeviceID
	waitFor(t, 20*time.Second, "the agent's push channel", func() bool { return holder.Push.Status(did).Connected })
	waitFor(t, 20*time.Second, "the agent's first session", func() bool {
		d, err := holder.Store.Device(context.Background(), did)
		return err == nil && !d.LastSeenAt.IsZero()
	})
	return a
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assignRecovery creates a group holding the device, imports the PIN recovery profile and
// assigns it to the group, through e's admin API.
func assignRecovery(t *testing.T, e *env, did string) {
	t.Helper()
	gid := e.groupWith(contosoTenant, "Push pilot", did)
	pid := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	if st, out := e.post("/tenants/"+contosoTenant+"/configurationPolicies/"+pid+"/assign",
		`{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"`+gid+`"}}]}`); st != http.StatusOK {
		t.Fatalf("assign: HTTP %d %v", st, out)
	}
}

// TestPushAppliesWithoutPoll: an agent in `device run` receives a profile assigned after it
// connected, and the setting is recorded succeeded with no poll due (issue 18).
func TestPushAppliesWithoutPoll(t *testing.T) {
	e := start(t)
	a := runPushAgent(t, e, e.app)
	did := a.Identity().DeviceID
	assignRecovery(t, e, did)
	waitFor(t, 30*time.Second, "EnablePinRecovery succeeded on the device", func() bool {
		return stateOf(e.settingStatesIn(contosoTenant, did), "/EnablePinRecovery") == store.SettingSucceeded
	})
	st := e.app.Push.Status(did)
	if st.LastWakeReason != "policy" || st.LastWakeResult == "" {
		t.Fatalf("push status %+v: want the policy wake-up recorded", st)
	}
	// Sync now reaches the running agent too: a command queued behind the API's back (which
	// wakes nobody) goes out in the session Sync now starts.
	syncNowDelivers(t, e, did, "delivered")
}

// syncNowDelivers queues a Get straight into the store (no wake-up), asks e for Sync now and
// waits for the Get to be answered: only a session started by the wake-up can carry it.
func syncNowDelivers(t *testing.T, e *env, did, want string) {
	t.Helper()
	cmd := store.Command{ID: "push-sync-get", TenantID: contosoTenant, DeviceID: did, MaxAttempts: 3,
		Payload: store.Payload{Verb: "Get", Items: []store.Item{{Target: "./DevInfo/Lang"}}}}
	if err := e.app.Store.Enqueue(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	var res struct{ Wake string }
	if code := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/devices/"+did+"/syncDevice", nil, &res); code != http.StatusAccepted || res.Wake != want {
		t.Fatalf("syncDevice: HTTP %d %+v, want wake %s", code, res, want)
	}
	waitFor(t, 20*time.Second, "the session Sync now started", func() bool {
		c, err := e.app.Store.Command(context.Background(), did, cmd.ID)
		return err == nil && c.State == store.CommandSucceeded
	})
}

// TestPushAcrossReplicas: two servers on one PostgreSQL database; the agent holds its
// channel on replica A and is woken by an assignment made on replica B.
func TestPushAcrossReplicas(t *testing.T) {
	pg := testpg.NewStore(t) // skips, saying so, when HELLOMDM_TEST_POSTGRES is unset
	a := startStore(t, pg.Open, nil)
	appB := testserve.Start(t, server.Options{AdminToken: adminToken, Engine: omadm.Config{NoBackoff: true}, OpenStore: pg.Open}, server.Services)
	b := &env{t: t, app: appB, url: appB.PublicURL.String()}
	agent := runPushAgent(t, a, a.app)
	did := agent.Identity().DeviceID
	if appB.Push.Status(did).Connected {
		t.Fatal("replica B claims the channel held by A")
	}
	// B's device view shows the channel A holds (the hubs record it in the store).
	var view struct{ Push wire.PushStatus }
	waitFor(t, 20*time.Second, "B's device view to show A's channel", func() bool {
		return b.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did, nil, &view) == http.StatusOK && view.Push.Connected
	})
	if view.Push.Replica != a.app.Push.Replica() {
		t.Fatalf("B's device view says replica %q holds the channel, want A (%s)", view.Push.Replica, a.app.Push.Replica())
	}
	assignRecovery(t, b, did)
	waitFor(t, 30*time.Second, "EnablePinRecovery succeeded on the device", func() bool {
		return stateOf(b.settingStatesIn(contosoTenant, did), "/EnablePinRecovery") == store.SettingSucceeded
	})
	if st := a.app.Push.Status(did); st.LastWakeReason != "policy" {
		t.Fatalf("replica A's push status %+v: the wake-up did not come through A", st)
	}
	// Sync now on B is forwarded to A, which wakes the device.
	syncNowDelivers(t, b, did, "forwarded")
	if st := a.app.Push.Status(did); st.LastWakeReason != "sync" {
		t.Fatalf("replica A's push status %+v: B's Sync now did not come through A", st)
	}
	// A's hub shuts down (as at A's shutdown): B stops showing the channel at once (A
	// recorded its end and ended its lease), and still shows A's last wake-up.
	a.app.Push.Close()
	if b.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did, nil, &view) != http.StatusOK || view.Push.Connected ||
		view.Push.DisconnectedAt.IsZero() || view.Push.LastWakeReason != "sync" || view.Push.LastWakeReplica != a.app.Push.Replica() {
		t.Fatalf("after A shut down, B's device view shows %+v", view.Push)
	}
}
