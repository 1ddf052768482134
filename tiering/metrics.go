package tiering

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// CacheMetrics counts read-cache activity, for Prometheus (namespace
// "strata", subsystem "cache") and as plain counters for tests. One
// CacheMetrics may be shared by several caches: the bytes gauge is moved by
// deltas, so it then shows their sum.
type CacheMetrics struct {
	hitsC, missesC, evictionsC, skippedC prometheus.Counter
	bytesG                               prometheus.Gauge

	hits, misses, evictions, skipped atomic.Int64
}

// NewCacheMetrics returns CacheMetrics registered with reg, or unregistered
// if reg is nil. Metrics reg already holds from an earlier call are reused.
func NewCacheMetrics(reg prometheus.Registerer) *CacheMetrics {
	m := &CacheMetrics{
		hitsC: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "cache", Name: "hits_total",
			Help: "Read-cache lookups that found the range on local disk.",
		}),
		missesC: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "cache", Name: "misses_total",
			Help: "Read-cache lookups that did not find the range.",
		}),
		evictionsC: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "cache", Name: "evictions_total",
			Help: "Entries evicted to keep the read cache within its byte budget.",
		}),
		skippedC: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "cache", Name: "skipped_bytes_total",
			Help: "Bytes of segment read blocks read to the end from memory and so never written to the read cache.",
		}),
		bytesG: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "strata", Subsystem: "cache", Name: "bytes",
			Help: "Bytes held by the read cache on local disk.",
		}),
	}
	if reg != nil {
		m.hitsC = register(reg, m.hitsC)
		m.missesC = register(reg, m.missesC)
		m.evictionsC = register(reg, m.evictionsC)
		m.skippedC = register(reg, m.skippedC)
		m.bytesG = register(reg, m.bytesG)
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
		panic("tiering: register metrics: " + err.Error())
	}
	return c
}

// Hits returns the number of cache hits.
func (m *CacheMetrics) Hits() int64 { return m.hits.Load() }

// Misses returns the number of cache misses.
func (m *CacheMetrics) Misses() int64 { return m.misses.Load() }

// Evictions returns the number of entries evicted for space.
func (m *CacheMetrics) Evictions() int64 { return m.evictions.Load() }

// Skipped returns the bytes of blocks consumed from memory and not
// written to the cache.
func (m *CacheMetrics) Skipped() int64 { return m.skipped.Load() }

func (m *CacheMetrics) notCached(n int64) { m.skipped.Add(n); m.skippedC.Add(float64(n)) }

func (m *CacheMetrics) hit()  { m.hits.Add(1); m.hitsC.Inc() }
func (m *CacheMetrics) miss() { m.misses.Add(1); m.missesC.Inc() }

func (m *CacheMetrics) evicted(n int) {
	m.evictions.Add(int64(n))
	m.evictionsC.Add(float64(n))
}

func (m *CacheMetrics) addBytes(n int64) { m.bytesG.Add(float64(n)) }
