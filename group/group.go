package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/stratalog/strata/metastore"
)

// State is a group's state, spelled as Kafka reports it.
type State string

// Group states (see doc.go).
const (
	StateEmpty               State = "Empty"
	StatePreparingRebalance  State = "PreparingRebalance"
	StateCompletingRebalance State = "CompletingRebalance"
	StateStable              State = "Stable"
	StateDead                State = "Dead"
)

// Protocol is one protocol a member supports (an assignor, for
// consumers), with the member's metadata for it.
type Protocol struct {
	Name     string
	Metadata []byte
}

// group is one consumer group.
type group struct {
	gc   *Coordinator
	name string
	mu   struct {
		sync.Mutex
		loaded    bool // state read from the Store
		persisted bool // a row exists in the Store
		removed   bool // no longer in the coordinator's map
		closed    bool // the coordinator closed

		state        State
		protocolType string
		protocol     string
		generation   int32
		leader       string
		members      map[string]*member
		pending      map[string]*time.Timer // told ErrMemberIDRequired, not joined yet
		static       map[string]string      // instance id → member id
		nextSeq      uint64

		// phase increments at every state change; a timer armed in one
		// phase does nothing in a later one.
		phase          uint64
		rebalanceTimer *time.Timer
		syncTimer      *time.Timer
	}
}

// member is one member of a group.
type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string
	session    time.Duration
	rebalance  time.Duration
	protocols  []Protocol // in the member's preference order
	assignment []byte
	seq        uint64 // join order: the earliest member becomes leader

	joined    bool  // joined the rebalance in progress
	syncedGen int32 // generation of the member's last Sync
	join      *waiter[JoinResponse]
	sync      *waiter[SyncResponse]
	deadline  time.Time // session expiry
	timer     *time.Timer
}

// waiter is a parked Join or Sync: done is called once, by answer.
type waiter[T any] struct {
	done     func(T)
	fail     func(error) T // the answer carrying only an error
	stop     func() bool   // cancels the context callback
	answered bool
}

// answer finishes the waiting request once; the group's mutex is held.
func (w *waiter[T]) answer(resp T) {
	if w == nil || w.answered {
		return
	}
	w.answered = true
	w.stop()
	w.done(resp)
}

func (w *waiter[T]) answerErr(err error) {
	if w != nil {
		w.answer(w.fail(err))
	}
}

// park registers a waiting request; it is answered by answer, or with
// ErrAbandoned if ctx ends first (then onDrop forgets it).
func park[T any](g *group, ctx context.Context, done func(T), fail func(error) T, onDrop func()) *waiter[T] {
	w := &waiter[T]{done: done, fail: fail}
	w.stop = context.AfterFunc(ctx, func() {
		g.mu.Lock()
		defer g.unlock()
		if w.answered {
			return
		}
		onDrop()
		w.answerErr(fmt.Errorf("%w: %w", ErrAbandoned, context.Cause(ctx)))
	})
	return w
}

// unlock releases the group. A group left with nothing in it (never saved,
// no members) is dropped from memory, so lookups of unknown groups do not
// accumulate.
func (g *group) unlock() {
	if g.mu.loaded && !g.mu.persisted && !g.mu.removed && len(g.mu.members) == 0 && len(g.mu.pending) == 0 {
		g.mu.removed = true
		g.gc.forget(g)
	}
	g.mu.Unlock()
}

// exists reports whether the group exists as far as clients can tell.
func (g *group) exists() bool {
	return g.mu.persisted || len(g.mu.members) > 0 || len(g.mu.pending) > 0
}

// afterFunc runs fn after d with the group locked, unless the coordinator
// or group is closed by then.
func (g *group) afterFunc(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		if !g.gc.enter() {
			return
		}
		defer g.gc.timers.Done()
		g.mu.Lock()
		defer g.unlock()
		if g.mu.closed || g.mu.removed {
			return
		}
		fn()
	})
}

func (g *group) stopTimers() {
	if g.mu.rebalanceTimer != nil {
		g.mu.rebalanceTimer.Stop()
		g.mu.rebalanceTimer = nil
	}
	if g.mu.syncTimer != nil {
		g.mu.syncTimer.Stop()
		g.mu.syncTimer = nil
	}
	for id, t := range g.mu.pending {
		t.Stop()
		delete(g.mu.pending, id)
	}
	for _, m := range g.mu.members {
		if m.timer != nil {
			m.timer.Stop()
			m.timer = nil
		}
	}
}

func (g *group) setState(s State) {
	g.mu.state = s
	g.mu.phase++
}

// answerWaiters answers a member's parked requests with an error.
func (g *group) answerWaiters(m *member, err error) {
	m.join.answerErr(err)
	m.join = nil
	m.sync.answerErr(err)
	m.sync = nil
}

// touch extends the member's session and makes sure its expiry timer runs.
func (g *group) touch(m *member) {
	m.deadline = time.Now().Add(m.session)
	if m.timer == nil {
		g.armSession(m, m.session)
	}
}

func (g *group) armSession(m *member, d time.Duration) {
	m.timer = g.afterFunc(d, func() {
		m.timer = nil
		if g.mu.members[m.id] != m {
			return
		}
		if m.join != nil || m.sync != nil {
			// Waiting on us, not on the client: the rebalance and sync
			// timeouts bound this.
			g.armSession(m, m.session)
			return
		}
		if rest := time.Until(m.deadline); rest > 0 {
			g.armSession(m, rest)
			return
		}
		g.gc.log.Info("group member session expired", "group", g.name, "member", m.id)
		g.removeMember(m, ErrUnknownMember, removedSession)
		g.prepareRebalance()
	})
}

// addMember adds a member; its session starts now.
func (g *group) addMember(m *member) {
	g.mu.nextSeq++
	m.seq = g.mu.nextSeq
	m.syncedGen = -1
	g.mu.members[m.id] = m
	if m.instanceID != nil {
		g.mu.static[*m.instanceID] = m.id
	}
	g.touch(m)
}

// removeMember drops a member, answering its parked requests with err.
func (g *group) removeMember(m *member, err error, reason string) {
	delete(g.mu.members, m.id)
	if m.instanceID != nil && g.mu.static[*m.instanceID] == m.id {
		delete(g.mu.static, *m.instanceID)
	}
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	if g.mu.leader == m.id {
		g.mu.leader = ""
	}
	g.answerWaiters(m, err)
	g.gc.metrics.removed.WithLabelValues(reason).Inc()
}

// prepareRebalance starts a rebalance (or continues the one in progress)
// and completes it at once if every known member has joined.
func (g *group) prepareRebalance() {
	if g.mu.state != StatePreparingRebalance {
		if g.mu.state == StateCompletingRebalance {
			for _, m := range g.mu.members {
				m.sync.answerErr(ErrRebalanceInProgress)
				m.sync = nil
			}
		}
		if g.mu.syncTimer != nil {
			g.mu.syncTimer.Stop()
			g.mu.syncTimer = nil
		}
		g.setState(StatePreparingRebalance)
		phase := g.mu.phase
		g.mu.rebalanceTimer = g.afterFunc(g.rebalanceTimeout(), func() {
			if g.mu.phase == phase && g.mu.state == StatePreparingRebalance {
				g.completeRebalance()
			}
		})
	}
	for _, m := range g.mu.members {
		if !m.joined {
			return
		}
	}
	g.completeRebalance()
}

// rebalanceTimeout is the largest rebalance timeout among the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.mu.members {
		d = max(d, m.rebalance)
	}
	return max(d, 10*time.Millisecond)
}

// completeRebalance ends the join phase: members that did not join are
// dropped, the generation advances, a protocol and a leader are chosen and
// every joined member gets its Join answer.
func (g *group) completeRebalance() {
	if g.mu.rebalanceTimer != nil {
		g.mu.rebalanceTimer.Stop()
		g.mu.rebalanceTimer = nil
	}
	for _, m := range g.mu.members {
		if !m.joined {
			g.gc.log.Info("group member did not rejoin within the rebalance timeout", "group", g.name, "member", m.id)
			g.removeMember(m, ErrUnknownMember, removedRebalance)
		}
	}
	g.mu.generation++
	if g.mu.generation <= 0 {
		g.mu.generation = 1
	}
	g.gc.metrics.rebalances.Inc()
	if len(g.mu.members) == 0 {
		g.setState(StateEmpty)
		g.mu.protocol, g.mu.leader = "", ""
		g.save()
		return
	}
	g.mu.protocol = g.selectProtocol()
	members := g.sortedMembers()
	g.gc.log.Debug("group rebalance completed", "group", g.name, "generation", g.mu.generation, "members", len(members), "protocol", g.mu.protocol)
	if _, ok := g.mu.members[g.mu.leader]; !ok {
		g.mu.leader = members[0].id
	}
	g.setState(StateCompletingRebalance)
	for _, m := range members {
		m.assignment = nil
		m.joined = false
	}
	g.save() // before anyone learns the generation
	for _, m := range members {
		if m.join != nil {
			m.join.answer(g.joinAnswer(m))
			m.join = nil
		}
		g.touch(m)
	}
	phase := g.mu.phase
	g.mu.syncTimer = g.afterFunc(g.rebalanceTimeout(), func() {
		if g.mu.phase != phase || g.mu.state != StateCompletingRebalance {
			return
		}
		for _, m := range g.mu.members {
			if m.syncedGen != g.mu.generation {
				g.gc.log.Info("group member did not sync within the rebalance timeout", "group", g.name, "member", m.id)
				g.removeMember(m, ErrUnknownMember, removedSync)
			}
		}
		g.prepareRebalance()
	})
}

// selectProtocol picks, among the protocols every member supports, the one
// most members prefer (each member votes for its first supported choice);
// ties go to the earliest member's preference.
func (g *group) selectProtocol() string {
	members := g.sortedMembers()
	candidates := map[string]bool{}
	for _, p := range members[0].protocols {
		candidates[p.Name] = true
	}
	for _, m := range members[1:] {
		has := map[string]bool{}
		for _, p := range m.protocols {
			has[p.Name] = true
		}
		for name := range candidates {
			if !has[name] {
				delete(candidates, name)
			}
		}
	}
	votes := map[string]int{}
	for _, m := range members {
		for _, p := range m.protocols {
			if candidates[p.Name] {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range members[0].protocols {
		if candidates[p.Name] && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

// supportsProtocols reports whether a member joining with protocolType and
// protocols can join: the group is empty, or the type matches and one of
// the protocols is supported by every other member.
func (g *group) supportsProtocols(self, protocolType string, protocols []Protocol) bool {
	others := 0
	count := map[string]int{}
	for _, m := range g.mu.members {
		if m.id == self {
			continue
		}
		others++
		for _, p := range m.protocols {
			count[p.Name]++
		}
	}
	if others == 0 {
		return true
	}
	if protocolType != g.mu.protocolType {
		return false
	}
	for _, p := range protocols {
		if count[p.Name] == others {
			return true
		}
	}
	return false
}

func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.mu.members))
	for _, m := range g.mu.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// sameProtocols reports whether a rejoin changes nothing the leader would
// assign from.
func sameProtocols(a, b []Protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

// checkInstance validates a static member's instance id against its member
// id: nil, ErrUnknownMember or ErrFencedInstance.
func (g *group) checkInstance(instanceID *string, memberID string) error {
	if instanceID == nil {
		return nil
	}
	id, ok := g.mu.static[*instanceID]
	switch {
	case !ok:
		return ErrUnknownMember
	case id != memberID:
		return ErrFencedInstance
	}
	return nil
}

// newMemberID makes a member id the way Kafka does: the client id (or the
// instance id for a static member), a dash and a random UUID.
func newMemberID(clientID string, instanceID *string) string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s", prefix, h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// storedMember is a member as saved in metastore.Group.Members (JSON).
type storedMember struct {
	ID                 string           `json:"id"`
	InstanceID         *string          `json:"instance_id,omitempty"`
	ClientID           string           `json:"client_id"`
	ClientHost         string           `json:"client_host"`
	SessionTimeoutMs   int64            `json:"session_timeout_ms"`
	RebalanceTimeoutMs int64            `json:"rebalance_timeout_ms"`
	Protocols          []storedProtocol `json:"protocols"`
	Assignment         []byte           `json:"assignment,omitempty"`
}

type storedProtocol struct {
	Name     string `json:"name"`
	Metadata []byte `json:"metadata"`
}

// save writes the group's state to the Store. A failure is logged: the
// in-memory group stays authoritative while this agent coordinates it.
func (g *group) save() {
	var members []storedMember
	for _, m := range g.sortedMembers() {
		sm := storedMember{
			ID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			SessionTimeoutMs: m.session.Milliseconds(), RebalanceTimeoutMs: m.rebalance.Milliseconds(),
			Assignment: m.assignment,
		}
		for _, p := range m.protocols {
			sm.Protocols = append(sm.Protocols, storedProtocol{Name: p.Name, Metadata: p.Metadata})
		}
		members = append(members, sm)
	}
	var enc []byte
	if len(members) > 0 {
		var err error
		if enc, err = json.Marshal(members); err != nil {
			panic(fmt.Sprintf("group: encode members: %v", err)) // plain data cannot fail
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.gc.cfg.SaveTimeout)
	defer cancel()
	err := g.gc.cfg.Store.SaveGroup(ctx, metastore.Group{
		Name: g.name, ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol, State: string(g.mu.state),
		Generation: g.mu.generation, Leader: g.mu.leader, Members: enc, UpdatedAt: time.Now(),
	})
	if err != nil {
		g.gc.metrics.saveErrors.Inc()
		g.gc.log.Warn("save group", "group", g.name, "generation", g.mu.generation, "err", err)
		return
	}
	g.mu.persisted = true
}

// load reads the group from the Store. Restored members must rejoin: the
// group starts in PreparingRebalance with none of them joined.
func (g *group) load(ctx context.Context) error {
	mg, err := g.gc.cfg.Store.LoadGroup(ctx, g.name)
	if errors.Is(err, metastore.ErrNotFound) {
		g.mu.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: load group %q: %v", ErrStore, g.name, err)
	}
	g.mu.loaded, g.mu.persisted = true, true
	g.mu.protocolType, g.mu.protocol = mg.ProtocolType, mg.Protocol
	g.mu.generation, g.mu.leader = mg.Generation, mg.Leader
	var members []storedMember
	if len(mg.Members) > 0 {
		if err := json.Unmarshal(mg.Members, &members); err != nil {
			g.gc.log.Error("stored group members are unreadable; members must join again", "group", g.name, "err", err)
			members = nil
		}
	}
	if len(members) == 0 {
		g.mu.state = StateEmpty
		g.mu.leader, g.mu.protocol = "", ""
		return nil
	}
	for _, sm := range members {
		m := &member{
			id: sm.ID, instanceID: sm.InstanceID, clientID: sm.ClientID, clientHost: sm.ClientHost,
			session:    time.Duration(sm.SessionTimeoutMs) * time.Millisecond,
			rebalance:  time.Duration(sm.RebalanceTimeoutMs) * time.Millisecond,
			assignment: sm.Assignment,
		}
		for _, p := range sm.Protocols {
			m.protocols = append(m.protocols, Protocol{Name: p.Name, Metadata: p.Metadata})
		}
		g.addMember(m)
	}
	g.gc.log.Info("group restored; members must rejoin", "group", g.name, "generation", g.mu.generation, "members", len(members))
	g.prepareRebalance()
	return nil
}
