package partlog

import "github.com/prometheus/client_golang/prometheus"

// metrics are the partition log's Prometheus metrics (namespace strata).
type metrics struct {
	produceBytes   prometheus.Counter
	produceRecords prometheus.Counter
	produceBatches prometheus.Counter
	bufferedBytes  prometheus.Gauge
	highWatermark  *prometheus.GaugeVec // topic, partition
	walDiscarded   prometheus.Counter
	tailHits       prometheus.Counter
	reresolved     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "strata"
	m := &metrics{
		produceBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "produce", Name: "bytes_total",
			Help: "Record batch bytes accepted by produce."}),
		produceRecords: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "produce", Name: "records_total",
			Help: "Records accepted by produce."}),
		produceBatches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "produce", Name: "batches_total",
			Help: "Record batches accepted by produce (duplicates excluded)."}),
		bufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "buffer", Name: "bytes",
			Help: "Bytes accepted but not yet uploaded and committed."}),
		highWatermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: "partition", Name: "high_watermark",
			Help: "High watermark (committed in object storage and metastore)."}, []string{"topic", "partition"}),
		walDiscarded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "wal", Name: "discarded_batches_total",
			Help: "Buffered batches discarded because the agent no longer held their partition's epoch (or the topic was deleted)."}),
		tailHits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "fetch", Name: "tail_hits_total",
			Help: "Fetch reads served from the in-memory tail."}),
		reresolved: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "fetch", Name: "reresolved_total",
			Help: "Reads that found their object deleted (its index row compacted or trimmed since it was looked up) and asked the metastore again."}),
	}
	reg.MustRegister(m.produceBytes, m.produceRecords, m.produceBatches, m.bufferedBytes,
		m.highWatermark, m.walDiscarded, m.tailHits, m.reresolved)
	return m
}
