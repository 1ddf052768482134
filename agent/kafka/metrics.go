package kafka

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's Prometheus metrics (namespace strata).
type metrics struct {
	requests        *prometheus.CounterVec   // api
	requestSeconds  *prometheus.HistogramVec // api
	fetchBytes      prometheus.Counter
	connections     prometheus.Gauge
	closedBadFrames prometheus.Counter
	authentications *prometheus.CounterVec // mechanism, result
	tlsFailures     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "strata"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "kafka", Name: "requests_total",
			Help: "Kafka requests handled, by API."}, []string{"api"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: "kafka", Name: "request_duration_seconds",
			Help: "Time from request read to response ready, by API.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"api"}),
		fetchBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "fetch", Name: "bytes_total",
			Help: "Record batch bytes returned by fetch."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "kafka", Name: "connections",
			Help: "Open client connections."}),
		closedBadFrames: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "kafka", Name: "bad_requests_total",
			Help: "Connections closed for a malformed, oversized or unsupported request."}),
		authentications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "sasl", Name: "authentications_total",
			Help: "SASL authentications by mechanism and result (ok, failed, limited: refused after too many failures from the address, error: metastore failure)."},
			[]string{"mechanism", "result"}),
		tlsFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "tls", Name: "handshake_failures_total",
			Help: "TLS handshakes that failed or timed out."}),
	}
	reg.MustRegister(m.requests, m.requestSeconds, m.fetchBytes, m.connections, m.closedBadFrames, m.authentications, m.tlsFailures)
	return m
}
