package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's Prometheus metrics (namespace strata).
type metrics struct {
	requests        *prometheus.CounterVec   // api
	requestSeconds  *prometheus.HistogramVec // api
	produceBytes    prometheus.Counter
	produceRecords  prometheus.Counter
	produceBatches  prometheus.Counter
	fetchBytes      prometheus.Counter
	flushes         prometheus.Counter
	flushBytes      prometheus.Histogram
	flushSeconds    prometheus.Histogram
	flushErrors     prometheus.Counter
	bufferedBytes   prometheus.Gauge
	highWatermark   *prometheus.GaugeVec // topic, partition
	walDiscarded    prometheus.Counter
	connections     prometheus.Gauge
	closedBadFrames prometheus.Counter
	tailHits        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "strata"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "kafka", Name: "requests_total",
			Help: "Kafka requests handled, by API."}, []string{"api"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: "kafka", Name: "request_duration_seconds",
			Help: "Time from request read to response ready, by API.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"api"}),
		produceBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "produce", Name: "bytes_total",
			Help: "Record batch bytes accepted by produce."}),
		produceRecords: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "produce", Name: "records_total",
			Help: "Records accepted by produce."}),
		produceBatches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "produce", Name: "batches_total",
			Help: "Record batches accepted by produce (duplicates excluded)."}),
		fetchBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "fetch", Name: "bytes_total",
			Help: "Record batch bytes returned by fetch."}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "flush", Name: "total",
			Help: "Objects flushed and committed."}),
		flushBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "flush", Name: "object_bytes",
			Help: "Size of flushed objects.", Buckets: prometheus.ExponentialBuckets(1024, 4, 10)}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "flush", Name: "duration_seconds",
			Help: "Time to build, upload and commit one flush.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "flush", Name: "errors_total",
			Help: "Failed upload or commit attempts (retried)."}),
		bufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "buffer", Name: "bytes",
			Help: "Bytes accepted but not yet uploaded and committed."}),
		highWatermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: "partition", Name: "high_watermark",
			Help: "High watermark (committed in object storage and metastore)."}, []string{"topic", "partition"}),
		walDiscarded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "wal", Name: "discarded_batches_total",
			Help: "Buffered batches discarded at recovery because the agent no longer held their partition's epoch."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "kafka", Name: "connections",
			Help: "Open client connections."}),
		closedBadFrames: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "kafka", Name: "bad_requests_total",
			Help: "Connections closed for a malformed, oversized or unsupported request."}),
		tailHits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "fetch", Name: "tail_hits_total",
			Help: "Fetch reads served from the in-memory tail."}),
	}
	reg.MustRegister(m.requests, m.requestSeconds, m.produceBytes, m.produceRecords, m.produceBatches,
		m.fetchBytes, m.flushes, m.flushBytes, m.flushSeconds, m.flushErrors, m.bufferedBytes,
		m.highWatermark, m.walDiscarded, m.connections, m.closedBadFrames, m.tailHits)
	return m
}
