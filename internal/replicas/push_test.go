package replicas

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/internal/testbin"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// pushLease is the replicas' --push-lease: a killed replica's channels must stop reading
// connected on the others within it.
const pushLease = 3 * time.Second

// TestPushVisibleAcrossReplicas (issue 18, Visibility): two `hellomdm serve` processes on one
// PostgreSQL database; an agent holds its push channel on replica A. The device view and
// the console's device page on replica B show the channel held on A; an assignment made on
// B wakes the device through A, whose /metrics count the wake-up and its wake-to-applied
// latency; once A is killed (no clean shutdown), B stops showing the channel connected
// within A's lease.
func TestPushVisibleAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two replicas")
	}
	pg := testpg.NewStore(t) // skips without HELLOMDM_TEST_POSTGRES
	bin := testbin.Build(t)
	keyFile := filepath.Join(t.TempDir(), "store.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(pg.Key)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, bin, pg, keyFile, "", "--push-lease", pushLease.String())
	caPEM := a.waitHealthy(t)
	b := startReplica(t, bin, pg, keyFile, "", "--push-lease", pushLease.String())
	b.waitHealthy(t)
	admin := httpClient(pool(caPEM))
	onA, onB := "https://localhost"+a.addr[strings.LastIndexByte(a.addr, ':'):], "https://localhost"+b.addr[strings.LastIndexByte(b.addr, ':'):]
	did := runAgentOn(t, admin, onA, pool(caPEM))
	replicaA := pushReplica(t, a)

	view := func(base string) wire.PushStatus {
		var d wire.Device
		if st := api(t, admin, base+"/api/v1", http.MethodGet, "/tenants/"+tenantID+"/devices/"+did, nil, &d); st != http.StatusOK || d.Push == nil {
			t.Fatalf("device view on %s: HTTP %d, push %v", base, st, d.Push)
		}
		return *d.Push
	}
	waitUntil(t, "B's device view to show the channel held on A", func() bool { return view(onB).Connected })
	if got := view(onB); got.Replica != replicaA || got.Channel != "builtin" || got.ConnectedSince.IsZero() {
		t.Fatalf("B's device view shows %+v, want the channel held by A (%s)", got, replicaA)
	}
	if page := consoleDevicePage(t, admin, onB, did); !strings.Contains(page, "connected since") || !strings.Contains(page, replicaA) {
		t.Fatalf("B's console device page does not show the channel held on A:\n%s", page)
	}

	assignPinRecovery(t, admin, onB+"/api/v1")
	waitUntil(t, "the setting applied on the device", func() bool {
		var out struct{ Value []wire.SettingState }
		return api(t, admin, onB+"/api/v1", http.MethodGet, "/tenants/"+tenantID+"/devices/"+did+"/settingStates", nil, &out) == http.StatusOK &&
			stateOf(out.Value, pinSuffix) == "succeeded"
	})
	waitUntil(t, "B's device view to show A's wake-up", func() bool { return view(onB).LastWakeReason == "policy" })
	if got := view(onB); got.LastWakeReplica != replicaA || got.LastWakeChannel != "builtin" || got.LastWakeResult != "delivered" {
		t.Fatalf("B shows the wake-up %+v, want A's delivered on the built-in channel", got)
	}
	m := metrics(t, admin, onA)
	for _, want := range []string{`hellomdm_push_wakeups_sent_total{channel="builtin"} 1`, "hellomdm_push_wake_to_applied_seconds_count 1"} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("A's /metrics lack %q", want)
		}
	}

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.done
	a.done <- nil // for the cleanup
	waitUntil(t, "B to stop showing the killed replica's channel", func() bool { return !view(onB).Connected })
	got := view(onB)
	if got.DisconnectedAt.IsZero() || got.DisconnectedAt.After(killed.Add(pushLease)) || got.Replica != replicaA {
		t.Fatalf("after A was killed at %v, B shows %+v: want the channel ended by %v", killed, got, killed.Add(pushLease))
	}
	t.Logf("A killed at %s; B shows its channel ended at %s", killed.Format(time.StampMilli), got.DisconnectedAt.Local().Format(time.StampMilli))
}

// runAgentOn enrolls an agent at base and runs it with the push channel and a poll
// schedule so long that nothing in the test comes from a poll; it returns its device ID.
func runAgentOn(t *testing.T, c *http.Client, base string, roots *x509.CertPool) string {
	t.Helper()
	if st := api(t, c, base+"/api/v1", http.MethodPost, "/tenants", map[string]any{"id": tenantID, "displayName": "Fabrikam",
		"verifiedDomains": []string{"fabrikam.test"}, "authPolicy": "Federated"}, nil); st != http.StatusCreated {
		t.Fatalf("creating tenant: HTTP %d", st)
	}
	if st := api(t, c, base+"/api/v1", http.MethodPost, "/tenants/"+tenantID+"/users", map[string]any{"userPrincipalName": upn,
		"passwordProfile": map[string]string{"password": password}}, nil); st != http.StatusCreated {
		t.Fatalf("creating user: HTTP %d", st)
	}
	var tok struct{ Token string }
	if st := api(t, c, base, http.MethodPost, "/idp/token", map[string]string{"upn": upn, "password": password, "audience": "urn:hellomdm:enrollment"}, &tok); st != http.StatusOK {
		t.Fatalf("enrollment token: HTTP %d", st)
	}
	ag, err := device.Open(filepath.Join(t.TempDir(), "dev"), device.Options{HTTPTimeout: 20 * time.Second, PollUnit: time.Hour,
		PushChannel: true, PushMinBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.Enroll(context.Background(), enroll.Request{ServerURL: base, UPN: upn, Token: tok.Token, RootCAs: roots, CSRShape: enroll.CSRClean}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ag.Identity().DeviceID
}

// pushReplica is the replica name r's push hub logged at its start.
func pushReplica(t *testing.T, r *replica) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(r.stderr.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct{ Msg, Replica string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "push hub started" && line.Replica != "" {
			return line.Replica
		}
	}
	t.Fatalf("replica %s logged no push hub start", r.addr)
	return ""
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s", what)
		}
	}
}

// assignPinRecovery assigns the PIN recovery profile to a group holding the user, at api.
func assignPinRecovery(t *testing.T, c *http.Client, api0 string) {
	t.Helper()
	var g wire.Group
	if st := api(t, c, api0, http.MethodPost, "/tenants/"+tenantID+"/groups", map[string]string{"displayName": "push"}, &g); st != http.StatusCreated {
		t.Fatalf("creating group: HTTP %d", st)
	}
	if st := api(t, c, api0, http.MethodPost, "/tenants/"+tenantID+"/groups/"+g.ID+"/members", map[string]string{"id": upn}, nil); st != http.StatusNoContent {
		t.Fatalf("adding the user: HTTP %d", st)
	}
	var prof struct{ ID string }
	if st := api(t, c, api0, http.MethodPost, "/tenants/"+tenantID+"/configurationPolicies", json.RawMessage(catalogPinRecovery), &prof); st != http.StatusCreated {
		t.Fatalf("importing the profile: HTTP %d", st)
	}
	assign := `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + g.ID + `"}}]}`
	if st := api(t, c, api0, http.MethodPost, "/tenants/"+tenantID+"/configurationPolicies/"+prof.ID+"/assign", json.RawMessage(assign), nil); st != http.StatusOK {
		t.Fatalf("assigning the profile: HTTP %d", st)
	}
}

// metrics reads base's /metrics with the admin token.
func metrics(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	return string(raw)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleDevicePage signs in to base's console with the admin token and returns the
// device's page.
func consoleDevicePage(t *testing.T, c *http.Client, base, did string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &http.Client{Transport: c.Transport, Jar: jar, Timeout: c.Timeout}
	get := func(path string) string {
		resp, err := cc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", path, resp.StatusCode)
		}
		return string(raw)
	}
	m := csrfField.FindStringSubmatch(get("/console/login"))
	if m == nil {
		t.Fatal("the console's sign-in page has no csrf field")
	}
	resp, err := cc.PostForm(base+"/console/login", url.Values{"csrf": {m[1]}, "token": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return get("/console/t/" + tenantID + "/devices/" + did)
}
