package loadgen

import (
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
)

// TestRunPushState enrolls devices once into a state directory (SetupOnly), then measures
// twice with them: each later run reopens the same devices instead of enrolling, assigns a
// profile of its own (the previous run's is deleted), and every device applies it.
func TestRunPushState(t *testing.T) {
	app := testserve.Start(t, server.Options{AdminToken: testToken}, server.Services)
	cfg := PushConfig{Servers: []string{"https://localhost:" + portOf(t, app)}, RootCAs: app.CA.Pool(), AdminToken: testToken,
		Devices: 3, Timeout: 30 * time.Second, StateDir: t.TempDir(), EnrollConcurrency: 2}
	setup := cfg
	setup.SetupOnly = true
	res, err := RunPush(t.Context(), setup)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if res.Enrolled <= 0 || res.FromState != "" || res.Connected != 0 || res.Applied != 0 {
		t.Fatalf("setup: enrolled in %v, from state %q, %d connected, %d applied: want an enrollment and nothing else", res.Enrolled, res.FromState, res.Connected, res.Applied)
	}
	for run := 1; run <= 2; run++ {
		res, err := RunPush(t.Context(), cfg)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if res.FromState != cfg.StateDir || res.Enrolled != 0 {
			t.Fatalf("run %d: from state %q, enrolled in %v: want the devices of %s reopened", run, res.FromState, res.Enrolled, cfg.StateDir)
		}
		if res.Errors != 0 || res.Connected != cfg.Devices || res.Applied != cfg.Devices || res.Succeeded != cfg.Devices {
			t.Fatalf("run %d: %d errors (%s), %d connected, %d applied, server counts %d succeeded; want all %d", run, res.Errors, res.FirstError,
				res.Connected, res.Applied, res.Succeeded, cfg.Devices)
		}
	}
	other := cfg
	other.Devices = 4
	if _, err := RunPush(t.Context(), other); err == nil || !strings.Contains(err.Error(), "holds 3 devices") {
		t.Fatalf("a run with another device count on the same state: %v, want it refused", err)
	}
}
