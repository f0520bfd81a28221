package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellomdm/hellomdm/device"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// pushState is what a kept state directory (PushConfig.StateDir) remembers between runs: the
// tenant its devices enrolled in, on which server, and the profile the last run assigned.
type pushState struct {
	Server   string `json:"server"`
	TenantID string `json:"tenantId"`
	Devices  int    `json:"devices"`
	Profile  string `json:"profileId,omitempty"`
}

const pushStateFile = "push-run.json"

func readPushState(dir string) (pushState, bool, error) {
	var st pushState
	raw, err := os.ReadFile(filepath.Join(dir, pushStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, false, fmt.Errorf("%s: %w", pushStateFile, err)
	}
	return st, true, nil
}

func writePushState(dir string, st pushState) error {
	raw, _ := json.MarshalIndent(st, "", "  ")
	tmp := filepath.Join(dir, pushStateFile+".tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, pushStateFile))
}

// pushDevices returns the run's tenant and devices: enrolled now (and remembered in
// cfg.StateDir when it is set), or the ones an earlier run enrolled into cfg.StateDir on the
// same server. A reused tenant's previous profile is deleted first, so that the run's
// assignment is the only one setting its node; the devices' first sessions (warmUp) apply
// the removal before anything is measured.
func pushDevices(ctx context.Context, cfg PushConfig, base Config, admin *adminclient.Client, hc *http.Client) (pushState, []*simDevice, bool, error) {
	if cfg.StateDir != "" {
		st, ok, err := readPushState(cfg.StateDir)
		if err != nil {
			return st, nil, false, err
		}
		if ok {
			devs, err := reopenDevices(ctx, cfg, base, st, admin)
			return st, devs, true, err
		}
	}
	tenantID, upn, password, err := makeTenant(ctx, admin)
	if err != nil {
		return pushState{}, nil, false, err
	}
	tokens, err := workerUsers(ctx, admin, hc, base.ServerURL, tenantID, upn, password, cfg.EnrollConcurrency)
	if err != nil {
		return pushState{}, nil, false, err
	}
	devs, err := enrollAll(ctx, base, tokens)
	if err != nil {
		return pushState{}, nil, false, err
	}
	st := pushState{Server: base.ServerURL, TenantID: tenantID, Devices: len(devs)}
	if cfg.StateDir != "" {
		if err := writePushState(cfg.StateDir, st); err != nil {
			return st, nil, false, err
		}
	}
	return st, devs, false, nil
}

// reopenDevices opens the devices an earlier run enrolled, 16 at a time.
func reopenDevices(ctx context.Context, cfg PushConfig, base Config, st pushState, admin *adminclient.Client) ([]*simDevice, error) {
	if st.Server != base.ServerURL || st.Devices != cfg.Devices {
		return nil, fmt.Errorf("%s holds %d devices enrolled through %s: run with that --devices and first --server, or another --state",
			filepath.Join(cfg.StateDir, pushStateFile), st.Devices, st.Server)
	}
	if st.Profile != "" {
		err := admin.DeleteProfile(ctx, st.TenantID, adminclient.CustomOMAURI, st.Profile)
		var ae *adminclient.Error
		if err != nil && (!errors.As(err, &ae) || ae.Status != http.StatusNotFound) {
			return nil, fmt.Errorf("deleting the previous run's profile: %w", err)
		}
	}
	devs := make([]*simDevice, cfg.Devices)
	var next, opened atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(devs) && ctx.Err() == nil && firstErr.Load() == nil; i = int(next.Add(1)) - 1 {
				a, err := device.Open(filepath.Join(cfg.StateDir, strconv.Itoa(i)), device.Options{})
				if err == nil {
					devs[i], err = simFromAgent(base, a)
				}
				if err == nil {
					devs[i].session = int(t0.Unix()%100_000) * 100 // SessionIDs new to the server, as a restarted client's
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("device %d of %s: %w", i, cfg.StateDir, err))
					return
				}
				if c := opened.Add(1); c%1000 == 0 {
					fmt.Fprintf(cfg.Progress, "\ropened %d/%d", c, cfg.Devices)
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "\ropened the %d devices of %s in %v\n", len(devs), cfg.StateDir, time.Since(t0).Round(time.Millisecond))
	return devs, nil
}
