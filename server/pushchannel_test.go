package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// openChannel GETs the push channel with the client and returns the response (the caller
// closes its body).
func openChannel(t *testing.T, ts *testServer, c *http.Client, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.base+PushPath+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readEvent reads the next server-sent event ("name data").
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		var ev string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ch <- "error: " + err.Error()
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ch <- ev + " " + strings.TrimPrefix(line, "data: ")
				return
			}
		}
	}()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return ""
}

func pushErrorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("HTTP %d body %q is not the JSON error", resp.StatusCode, raw)
	}
	return e.Error.Code
}

// The channel is refused, with a JSON error and nothing registered, to a client without a
// device certificate, to a device whose certificate was replaced, to a retired device and to
// a device that names another tenant; an enrolled device gets a stream that wake-ups reach.
func TestPushChannelRefusals(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	good := ts.enroll("PUSH-GOOD-0001")
	retired := ts.enroll("PUSH-RETIRED-0001")
	replaced := ts.enroll("PUSH-REPLACED-0001")
	oldClient := replaced.client
	ts.enroll("PUSH-REPLACED-0001") // re-enrollment: the first certificate is revoked
	if err := ts.app.Store.UpdateDevice(context.Background(), retired.id, func(d *store.Device) error {
		d.State = store.DeviceRetired
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	noCert := testpki.HTTPClient(testpki.ClientTLS(ts.app.CA.Pool(), nil, nil))
	for _, tc := range []struct {
		name   string
		client *http.Client
		query  string
		status int
		code   string
	}{
		{"no certificate", noCert, "", http.StatusUnauthorized, "unauthorized"},
		{"retired device", retired.client, "", http.StatusForbidden, "refused"},
		{"replaced certificate", oldClient, "", http.StatusForbidden, "refused"},
		{"another tenant", good.client, "?tenant=00000000-0000-0000-0000-000000000001", http.StatusForbidden, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := openChannel(t, ts, tc.client, tc.query)
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.status)
			}
			if code := pushErrorCode(t, resp); code != tc.code {
				t.Fatalf("error code %q, want %q", code, tc.code)
			}
			if n := ts.app.Push.Connected(); n != 0 {
				t.Fatalf("%d channels registered after a refusal", n)
			}
		})
	}
	if e := findEvent(ts.events(testTenant), audit.KindAuthRefused, "checkin", retired.id); e == nil {
		t.Error("the retired device's refusal was not audited")
	}
	if resp := openChannel(t, ts, good.client, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the enrolled device's channel: HTTP %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodPost, ts.base+PushPath, nil)
	if resp, err := good.client.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to the channel: %v %v", resp.StatusCode, err)
	}
}

// Sync now wakes the connected device at once; the device view shows the channel; a queued
// command wakes it too.
func TestPushSyncNow(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	d := ts.enroll("PUSH-SYNC-0001")
	resp := openChannel(t, ts, d.client, "?tenant="+testTenant)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("channel: HTTP %d", resp.StatusCode)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if e := readEvent(t, br); !strings.HasPrefix(e, "hello ") {
		t.Fatalf("first event %q", e)
	}
	path := "/tenants/" + testTenant + "/devices/" + d.id
	var res wire.SyncResult
	if st := ts.api(http.MethodPost, path+"/syncDevice", nil, &res); st != http.StatusAccepted || res.Wake != adminapi.WakeDelivered {
		t.Fatalf("syncDevice: HTTP %d %+v", st, res)
	}
	if e := readEvent(t, br); e != `wake {"reason":"sync"}` {
		t.Fatalf("event %q", e)
	}
	if e := findEvent(ts.events(testTenant), audit.KindAdminWrite, "sync", d.id); e == nil {
		t.Error("Sync now was not audited")
	}
	var v wire.Device
	if st := ts.api(http.MethodGet, path, nil, &v); st != http.StatusOK || v.Push == nil || !v.Push.Connected || v.Push.Channel != "builtin" ||
		v.Push.LastWakeReason != "sync" || v.Push.ConnectedSince.IsZero() {
		t.Fatalf("device view: HTTP %d push %+v", st, v.Push)
	}
	ts.queue(d.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevInfo/Lang"})
	if e := readEvent(t, br); e != `wake {"reason":"command"}` {
		t.Fatalf("event %q", e)
	}
	// A reader cannot ask for a sync; a retired device cannot be synced.
	reader := ts.newToken(store.RoleReader, testTenant)
	if st := ts.apiAs(reader, http.MethodPost, path+"/syncDevice", nil, nil); st != http.StatusForbidden {
		t.Fatalf("reader syncDevice: HTTP %d", st)
	}
	other := ts.enroll("PUSH-SYNC-0002")
	if st := ts.api(http.MethodPost, "/tenants/"+testTenant+"/devices/"+other.id+"/syncDevice", nil, &res); st != http.StatusAccepted || res.Wake != adminapi.WakeNotConnected && res.Wake != adminapi.WakeForwarded {
		t.Fatalf("syncDevice of an unconnected device: HTTP %d %+v", st, res)
	}
	if st := ts.api(http.MethodPost, "/tenants/"+testTenant+"/devices/"+other.id+"/retire", nil, nil); st != http.StatusOK {
		t.Fatalf("retire: %d", st)
	}
	if st := ts.api(http.MethodPost, "/tenants/"+testTenant+"/devices/"+other.id+"/syncDevice", nil, nil); st != http.StatusConflict {
		t.Fatalf("syncDevice of a retired device: HTTP %d", st)
	}
	// Retiring the connected device ends its channel at once.
	if st := ts.api(http.MethodPost, path+"/retire", nil, nil); st != http.StatusOK {
		t.Fatalf("retire: %d", st)
	}
	if e := readEvent(t, br); !strings.HasPrefix(e, "error: ") {
		t.Fatalf("the retired device's channel got %q, want it ended", e)
	}
	if st := ts.api(http.MethodGet, path, nil, &v); st != http.StatusOK || v.Push == nil || v.Push.Connected {
		t.Fatalf("retired device's view: HTTP %d push %+v", st, v.Push)
	}
}
