package group

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Coordinator owns the groups this agent coordinates. It is safe for
// concurrent use. Create it with New; Close it before closing the Store.
type Coordinator struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	timers  sync.WaitGroup // timer callbacks running
	mu      struct {
		sync.Mutex
		closed bool
		groups map[string]*group
	}
}

// New returns a coordinator with no group in memory: groups are loaded
// from the Store on first use.
func New(cfg Config) (*Coordinator, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("group: metrics: %w", err)
	}
	gc := &Coordinator{cfg: cfg, log: cfg.Logger, metrics: m}
	gc.mu.groups = map[string]*group{}
	return gc, nil
}

// Close stops every group's timers and answers every waiting Join and Sync
// with ErrClosed. Later requests fail with ErrClosed too (FetchOffsets
// included). Safe to call more than once.
func (gc *Coordinator) Close() {
	gc.mu.Lock()
	if gc.mu.closed {
		gc.mu.Unlock()
		return
	}
	gc.mu.closed = true
	groups := make([]*group, 0, len(gc.mu.groups))
	for _, g := range gc.mu.groups {
		groups = append(groups, g)
	}
	gc.mu.Unlock()
	gc.timers.Wait()
	for _, g := range groups {
		g.mu.Lock()
		g.mu.closed = true
		g.stopTimers()
		for _, m := range g.mu.members {
			g.answerWaiters(m, ErrClosed)
		}
		g.mu.Unlock()
	}
}

// EvictMoved drops every group in memory that this agent no longer
// coordinates (Config.Coordinates): its waiting requests fail with
// ErrNotCoordinator, its timers stop, and its next coordinator loads it
// from the Store. Call it after each change of placement.
func (gc *Coordinator) EvictMoved() {
	for _, name := range gc.names() {
		if !gc.cfg.Coordinates(name) {
			if g := gc.peek(name); g != nil {
				gc.evict(g)
			}
		}
	}
}

// Snapshot is a group's in-memory state, as Peek reports it.
type Snapshot struct {
	State      State
	Generation int32
	Leader     string
	Protocol   string
	Members    []Member // in join order
	Pending    int      // member ids handed out with ErrMemberIDRequired, not yet joined
}

// Member is a group member as Snapshot and Description report it.
type Member struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	// Metadata (for the group's protocol) and Assignment are reported by
	// Describe for Stable groups only; Peek leaves them nil.
	Metadata   []byte
	Assignment []byte
}

// Peek reports a group's state if it is held in memory, without loading
// it, checking placement or extending any session (tests, debugging).
func (gc *Coordinator) Peek(name string) (Snapshot, bool) {
	g := gc.peek(name)
	if g == nil {
		return Snapshot{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.removed {
		return Snapshot{}, false
	}
	s := Snapshot{
		State: g.mu.state, Generation: g.mu.generation, Leader: g.mu.leader,
		Protocol: g.mu.protocol, Pending: len(g.mu.pending),
	}
	for _, m := range g.sortedMembers() {
		s.Members = append(s.Members, Member{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost})
	}
	return s, true
}

// enter admits a timer callback unless the coordinator is closing.
func (gc *Coordinator) enter() bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.mu.closed {
		return false
	}
	gc.timers.Add(1)
	return true
}

// lock returns the named group, loaded from the Store and locked; release
// it with unlock.
func (gc *Coordinator) lock(ctx context.Context, name string) (*group, error) {
	for {
		gc.mu.Lock()
		if gc.mu.closed {
			gc.mu.Unlock()
			return nil, ErrClosed
		}
		g := gc.mu.groups[name]
		if !gc.cfg.Coordinates(name) {
			gc.mu.Unlock()
			if g != nil {
				gc.evict(g)
			}
			return nil, ErrNotCoordinator
		}
		if g == nil {
			g = &group{gc: gc, name: name}
			g.mu.state = StateEmpty
			g.mu.members = map[string]*member{}
			g.mu.pending = map[string]*time.Timer{}
			g.mu.static = map[string]string{}
			gc.mu.groups[name] = g
			gc.metrics.groups.Inc()
		}
		gc.mu.Unlock()
		g.mu.Lock()
		if g.mu.removed {
			g.mu.Unlock()
			continue // deleted or dropped meanwhile: look it up again
		}
		if g.mu.closed {
			g.mu.Unlock()
			return nil, ErrClosed
		}
		if !g.mu.loaded {
			if err := g.load(ctx); err != nil {
				g.unlock()
				return nil, err
			}
		}
		return g, nil
	}
}

// forget removes g from the coordinator's map if it is still there.
func (gc *Coordinator) forget(g *group) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.mu.groups[g.name] == g {
		delete(gc.mu.groups, g.name)
		gc.metrics.groups.Dec()
	}
}

// evict drops a group this agent no longer coordinates.
func (gc *Coordinator) evict(g *group) {
	gc.forget(g)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.removed {
		return
	}
	g.mu.removed = true
	g.stopTimers()
	for _, m := range g.mu.members {
		g.answerWaiters(m, ErrNotCoordinator)
	}
}

// peek returns the in-memory group if it is loaded, else nil.
func (gc *Coordinator) peek(name string) *group {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.mu.groups[name]
}

// names lists the groups held in memory.
func (gc *Coordinator) names() []string {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	out := make([]string, 0, len(gc.mu.groups))
	for n := range gc.mu.groups {
		out = append(out, n)
	}
	return out
}
