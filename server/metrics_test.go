package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// metricValue returns the value of the counter, gauge or histogram sample count of the
// series name{labels} (0 when absent).
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func scrape(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /metrics: an unscoped token of any role reads it, a tenant-scoped one and no token do not;
// check-ins, sessions, the queue, audit appends and store transactions are counted.
func TestMetrics(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true})
	reg := ts.app.Metrics.Registry()
	var reader, scoped wire.CreatedToken
	if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "prometheus", Role: "reader"}, &reader); st != http.StatusCreated {
		t.Fatalf("create reader token: %d", st)
	}
	if st := ts.api(http.MethodPost, "/tokens", wire.TokenRequest{Name: "tenant reader", Role: "reader", TenantID: testTenant}, &scoped); st != http.StatusCreated {
		t.Fatalf("create scoped token: %d", st)
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"hmdm_wrong", http.StatusUnauthorized}, {scoped.Secret, http.StatusForbidden}, {reader.Secret, http.StatusOK}, {testToken, http.StatusOK}} {
		if st, body := scrape(t, ts.admin, ts.base+MetricsPath, tc.token); st != tc.want {
			t.Errorf("GET /metrics with %q: %d, want %d: %s", tc.token, st, tc.want, body)
		}
	}

	dev := ts.enroll("B5B954E81FBCB94EB79BD08BE625F4EE")
	ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
	ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/OEM"})
	// The scrapes above computed the queue gauges; within queueStatsTTL they are reused, not
	// read from the store again.
	if got := metricValue(t, reg, "hellomdm_command_queue_depth", nil); got != 0 {
		t.Errorf("queue depth = %v within the cache period, want the cached 0", got)
	}
	q := ts.app.Metrics.queue
	q.mu.Lock()
	q.ok = false
	q.mu.Unlock()
	if got := metricValue(t, reg, "hellomdm_command_queue_depth", nil); got != 2 {
		t.Errorf("queue depth = %v, want 2", got)
	}
	if got := metricValue(t, reg, "hellomdm_command_queue_oldest_age_seconds", nil); got < 0 || got > 60 {
		t.Errorf("oldest command age = %v, want a few seconds", got)
	}

	reply := dev.send(dev.first())
	b := dev.next()
	for _, c := range commandsOf(reply) {
		b.Status("1", c, 200)
	}
	second, err := b.Bytes(true)
	if err != nil {
		t.Fatal(err)
	}
	if st, body := dev.post(second); st != http.StatusOK {
		t.Fatalf("second message: %d %s", st, body)
	}
	// The same message again: answered from the stored reply.
	if st, _ := dev.post(second); st != http.StatusOK {
		t.Fatalf("repeated message: %d", st)
	}
	if st, _ := dev.post([]byte("<SyncML>not really")); st != http.StatusBadRequest {
		t.Fatalf("malformed message: %d", st)
	}
	// A message whose Source is another device: refused.
	other := dev.header(1)
	other.Source, other.SessionID = "SOMEONE-ELSE", "99"
	rb := syncml.NewBuilder(other, 1)
	rb.Alert(syncml.AlertClientInitiated)
	raw, _ := rb.Bytes(true)
	dev.post(raw)
	// No client certificate at all.
	if resp, err := ts.admin.Post(ts.base+ManagementPath, syncml.ContentType, strings.NewReader("<SyncML/>")); err == nil {
		resp.Body.Close()
	}

	for outcome, want := range map[string]float64{outcomeOK: 2, outcomeReplayed: 1, outcomeBadRequest: 1, outcomeRefused: 1, outcomeUnauthorized: 1} {
		if got := metricValue(t, reg, "hellomdm_checkin_messages_total", map[string]string{"outcome": outcome}); got != want {
			t.Errorf("check-in messages %s = %v, want %v", outcome, got, want)
		}
	}
	if got := metricValue(t, reg, "hellomdm_checkin_message_duration_seconds", nil); got != 6 {
		t.Errorf("message latency samples = %v, want 6", got)
	}
	if got := metricValue(t, reg, "hellomdm_sessions_started_total", nil); got != 1 {
		t.Errorf("sessions started = %v, want 1", got)
	}
	if got := metricValue(t, reg, "hellomdm_sessions_ended_total", map[string]string{"outcome": omadm.SessionCompleted}); got != 1 {
		t.Errorf("sessions completed = %v, want 1", got)
	}
	if got := metricValue(t, reg, "hellomdm_audit_events_total", map[string]string{"kind": "command.queued"}); got != 2 {
		t.Errorf("command.queued audit events = %v, want 2", got)
	}
	if got := metricValue(t, reg, "hellomdm_audit_events_total", map[string]string{"kind": "command.delivered"}); got != 2 {
		t.Errorf("command.delivered audit events = %v, want 2", got)
	}
	if got := metricValue(t, reg, "hellomdm_auth_refusals_total", map[string]string{"actor": "device"}); got != 1 {
		t.Errorf("device auth refusals = %v, want 1", got)
	}
	if got := metricValue(t, reg, "hellomdm_store_write_tx_duration_seconds", nil); got < 4 {
		t.Errorf("store write transactions = %v, want at least 4", got)
	}

	_, body := scrape(t, ts.admin, ts.base+MetricsPath, reader.Secret)
	for _, name := range []string{"hellomdm_checkin_messages_total{outcome=\"ok\"} 2", "hellomdm_command_queue_depth", "hellomdm_enrollments_total",
		"hellomdm_signins_total", "hellomdm_setting_state_changes_total", "hellomdm_setting_states{state=\"succeeded\"} 0", "hellomdm_build_info{", "go_goroutines", "go_gc_duration_seconds", "process_resident_memory_bytes"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// --metrics-addr serves the same metrics over plain HTTP without a token, on loopback only.
func TestMetricsAddr(t *testing.T) {
	dir := t.TempDir()
	opts := Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken, MetricsAddr: "127.0.0.1:0"}
	opts.OpenStore, _ = testBackend(t)
	ts := &testServer{t: t, dir: dir, opts: opts}
	ts.start()
	t.Cleanup(ts.stop)
	addr := ts.app.MetricsAddr()
	if addr == nil {
		t.Fatal("no metrics listener")
	}
	st, body := scrape(t, http.DefaultClient, "http://"+addr.String()+MetricsPath, "")
	if st != http.StatusOK || !strings.Contains(body, "hellomdm_checkin_messages_total") {
		t.Fatalf("GET http://%s/metrics: %d\n%s", addr, st, body)
	}
	if st, _ := scrape(t, http.DefaultClient, "http://"+addr.String()+"/api/v1/tokens", ""); st != http.StatusNotFound {
		t.Errorf("the metrics listener serves more than /metrics: %d", st)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9090": true, "[::1]:9090": true, "localhost:9090": true, "127.0.0.5:1": true,
		"0.0.0.0:9090": false, ":9090": false, "10.0.0.1:9090": false, "[::]:9090": false, "example.com:9090": false, "127.0.0.1": false,
	} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// countingLister is a store's tenants and setting states for the setting state gauges; it
// counts the walks and can fail.
type countingLister struct {
	states map[string][]store.SettingState // tenant ID → states
	walks  int
	err    error
	mu     *sync.Mutex
}

func (l *countingLister) ListTenants(context.Context) ([]store.Tenant, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	var ts []store.Tenant
	for id := range l.states {
		ts = append(ts, store.Tenant{ID: id})
	}
	return ts, nil
}

func (l *countingLister) ListSettingStates(_ context.Context, tid string, fn func(store.SettingState) (bool, error)) error {
	l.mu.Lock()
	l.walks++
	states := append([]store.SettingState(nil), l.states[tid]...)
	l.mu.Unlock()
	for _, s := range states {
		if more, err := fn(s); err != nil || !more {
			return err
		}
	}
	return nil
}

// hellomdm_setting_states is counted at most once per settingStatesTTL whatever the scrape
// rate (longer when counting is slow), reports every state (zeros included), recounts in
// the background while scrapes get the last count, and reports nothing rather than stale
// counts once a count failed.
func TestSettingStatesCollectorCache(t *testing.T) {
	mu := &sync.Mutex{} // guards now and l, read by the background count
	l := &countingLister{mu: mu, states: map[string][]store.SettingState{
		"t1": {{State: store.SettingSucceeded}, {State: store.SettingSucceeded}, {State: store.SettingPending}},
		"t2": {{State: store.SettingError}},
	}}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c := &settingStatesCollector{st: l, log: slog.New(slog.DiscardHandler), now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	gauge := func(state string) float64 {
		return metricValue(t, reg, "hellomdm_setting_states", map[string]string{"state": state})
	}
	settle := func() { // waits for a count started in the background
		c.mu.Lock()
		r := c.running
		c.mu.Unlock()
		if r != nil {
			<-r
		}
	}
	walks := func() int { mu.Lock(); defer mu.Unlock(); return l.walks }
	// The first scrape waits for the first count.
	for state, want := range map[string]float64{store.SettingSucceeded: 2, store.SettingPending: 1, store.SettingError: 1, store.SettingConflict: 0} {
		if got := gauge(state); got != want {
			t.Errorf("%s = %v, want %v", state, got, want)
		}
	}
	if mfs, _ := reg.Gather(); len(mfs) != 1 || len(mfs[0].GetMetric()) != 6 {
		t.Errorf("series = %v, want the six states", mfs)
	}
	n := walks()
	mu.Lock()
	l.states["t1"] = append(l.states["t1"], store.SettingState{State: store.SettingConflict})
	mu.Unlock()
	advance(settingStatesTTL - time.Second)
	if got := gauge(store.SettingConflict); got != 0 || walks() != n {
		t.Errorf("within the period: conflict = %v after %d more walks, want the last count's 0 and no walk", got, walks()-n)
	}
	// Past the period: the scrape gets the last count and starts a recount.
	advance(time.Second)
	if got := gauge(store.SettingConflict); got != 0 {
		t.Errorf("the scrape that starts a recount: conflict = %v, want the last count's 0", got)
	}
	settle()
	if got := gauge(store.SettingConflict); got != 1 || walks() != n+2 {
		t.Errorf("after the recount: conflict = %v after %d more walks, want 1 after 2 (one per tenant)", got, walks()-n)
	}
	// A count that took 5 s is reused for 50 s.
	c.mu.Lock()
	c.took = 5 * time.Second
	c.mu.Unlock()
	n = walks()
	advance(settingStatesTTL + time.Second)
	gauge(store.SettingConflict)
	settle()
	if walks() != n {
		t.Errorf("a slow count was redone after %v: %d more walks", settingStatesTTL+time.Second, walks()-n)
	}
	advance(settingStatesCostFactor*5*time.Second - settingStatesTTL)
	gauge(store.SettingConflict)
	settle()
	if walks() != n+2 {
		t.Errorf("a slow count was not redone after %v: %d more walks", settingStatesCostFactor*5*time.Second, walks()-n)
	}
	// The store fails: once the recount has failed, no series.
	mu.Lock()
	l.err = errors.New("store down")
	mu.Unlock()
	advance(settingStatesTTL)
	gauge(store.SettingConflict)
	settle()
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Errorf("with the store failing: %v, want no series", mfs)
	}
}
