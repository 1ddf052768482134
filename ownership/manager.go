package ownership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
)

// Store is what ownership needs of the metastore.
type Store interface {
	RegisterAgent(ctx context.Context, a metastore.Agent) (metastore.Agent, error)
	Agents(ctx context.Context, now time.Time) ([]metastore.Agent, error)
	Topics(ctx context.Context) ([]metastore.Topic, error)
	Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error)
	Claim(ctx context.Context, agentID string, id metastore.TopicID, partition int32, expectEpoch int32) (metastore.Partition, error)
	Release(ctx context.Context, agentID string, id metastore.TopicID, partition int32, epoch int32) error
	ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error)
}

// Config configures a Manager. The zero value of a field means its
// default.
type Config struct {
	// AgentID, Host, Port and Rack are this agent's registration.
	// AgentID is required.
	AgentID string
	Host    string
	Port    int32
	Rack    string
	// LeaseTTL is how long a registration lives without a heartbeat.
	// Default 3s.
	LeaseTTL time.Duration
	// PresenceInterval is how often the presence of the other live agents
	// is checked, when the store offers metastore.Presence: an agent whose
	// presence is gone in two checks in a row (its process died) counts
	// as dead before its lease expires, and a pass runs at once. Default
	// 50ms; negative: off (only leases tell death).
	PresenceInterval time.Duration
	// AfterPass, if set, runs after every ownership pass.
	AfterPass func()
	// Logger receives the manager's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the manager's metrics. Default: a new registry.
	Registerer prometheus.Registerer
}

// EnsureDefaults fills every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 3 * time.Second
	}
	if c.PresenceInterval == 0 {
		c.PresenceInterval = 50 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if c.AgentID == "" {
		errs = append(errs, errors.New("ownership: agent id is required"))
	}
	if c.LeaseTTL < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("lease-ttl %v: must be at least 100ms", c.LeaseTTL))
	}
	return errors.Join(errs...)
}

// Manager runs this agent's registration, heartbeats and ownership
// passes.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	meta    Store
	reg     *partlog.Registry
	metrics *metrics
	nodeID  atomic.Int32
	live    atomic.Pointer[[]metastore.Agent]
	// registered is the last list of registered agents with a live lease,
	// before the dead ones (presence gone) were taken out: live.
	registered atomic.Pointer[[]metastore.Agent]
	presence   metastore.Presence // nil: off
	// dead are the agents found dead by presence (the watcher's, read by
	// Agents).
	dead    atomic.Pointer[map[string]bool]
	passNow chan struct{}
	// passMu serialises passes over a topic: the background Pass and
	// ClaimTopic (CreateTopics, CreatePartitions) must not act on each
	// other's stale reads of the partition rows.
	passMu sync.Mutex
	quit   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns a Manager; Register it, then Start it.
func New(cfg Config, meta Store, reg *partlog.Registry) (*Manager, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, meta: meta, reg: reg, metrics: newMetrics(cfg.Registerer), quit: make(chan struct{}),
		passNow: make(chan struct{}, 1)}
	m.live.Store(&[]metastore.Agent{})
	m.registered.Store(&[]metastore.Agent{})
	m.dead.Store(&map[string]bool{})
	if ps, ok := meta.(metastore.Presence); ok && cfg.PresenceInterval > 0 {
		m.presence = ps
	}
	return m, nil
}

// Register registers the agent (renewing its lease) and returns its node
// id, which the metastore keeps stable for an agent ID.
func (m *Manager) Register(ctx context.Context) (int32, error) {
	reg, err := m.meta.RegisterAgent(ctx, metastore.Agent{
		ID: m.cfg.AgentID, Host: m.cfg.Host, Port: m.cfg.Port, Rack: m.cfg.Rack,
		LeaseExpires: time.Now().Add(m.cfg.LeaseTTL),
	})
	if err != nil {
		return 0, fmt.Errorf("ownership: register: %w", err)
	}
	if old := m.nodeID.Swap(reg.NodeID); old != 0 && old != reg.NodeID {
		m.log.Error("metastore changed this agent's node id", "was", old, "now", reg.NodeID)
	}
	return reg.NodeID, nil
}

// NodeID is the node id of the last registration.
func (m *Manager) NodeID() int32 { return m.nodeID.Load() }

// Self is this agent as clients see it.
func (m *Manager) Self() metastore.Agent {
	return metastore.Agent{ID: m.cfg.AgentID, NodeID: m.nodeID.Load(), Host: m.cfg.Host, Port: m.cfg.Port, Rack: m.cfg.Rack}
}

// Start runs the heartbeat, the ownership passes and the presence
// watcher until Stop.
func (m *Manager) Start() {
	m.wg.Add(2)
	go m.every(m.cfg.LeaseTTL/3, nil, func(ctx context.Context) {
		if _, err := m.Register(ctx); err != nil {
			m.log.Warn("heartbeat failed", "err", err)
		}
	})
	go m.every(m.cfg.LeaseTTL/3, m.passNow, func(ctx context.Context) {
		if err := m.Pass(ctx); err != nil && ctx.Err() == nil {
			m.metrics.passErrors.Inc()
			m.log.Warn("ownership pass failed", "err", err)
		}
	})
	if m.presence != nil {
		m.wg.Add(1)
		go m.watchPresence()
	}
}

// Stop stops the loops. Safe to call more than once.
func (m *Manager) Stop() {
	m.once.Do(func() { close(m.quit) })
	m.wg.Wait()
}

// every runs fn every d, and at once whenever now receives.
func (m *Manager) every(d time.Duration, now <-chan struct{}, fn func(context.Context)) {
	defer m.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		case <-now:
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaseTTL)
		fn(ctx)
		cancel()
	}
}

// Agents lists the live agents afresh and keeps them as the current view.
func (m *Manager) Agents(ctx context.Context) ([]metastore.Agent, error) {
	all, err := m.meta.Agents(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	m.registered.Store(&all)
	dead := *m.dead.Load()
	agents := all
	if len(dead) > 0 {
		agents = make([]metastore.Agent, 0, len(all))
		for _, ag := range all {
			if !dead[ag.ID] {
				agents = append(agents, ag)
			}
		}
	}
	m.live.Store(&agents)
	m.metrics.liveAgents.Set(float64(len(agents)))
	return agents, nil
}

// CoordinatorFor returns the agent coordinating a consumer group: the
// rendezvous winner for the group name over the current view of live
// agents (this agent when it knows of no other).
func (m *Manager) CoordinatorFor(group string) metastore.Agent {
	agents := *m.live.Load()
	id := GroupCoordinator(agents, group)
	for _, ag := range agents {
		if ag.ID == id && ag.ID != m.cfg.AgentID {
			return ag
		}
	}
	return m.Self()
}

// Coordinates reports whether this agent coordinates the group.
func (m *Manager) Coordinates(group string) bool {
	return m.CoordinatorFor(group).ID == m.cfg.AgentID
}

// Pass is one ownership pass over every topic, also picking up topics
// created, grown or deleted through other agents.
func (m *Manager) Pass(ctx context.Context) error {
	agents, err := m.Agents(ctx)
	if err != nil {
		return err
	}
	if m.cfg.AfterPass != nil {
		defer m.cfg.AfterPass()
	}
	topics, err := m.meta.Topics(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, mt := range topics {
		known[mt.Name] = true
		t := m.reg.Topic(mt.Name)
		if t != nil && t.ID() != mt.ID {
			m.reg.RemoveTopic(mt.Name) // deleted and re-created elsewhere
			t = nil
		}
		if t == nil {
			if t, err = m.reg.AddTopic(ctx, mt); err != nil {
				return err
			}
		}
		if err := m.passTopic(ctx, t, agents); err != nil {
			return err
		}
	}
	for _, t := range m.reg.Topics() {
		if !known[t.Name()] {
			m.reg.RemoveTopic(t.Name())
		}
	}
	return nil
}

// ClaimTopic runs the ownership pass for one topic (new or grown), so its
// partitions are served as soon as the request that made them returns.
func (m *Manager) ClaimTopic(ctx context.Context, t *partlog.Topic) error {
	agents, err := m.Agents(ctx)
	if err != nil {
		return err
	}
	return m.passTopic(ctx, t, agents)
}

// passTopic claims, keeps or releases each partition of t.
func (m *Manager) passTopic(ctx context.Context, t *partlog.Topic, agents []metastore.Agent) error {
	m.passMu.Lock()
	defer m.passMu.Unlock()
	rows, err := m.meta.Partitions(ctx, t.ID())
	if errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(rows) > len(t.Partitions()) {
		if err := m.reg.ExtendTopic(ctx, t, rows); err != nil {
			return err
		}
	}
	live := map[string]bool{}
	for _, ag := range agents {
		live[ag.ID] = true
	}
	self := m.cfg.AgentID
	for _, row := range rows {
		p := t.Partition(row.Partition)
		if p == nil {
			continue
		}
		// Retention and DeleteRecords may have run elsewhere (a compactor,
		// another agent): every agent's log start follows within one pass.
		p.RaiseLogStart(row.LogStartOffset)
		desired := PartitionOwner(agents, t.ID(), row.Partition)
		state, epoch := p.ObserveOwner(row.Owner)
		held := state == partlog.Owned || state == partlog.Releasing
		switch {
		case row.Owner == self && row.Epoch == epoch && held:
			if desired != self && live[desired] {
				m.release(ctx, p)
			}
		case row.Owner != self && held && row.Epoch < epoch:
			// A read older than our own claim (epochs only grow): not a
			// takeover.
		case row.Owner != self && held:
			m.log.Warn("partition taken over by another agent", "topic", t.Name(), "partition", row.Partition, "owner", row.Owner, "epoch", row.Epoch)
			p.TakenOver(row.Owner)
			m.metrics.takenOver.Inc()
		case desired == self && (row.Owner == "" || !live[row.Owner] || row.Owner == self):
			m.claim(ctx, p, row)
		}
	}
	return nil
}

// claim takes the partition over at row.Epoch+1 and loads its state.
func (m *Manager) claim(ctx context.Context, p *partlog.Partition, row metastore.Partition) {
	name := p.Topic().Name()
	np, err := m.meta.Claim(ctx, m.cfg.AgentID, p.TopicID(), p.Index(), row.Epoch)
	if err != nil {
		if !errors.Is(err, metastore.ErrFenced) {
			m.log.Warn("claim failed", "topic", name, "partition", p.Index(), "err", err)
		}
		return
	}
	states, err := m.meta.ProducerStates(ctx, p.TopicID(), p.Index())
	if err != nil {
		// Owned in the metastore but unusable here: the next pass sees
		// row.Owner == us at an epoch we do not hold, and claims again.
		m.log.Warn("load producer state after claim", "topic", name, "partition", p.Index(), "err", err)
		return
	}
	p.Claimed(np, states)
	m.metrics.claims.Inc()
	m.log.Info("claimed partition", "topic", name, "partition", p.Index(), "epoch", np.Epoch, "high_watermark", np.HighWatermark)
}

// release stops appends to the partition and, once everything buffered
// for it is committed, gives up ownership in the metastore. Until then it
// is retried on every pass.
func (m *Manager) release(ctx context.Context, p *partlog.Partition) {
	epoch := p.StopAppends()
	if p.Buffered() > 0 {
		m.reg.Kick()
		return
	}
	if err := m.meta.Release(ctx, m.cfg.AgentID, p.TopicID(), p.Index(), epoch); err != nil && !errors.Is(err, metastore.ErrFenced) {
		m.log.Warn("release failed", "topic", p.Topic().Name(), "partition", p.Index(), "err", err)
		return
	}
	p.Released()
	m.metrics.releases.Inc()
	m.log.Info("released partition", "topic", p.Topic().Name(), "partition", p.Index(), "epoch", epoch)
}

// ReleaseAll gives up every partition this agent holds (graceful
// shutdown, after everything buffered was committed).
func (m *Manager) ReleaseAll(ctx context.Context) {
	for _, t := range m.reg.Topics() {
		for _, p := range t.Partitions() {
			if _, st := p.Epoch(); st == partlog.Owned || st == partlog.Releasing {
				m.release(ctx, p)
			}
		}
	}
}
