package flush

import "github.com/prometheus/client_golang/prometheus"

// metrics are the flusher's Prometheus metrics (namespace strata).
type metrics struct {
	flushes      prometheus.Counter
	flushBytes   prometheus.Histogram
	flushSeconds prometheus.Histogram
	flushErrors  prometheus.Counter
	failing      prometheus.Gauge
	reuploads    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "strata"
	m := &metrics{
		flushes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "flush", Name: "total",
			Help: "Objects flushed and committed."}),
		flushBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "flush", Name: "object_bytes",
			Help: "Size of flushed objects.", Buckets: prometheus.ExponentialBuckets(1024, 4, 10)}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "flush", Name: "duration_seconds",
			Help: "Time to build, upload and commit one flush.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "flush", Name: "errors_total",
			Help: "Failed upload or commit attempts (retried)."}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "flush", Name: "failing_seconds",
			Help: "How long uploads or commits have been failing without a success in between (0 when healthy)."}),
		reuploads: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "flush", Name: "reuploads_total",
			Help: "Objects uploaded again under a new key because their commit came more than the metastore's maximum commit delay after the upload."}),
	}
	reg.MustRegister(m.flushes, m.flushBytes, m.flushSeconds, m.flushErrors, m.failing, m.reuploads)
	return m
}
