package compaction

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the storage lifecycle's Prometheus metrics (namespace
// "strata", subsystem "compaction" unless named otherwise).
type Metrics struct {
	jobs           *prometheus.CounterVec // result: ok, failed, lost
	bytesRewritten prometheus.Counter
	retentionTrims prometheus.Counter
	retentionRows  prometheus.Counter
	gcObjects      prometheus.Counter
	gcBytes        prometheus.Counter
	orphans        prometheus.Counter
	abortedUploads prometheus.Counter
	objects        *prometheus.GaugeVec // kind, state
	objectBytes    *prometheus.GaugeVec // kind, state
	lag            prometheus.Gauge
	deferred       prometheus.Counter
	cleanPasses    *prometheus.CounterVec // why
	cleanRemoved   prometheus.Counter
	cleanRead      prometheus.Counter
	cleanWritten   prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "strata", Subsystem: "compaction", Name: name, Help: help})
	}
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "strata", Subsystem: "compaction",
			Name: "jobs_total", Help: "Compaction jobs by result: ok (segment installed), failed, lost (another compactor or retention got there first; output discarded)."},
			[]string{"result"}),
		bytesRewritten: c("bytes_rewritten_total", "Input bytes rewritten into segments by successful jobs."),
		retentionTrims: c("retention_trims_total", "Times retention moved a partition's log start."),
		retentionRows:  c("retention_rows_deleted_total", "Index rows retention removed (their bytes become dead)."),
		gcObjects:      c("gc_deleted_objects_total", "Dead objects deleted from the bucket."),
		gcBytes:        c("gc_deleted_bytes_total", "Bytes of dead objects deleted from the bucket."),
		orphans:        c("orphans_found_total", "Objects found in the bucket that the metastore does not know, older than the orphan age."),
		abortedUploads: c("aborted_uploads_total", "Stale multipart uploads aborted."),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "strata", Subsystem: "storage",
			Name: "objects", Help: "Objects the metastore knows, by kind (flush, segment) and state (live, dead)."},
			[]string{"kind", "state"}),
		objectBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "strata", Subsystem: "storage",
			Name: "bytes", Help: "Bytes of the objects the metastore knows, by kind and state (live: referenced by index rows; dead: awaiting collection)."},
			[]string{"kind", "state"}),
		deferred: c("deferred_total", "Partitions whose compaction was put off because produce needed the object store (not yet overdue)."),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "strata", Subsystem: "compaction",
			Name: "lag_seconds", Help: "Age of the oldest live flush object: how long the oldest byte not in a per-partition segment has waited."}),
		cleanPasses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "strata", Subsystem: "compaction",
			Name: "clean_passes_total", Help: "Key-cleaning passes of compacted topics' partitions, by reason: dirty-ratio, max-lag, delete-horizon."},
			[]string{"why"}),
		cleanRemoved: c("clean_records_removed_total", "Records the key cleaner removed (older values, expired tombstones, keyless records)."),
		cleanRead:    c("clean_bytes_read_total", "Bytes the key cleaner read (the dirty part twice: once for the offset map, once to rewrite)."),
		cleanWritten: c("clean_bytes_written_total", "Bytes of cleaned segments the key cleaner installed."),
	}
	if reg != nil {
		reg.MustRegister(m.jobs, m.bytesRewritten, m.retentionTrims, m.retentionRows, m.gcObjects, m.gcBytes,
			m.orphans, m.abortedUploads, m.objects, m.objectBytes, m.lag, m.deferred,
			m.cleanPasses, m.cleanRemoved, m.cleanRead, m.cleanWritten)
	}
	return m
}
