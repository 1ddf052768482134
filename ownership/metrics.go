package ownership

import "github.com/prometheus/client_golang/prometheus"

// metrics are the ownership manager's Prometheus metrics (namespace
// strata).
type metrics struct {
	claims     prometheus.Counter
	releases   prometheus.Counter
	takenOver  prometheus.Counter
	passErrors prometheus.Counter
	liveAgents prometheus.Gauge
	// presenceDeaths counts agents found dead by presence before their
	// lease expired.
	presenceDeaths prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "strata", "ownership"
	m := &metrics{
		claims: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "claims_total",
			Help: "Partitions claimed by this agent."}),
		releases: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "releases_total",
			Help: "Partitions released by this agent (handed to their desired owner)."}),
		takenOver: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "taken_over_total",
			Help: "Partitions found owned by another agent while this one held them."}),
		passErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "pass_errors_total",
			Help: "Ownership passes that failed (retried at the next pass)."}),
		liveAgents: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "live_agents",
			Help: "Live agents in this agent's view."}),
		presenceDeaths: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "presence_deaths_total",
			Help: "Agents found dead because their presence in the metastore was gone, before their lease expired."}),
	}
	reg.MustRegister(m.claims, m.releases, m.takenOver, m.passErrors, m.liveAgents, m.presenceDeaths)
	return m
}
