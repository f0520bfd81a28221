package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/version"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/policy/model"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// MetricsPath is where the server serves its Prometheus metrics (to admin tokens on the
// HTTPS listener, adminapi; without authentication on Options.MetricsAddr).
const MetricsPath = adminapi.MetricsPath

// Check-in message outcomes (hellomdm_checkin_messages_total{outcome}).
const (
	outcomeOK           = "ok"           // answered with the next server message
	outcomeReplayed     = "replayed"     // a repeated message answered from the stored reply
	outcomeRefused      = "refused"      // refused by the engine (SyncHdr status) or forbidden
	outcomeUnauthorized = "unauthorized" // no valid device client certificate
	outcomeBadRequest   = "bad_request"  // unreadable, malformed or too large
	outcomeUnavailable  = "unavailable"  // the store was unavailable (503, nothing recorded)
	outcomeError        = "error"        // an internal error (500, nothing recorded)
)

// queueStatsTTL is how long a computed QueueStats is reused: scrapes more frequent than this
// do not reach the store.
const queueStatsTTL = 15 * time.Second

// Metrics are the server's Prometheus metrics, in a registry of their own (several servers
// in one process, as in tests, do not collide). The hot path only increments counters and
// observes histograms resolved once at start: no label lookups or allocations per message.
type Metrics struct {
	reg *prometheus.Registry

	checkins   map[string]prometheus.Counter
	msgLatency prometheus.Histogram
	sessions   prometheus.Counter
	ended      map[string]prometheus.Counter

	txLatency prometheus.Histogram
	txErrors  prometheus.Counter
	sealDelay prometheus.Histogram

	auditEvents  map[audit.Kind]prometheus.Counter
	enrollments  map[audit.Kind]prometheus.Counter
	enrollRefuse prometheus.Counter
	authRefused  *prometheus.CounterVec
	settingState *prometheus.CounterVec
	signIns      map[bool]prometheus.Counter
	queue        *queueCollector
	settings     *settingStatesCollector
	// applied is told the device of each setting recorded succeeded (the push hub's
	// wake-to-applied latency); nil: nobody.
	applied atomic.Pointer[func(deviceID string)]
}

// setApplied makes AuditAppended tell fn the device of each setting recorded succeeded.
func (m *Metrics) setApplied(fn func(deviceID string)) { m.applied.Store(&fn) }

// NewMetrics builds the metrics of one server; st (may be nil) feeds the queue gauges and,
// when it also lists tenants and their setting states (a store.Store does), the setting
// state gauges.
func NewMetrics(st store.QueueStatser, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}

	m.registerCheckins(f)
	m.registerStoreTx(f)
	m.registerEvents(f)

	if st != nil {
		m.queue = &queueCollector{st: st, log: log}
		f(m.queue)
	}
	if sl, ok := st.(settingStateLister); ok {
		m.settings = &settingStatesCollector{st: sl, log: log}
		f(m.settings)
	}
	v := version.Get()
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hellomdm_build_info", Help: "The running build (always 1).",
		ConstLabels: prometheus.Labels{"version": v.Version, "commit": v.Commit, "goversion": v.GoVersion}}, func() float64 { return 1 }))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerCheckins makes the check-in message and session metrics.
func (m *Metrics) registerCheckins(f func(prometheus.Collector)) {
	checkins := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_checkin_messages_total",
		Help: "OMA-DM client messages received at the management endpoint, by outcome."}, []string{"outcome"})
	f(checkins)
	m.checkins = map[string]prometheus.Counter{}
	for _, o := range []string{outcomeOK, outcomeReplayed, outcomeRefused, outcomeUnauthorized, outcomeBadRequest, outcomeUnavailable, outcomeError} {
		m.checkins[o] = checkins.WithLabelValues(o)
	}
	m.msgLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hellomdm_checkin_message_duration_seconds",
		Help:    "Time from receiving an OMA-DM client message to having its reply ready (its store transaction committed).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	f(m.msgLatency)
	m.sessions = prometheus.NewCounter(prometheus.CounterOpts{Name: "hellomdm_sessions_started_total",
		Help: "OMA-DM sessions started (a client message with MsgID 1 that opened a session)."})
	f(m.sessions)
	ended := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_sessions_ended_total",
		Help: "OMA-DM sessions that ended, by outcome (completed, aborted by Alert 1223, unenrolled). Sessions a client abandons are not counted here."}, []string{"outcome"})
	f(ended)
	m.ended = map[string]prometheus.Counter{}
	for _, o := range []string{omadm.SessionCompleted, omadm.SessionAborted, omadm.SessionUnenrolled} {
		m.ended[o] = ended.WithLabelValues(o)
	}
}

// registerStoreTx makes the store write transaction metrics.
func (m *Metrics) registerStoreTx(f func(prometheus.Collector)) {
	m.txLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hellomdm_store_write_tx_duration_seconds",
		Help:    "Duration of store write transactions (check-ins, admin writes, audit appends) until commit or failure, retries included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}})
	f(m.txLatency)
	m.sealDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hellomdm_audit_seal_delay_seconds",
		Help:    "Time from an audit event's append (in its writer's transaction, before that commits) to the commit that sealed it onto its tenant's chain (stores with an audit sequencer: PostgreSQL).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2.5, 5, 10}})
	f(m.sealDelay)
	m.txErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "hellomdm_store_write_tx_errors_total",
		Help: "Store write transactions that failed or were rolled back."})
	f(m.txErrors)
}

// registerEvents makes the metrics counted from audit events and service hooks: events by
// kind, enrollments, refusals, setting state changes and sign-ins.
func (m *Metrics) registerEvents(f func(prometheus.Collector)) {
	auditEvents := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_audit_events_total",
		Help: "Audit events appended (counted once their transaction committed), by kind."}, []string{"kind"})
	f(auditEvents)
	m.auditEvents = map[audit.Kind]prometheus.Counter{}
	for _, k := range audit.Kinds() {
		m.auditEvents[k] = auditEvents.WithLabelValues(string(k))
	}
	enrollments := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_enrollments_total",
		Help: "Enrollment lifecycle events, by event (enrolled, renewed, unenrolled, retired, refused)."}, []string{"event"})
	f(enrollments)
	m.enrollments = map[audit.Kind]prometheus.Counter{
		audit.KindEnrolled: enrollments.WithLabelValues("enrolled"), audit.KindRenewed: enrollments.WithLabelValues("renewed"),
		audit.KindUnenrolled: enrollments.WithLabelValues("unenrolled"), audit.KindRetired: enrollments.WithLabelValues("retired"),
	}
	// Refusals come from the enrollment service itself: a refusal for an unknown domain has no
	// tenant and so no audit event, but it is still a refusal.
	m.enrollRefuse = enrollments.WithLabelValues("refused")
	m.authRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_auth_refusals_total",
		Help: "Refused authentications or authorizations recorded in the audit log, by actor type (device, admin, user)."}, []string{"actor"})
	f(m.authRefused)
	m.settingState = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_setting_state_changes_total",
		Help: "Device × setting state changes, by the state entered (pending, succeeded, error, conflict, notApplicable, removed)."}, []string{"state"})
	f(m.settingState)
	for _, st := range []string{store.SettingPending, store.SettingSucceeded, store.SettingError, store.SettingConflict, store.SettingNotApplicable, store.SettingRemoved} {
		m.settingState.WithLabelValues(st)
	}
	for _, a := range []string{audit.ActorDevice, audit.ActorAdmin, audit.ActorUser} {
		m.authRefused.WithLabelValues(a)
	}
	signIns := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_signins_total",
		Help: "Sign-ins at the identity provider, by outcome (ok, refused); refusals include unknown users."}, []string{"outcome"})
	f(signIns)
	m.signIns = map[bool]prometheus.Counter{true: signIns.WithLabelValues("ok"), false: signIns.WithLabelValues("refused")}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry holding the metrics (to add or gather them).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) checkin(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.checkins[outcome].Inc()
	m.msgLatency.Observe(d.Seconds())
}

// SessionStarted counts a session the engine opened (omadm.SessionCounter).
func (m *Metrics) SessionStarted() {
	if m != nil {
		m.sessions.Inc()
	}
}

// SessionEnded counts a session the engine ended, by outcome (omadm.SessionCounter).
func (m *Metrics) SessionEnded(outcome string) {
	if m != nil {
		m.ended[outcome].Inc()
	}
}

func (m *Metrics) signIn(ok bool) {
	if m != nil {
		m.signIns[ok].Inc()
	}
}

func (m *Metrics) enrollmentRefused() {
	if m != nil {
		m.enrollRefuse.Inc()
	}
}

// WriteTx is store.Observer.
func (m *Metrics) WriteTx(d time.Duration, err error) {
	m.txLatency.Observe(d.Seconds())
	if err != nil {
		m.txErrors.Inc()
	}
}

// AuditAppended is store.Observer.
func (m *Metrics) AuditAppended(e *audit.Event) {
	if c, ok := m.auditEvents[e.Kind]; ok {
		c.Inc()
	}
	switch e.Kind {
	case audit.KindEnrolled, audit.KindRenewed, audit.KindUnenrolled, audit.KindRetired:
		m.enrollments[e.Kind].Inc()
	case audit.KindAuthRefused:
		m.authRefused.WithLabelValues(e.Actor.Type).Inc()
	case audit.KindSettingState:
		// The policy engine records the state entered as the event's Action.
		m.settingState.WithLabelValues(e.Action).Inc()
		if fn := m.applied.Load(); fn != nil && e.Action == model.SettingSucceeded && e.DeviceID != "" {
			(*fn)(e.DeviceID)
		}
	}
}

// AuditSealed is store.SealObserver.
func (m *Metrics) AuditSealed(delay time.Duration) { m.sealDelay.Observe(delay.Seconds()) }

var (
	_ store.Observer     = (*Metrics)(nil)
	_ store.SealObserver = (*Metrics)(nil)
)

// queueCollector reports the command queue's depth and the age of its oldest open command
// from store.QueueStats, computed at most once per queueStatsTTL whatever the scrape rate.
type queueCollector struct {
	st  store.QueueStatser
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	at     time.Time
	cached store.QueueStats
	ok     bool
}

var (
	queueDepthDesc = prometheus.NewDesc("hellomdm_command_queue_depth",
		"Open commands (queued, sent, awaiting retry or confirmation) on every device; refreshed at most every 15 s.", nil, nil)
	queueAgeDesc = prometheus.NewDesc("hellomdm_command_queue_oldest_age_seconds",
		"Age of the oldest open command (0 when none is open); refreshed at most every 15 s.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now()
	if !c.ok || t.Sub(c.at) >= queueStatsTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		qs, err := c.st.QueueStats(ctx)
		cancel()
		if err != nil {
			// No value rather than a stale one presented as current.
			c.log.Warn("metrics: reading queue stats", "err", err)
			c.ok = false
			return
		}
		c.cached, c.at, c.ok = qs, t, true
	}
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(c.cached.Open))
	age := 0.0
	if c.cached.Open > 0 {
		age = max(0, t.Sub(c.cached.OldestOpen).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age)
}

// Setting state gauges: how often their counts are recomputed, and how long a scrape waits
// for the first count. Computing the counts reads every setting state of every tenant
// (about 7 µs a state on bbolt on a loaded 2-core machine: 0.7 s for 100 000), so a count
// is reused for settingStatesTTL, or for settingStatesCostFactor times as long as the last
// count took when that is longer: whatever the scrape rate and the store's size, counting
// keeps at most a tenth of one core busy.
const (
	settingStatesTTL        = 30 * time.Second
	settingStatesCostFactor = 10
	settingStatesWait       = 5 * time.Second
	settingStatesTimeout    = 10 * time.Minute
)

// settingStateLister is what the setting state gauges are computed from (store.Store).
type settingStateLister interface {
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	policy.StateLister
}

// settingStatesCollector reports how many device × setting states are in each state now:
// hellomdm_setting_states{state}. It counts what the store holds, so the figures survive a
// restart and are the same on every replica. One count streams every tenant's setting
// states once (ListSettingStates) and keeps nothing but the counts in memory. A scrape never
// waits for a recount: it starts one in the background when the last count is older than
// its period and reports the last count meanwhile; only before the first count has
// finished does it wait, for at most settingStatesWait. After a failed count it reports
// nothing (not a stale figure presented as current) until a count succeeds.
type settingStatesCollector struct {
	st  settingStateLister
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	counts  map[string]int
	at      time.Time     // when the reported count started
	took    time.Duration // how long it took
	ok      bool
	running chan struct{} // closed when the count in progress ends; nil when none is
}

var settingStatesDesc = prometheus.NewDesc("hellomdm_setting_states",
	"Device × setting states by current state (pending, succeeded, error, conflict, notApplicable, removed), over every tenant, as stored; recounted at most every 30 s (longer on large stores).",
	[]string{"state"}, nil)

func (c *settingStatesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- settingStatesDesc }

func (c *settingStatesCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.running == nil && (!c.ok || c.clock().Sub(c.at) >= max(settingStatesTTL, settingStatesCostFactor*c.took)) {
		c.running = make(chan struct{})
		go c.count(c.running)
	}
	running, ok := c.running, c.ok
	c.mu.Unlock()
	if !ok && running != nil {
		select {
		case <-running:
		case <-time.After(settingStatesWait):
		}
	}
	c.mu.Lock()
	counts, ok := c.counts, c.ok
	c.mu.Unlock()
	if !ok {
		return
	}
	states := policy.States()
	for s := range counts {
		if !slices.Contains(states, s) {
			states = append(states, s)
		}
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(settingStatesDesc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}

func (c *settingStatesCollector) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// count recounts the setting states and closes done when it has stored the result.
func (c *settingStatesCollector) count(done chan struct{}) {
	at, start := c.clock(), time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), settingStatesTimeout)
	counts, err := countSettingStates(ctx, c.st)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(done)
	c.running = nil
	if err != nil {
		c.log.Warn("metrics: counting setting states", "err", err)
		c.ok = false
		return
	}
	c.counts, c.at, c.took, c.ok = counts, at, time.Since(start), true
}

// countSettingStates counts the setting states of every tenant by state.
func countSettingStates(ctx context.Context, st settingStateLister) (map[string]int, error) {
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range tenants {
		err := st.ListSettingStates(ctx, t.ID, func(s store.SettingState) (bool, error) {
			counts[s.State]++
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return counts, nil
}
