package push

import "github.com/prometheus/client_golang/prometheus"

// metrics are the hub's Prometheus series.
type metrics struct {
	sentC     *prometheus.CounterVec
	failedC   *prometheus.CounterVec
	latency   prometheus.Histogram
	connected prometheus.Gauge
	replaced  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sentC: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_push_wakeups_sent_total",
			Help: "Wake-ups this replica sent, by channel (builtin: written to a channel held here; wns: accepted by WNS)."}, []string{"channel"}),
		failedC: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hellomdm_push_wakeups_failed_total",
			Help: "Wake-ups that failed, by channel and reason (write, wrong_tenant, notify, policy_read, send)."}, []string{"channel", "reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hellomdm_push_wake_to_applied_seconds",
			Help:    "Time from a wake-up sent by this replica to the device's first setting recorded succeeded after it, when this replica recorded it.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120}}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hellomdm_push_channels_connected",
			Help: "Built-in push channels held by this replica now."}),
		replaced: prometheus.NewCounter(prometheus.CounterOpts{Name: "hellomdm_push_channels_replaced_total",
			Help: "Channels ended because the same device connected again."}),
	}
	if reg != nil {
		reg.MustRegister(m.sentC, m.failedC, m.latency, m.connected, m.replaced)
	}
	return m
}

func (m *metrics) sent(channel string) { m.sentC.WithLabelValues(channel).Inc() }

func (m *metrics) failed(channel, reason string) { m.failedC.WithLabelValues(channel, reason).Inc() }
