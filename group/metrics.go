package group

import "github.com/prometheus/client_golang/prometheus"

// metrics are the coordinator's Prometheus metrics (namespace strata,
// subsystem group).
type metrics struct {
	groups     prometheus.Gauge       // groups held in memory
	rebalances prometheus.Counter     // completed rebalances
	removed    *prometheus.CounterVec // members removed, by reason
	commits    prometheus.Counter     // partition offsets committed
	saveErrors prometheus.Counter     // failed SaveGroup
}

// Reasons a member is removed (label reason of members_removed_total).
const (
	removedLeave     = "leave"
	removedSession   = "session"
	removedRebalance = "rebalance" // did not rejoin within the rebalance timeout
	removedSync      = "sync"      // did not sync within the rebalance timeout
	removedFenced    = "fenced"    // replaced by a new member with its instance id
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "strata", "group"
	m := &metrics{
		groups: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "groups",
			Help: "Consumer groups held in memory by this coordinator."}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rebalances_total",
			Help: "Rebalances completed (generations started)."}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "members_removed_total",
			Help: "Group members removed, by reason (leave, session, rebalance, sync, fenced)."}, []string{"reason"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "offset_commits_total",
			Help: "Partition offsets committed to the metastore."}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "save_errors_total",
			Help: "Group state saves that failed (the in-memory group stays authoritative)."}),
	}
	for _, r := range []string{removedLeave, removedSession, removedRebalance, removedSync, removedFenced} {
		m.removed.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.groups, m.rebalances, m.removed, m.commits, m.saveErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
