package objstore

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Operation names, used as the "op" label of the metrics and as the
// argument of the Metrics accessors.
const (
	OpPut      = "put"
	OpGet      = "get"
	OpGetRange = "getrange"
	OpStat     = "stat"
	OpList     = "list"
	OpDelete   = "delete"
	// OpDeleteBatch counts DeleteBatch requests, one per request whatever
	// its number of keys.
	OpDeleteBatch = "delete_batch"
	// OpAbortUploads counts AbortStaleUploads calls (each lists and aborts
	// as many uploads as it finds).
	OpAbortUploads = "abort_uploads"
)

var metricOps = [...]string{OpPut, OpGet, OpGetRange, OpStat, OpList, OpDelete, OpDeleteBatch, OpAbortUploads}

func metricOpIndex(op string) int {
	for i, o := range metricOps {
		if o == op {
			return i
		}
	}
	return -1
}

// Metrics counts object-store traffic, for Prometheus (namespace "strata",
// subsystem "objstore") and as plain counters for tests. One Metrics may be
// shared by several Metered stores.
type Metrics struct {
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// deleted counts keys deleted by delete and delete_batch; aborted,
	// multipart uploads aborted.
	deleted, aborted       prometheus.Counter
	deletedSum, abortedSum atomic.Int64

	// Per op, indexed like metricOps.
	count    [len(metricOps)]atomic.Int64
	byteSum  [len(metricOps)]atomic.Int64
	errorSum [len(metricOps)]atomic.Int64

	// Children resolved once, so a request costs no label lookup.
	reqC  [len(metricOps)]prometheus.Counter
	byteC [len(metricOps)]prometheus.Counter
	errC  [len(metricOps)]prometheus.Counter
	durO  [len(metricOps)]prometheus.Observer
}

// NewMetrics returns Metrics registered with reg, or unregistered if reg is
// nil. If reg already holds the same metrics (another NewMetrics call), those
// are reused rather than failing, so the counts add up.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "objstore", Name: "requests_total",
			Help: "Object-store requests, by operation.",
		}, []string{"op"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "objstore", Name: "bytes_total",
			Help: "Bytes written by put and read by get and getrange.",
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "objstore", Name: "errors_total",
			Help: "Failed object-store requests, by operation; a missing object or a cancelled context is not a failure.",
		}, []string{"op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "strata", Subsystem: "objstore", Name: "request_duration_seconds",
			Help: "Object-store request latency, by operation.",
			// 1 ms to ~16 s: local disk to a slow S3 PUT of a large object.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"op"}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "objstore", Name: "deleted_keys_total",
			Help: "Keys deleted by delete and delete_batch requests (a missing key counts: deleting it succeeds); keys a batch failed are not counted.",
		}),
		aborted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "objstore", Name: "aborted_uploads_total",
			Help: "Incomplete multipart uploads aborted by abort_uploads.",
		}),
	}
	if reg != nil {
		m.deleted = register(reg, m.deleted)
		m.aborted = register(reg, m.aborted)
		m.requests = register(reg, m.requests)
		m.bytes = register(reg, m.bytes)
		m.errors = register(reg, m.errors)
		m.duration = register(reg, m.duration)
	}
	for i, op := range metricOps {
		m.reqC[i] = m.requests.WithLabelValues(op)
		m.byteC[i] = m.bytes.WithLabelValues(op)
		m.errC[i] = m.errors.WithLabelValues(op)
		m.durO[i] = m.duration.WithLabelValues(op)
	}
	return m
}

// register registers c with reg, or returns the equal collector reg already
// holds. Any other registration error is a programming error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("objstore: register metrics: " + err.Error())
	}
	return c
}

// Count returns how many requests of op have been made through Metered
// stores using m.
func (m *Metrics) Count(op string) int64 {
	if i := metricOpIndex(op); i >= 0 {
		return m.count[i].Load()
	}
	return 0
}

// Bytes returns the bytes moved by op: written by "put", read by "get" and
// "getrange"; zero for the others.
func (m *Metrics) Bytes(op string) int64 {
	if i := metricOpIndex(op); i >= 0 {
		return m.byteSum[i].Load()
	}
	return 0
}

// Errors returns how many requests of op failed, not counting missing
// objects and cancelled contexts.
func (m *Metrics) Errors(op string) int64 {
	if i := metricOpIndex(op); i >= 0 {
		return m.errorSum[i].Load()
	}
	return 0
}

// DeletedKeys returns how many keys Metered stores using m have deleted,
// by Delete and DeleteBatch.
func (m *Metrics) DeletedKeys() int64 { return m.deletedSum.Load() }

// AbortedUploads returns how many multipart uploads Metered stores using m
// have aborted.
func (m *Metrics) AbortedUploads() int64 { return m.abortedSum.Load() }
