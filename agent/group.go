package agent

// The group coordinator: the classic consumer group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) and committed offsets. This agent is
// the coordinator of every group until coordinators are placed by the
// ownership protocol.
//
// # State machine
//
// Each group is guarded by its own mutex. Kafka's states:
//
//	Empty ──join──▶ PreparingRebalance ──all known members joined, or the
//	     ◀─no members left─┘      ▲       rebalance timeout──▶ CompletingRebalance
//	                              │                                 │ leader's SyncGroup
//	                              └──join/leave/expiry── Stable ◀───┘
//
// Dead is a deleted group. Timers (member session expiry, the rebalance
// timeout, the wait for SyncGroup, expiry of members that were told
// MEMBER_ID_REQUIRED) are time.AfterFunc callbacks that take the group's
// mutex; a callback that finds its state superseded does nothing.
//
// # Waiting requests
//
// JoinGroup (until the rebalance completes) and SyncGroup (until the
// leader's assignment arrives) park their inflight in the member and
// return, so the connection's reader keeps reading. Whatever completes
// them (another member's request, a timer) finishes them under the
// group's mutex. If the connection closes first, a context.AfterFunc on
// the connection's context finishes them, so the connection's writer
// never waits on a group. There is no goroutine per group or per waiter.
//
// # Durability
//
// Offsets are written with metastore CommitOffsets while the group's mutex
// is held, so a commit validated against a generation is durable before
// that generation can end and a new owner fetch the offsets. The group
// itself (generation, protocol, leader, members as JSON) is saved with
// SaveGroup when a rebalance completes, when the leader's assignment
// arrives, and when a static member is replaced. A coordinator that loads
// a group with members (after a restart, or taking over from another
// agent) starts it in PreparingRebalance: the restored members' heartbeats
// answer REBALANCE_IN_PROGRESS, so they rejoin with their member ids
// within their rebalance timeout or are dropped.
//
// # Lock order
//
// group.mu → groupCoordinator.mu. The coordinator's mutex is never held
// while a group's is taken.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

// Group states, spelled as Kafka reports them.
const (
	groupEmpty               = "Empty"
	groupPreparingRebalance  = "PreparingRebalance"
	groupCompletingRebalance = "CompletingRebalance"
	groupStable              = "Stable"
	groupDead                = "Dead"
)

// Defaults of Kafka's group.min.session.timeout.ms and
// group.max.session.timeout.ms.
const (
	defaultGroupMinSession = 6 * time.Second
	defaultGroupMaxSession = 30 * time.Minute
)

// maxOffsetMetadata is Kafka's offset.metadata.max.bytes default.
const maxOffsetMetadata = 4096

// saveTimeout bounds a SaveGroup; it is not tied to a client request
// because a group change must be saved even if the client that caused it
// goes away.
const saveTimeout = 10 * time.Second

// groups returns the agent's group coordinator (created in New, closed
// by stop before the metastore is).
func (a *Agent) groups() *groupCoordinator { return a.groupCoord }

// groupCoordinator owns the agent's groups.
type groupCoordinator struct {
	a *Agent
	// Session timeout bounds (INVALID_SESSION_TIMEOUT outside them); tests
	// lower the minimum.
	minSession, maxSession atomic.Int64
	timers                 sync.WaitGroup // timer callbacks running
	mu                     struct {
		sync.Mutex
		closed bool
		groups map[string]*group
	}
}

func newGroupCoordinator(a *Agent) *groupCoordinator {
	gc := &groupCoordinator{a: a}
	gc.minSession.Store(int64(defaultGroupMinSession))
	gc.maxSession.Store(int64(defaultGroupMaxSession))
	gc.mu.groups = map[string]*group{}
	return gc
}

// close stops every group's timers and answers every waiting request with
// NOT_COORDINATOR. Later requests get NOT_COORDINATOR too. Safe to call
// more than once.
func (gc *groupCoordinator) close() {
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
			g.answerWaiters(m, kerr.NotCoordinator.Code)
		}
		g.mu.Unlock()
	}
}

// enter admits a timer callback unless the coordinator is closing.
func (gc *groupCoordinator) enter() bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.mu.closed {
		return false
	}
	gc.timers.Add(1)
	return true
}

// lock returns the named group, loaded from the metastore and locked;
// release it with unlock. errShuttingDown once the coordinator is closed.
func (gc *groupCoordinator) lock(ctx context.Context, name string) (*group, error) {
	for {
		gc.mu.Lock()
		if gc.mu.closed {
			gc.mu.Unlock()
			return nil, errShuttingDown
		}
		g := gc.mu.groups[name]
		if co := gc.a.coordinatorFor(name); co.ID != gc.a.agentID {
			gc.mu.Unlock()
			if g != nil {
				gc.evict(g)
			}
			return nil, errNotCoordinator
		}
		if g == nil {
			g = &group{gc: gc, name: name}
			g.mu.state = groupEmpty
			g.mu.members = map[string]*member{}
			g.mu.pending = map[string]*time.Timer{}
			g.mu.static = map[string]string{}
			gc.mu.groups[name] = g
		}
		gc.mu.Unlock()
		g.mu.Lock()
		if g.mu.removed {
			g.mu.Unlock()
			continue // deleted or dropped meanwhile: look it up again
		}
		if g.mu.closed {
			g.mu.Unlock()
			return nil, errShuttingDown
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

// evict drops a group this agent no longer coordinates: its waiting
// requests answer NOT_COORDINATOR, its timers stop, and the next
// coordinator loads it from the metastore.
func (gc *groupCoordinator) evict(g *group) {
	gc.mu.Lock()
	if gc.mu.groups[g.name] == g {
		delete(gc.mu.groups, g.name)
	}
	gc.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.removed {
		return
	}
	g.mu.removed = true
	g.stopTimers()
	for _, m := range g.mu.members {
		g.answerWaiters(m, kerr.NotCoordinator.Code)
	}
}

// evictMoved evicts every group whose coordinator is now another agent.
func (gc *groupCoordinator) evictMoved() {
	for _, name := range gc.names() {
		if gc.a.coordinatorFor(name).ID != gc.a.agentID {
			if g := gc.peek(name); g != nil {
				gc.evict(g)
			}
		}
	}
}

// peek returns the in-memory group if it is loaded, else nil.
func (gc *groupCoordinator) peek(name string) *group {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.mu.groups[name]
}

// names lists the groups held in memory.
func (gc *groupCoordinator) names() []string {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	out := make([]string, 0, len(gc.mu.groups))
	for n := range gc.mu.groups {
		out = append(out, n)
	}
	return out
}

// group is one consumer group.
type group struct {
	gc   *groupCoordinator
	name string
	mu   struct {
		sync.Mutex
		loaded    bool // state read from the metastore
		persisted bool // a row exists in the metastore
		removed   bool // no longer in the coordinator's map
		closed    bool // the coordinator closed

		state        string
		protocolType string
		protocol     string
		generation   int32
		leader       string
		members      map[string]*member
		pending      map[string]*time.Timer // told MEMBER_ID_REQUIRED, not joined yet
		static       map[string]string      // group.instance.id → member id
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
	protocols  []kmsg.JoinGroupRequestProtocol // in the member's preference order
	assignment []byte
	seq        uint64 // join order: the earliest member becomes leader

	joined    bool  // joined the rebalance in progress
	syncedGen int32 // generation of the member's last SyncGroup
	join      *waiter
	sync      *waiter
	deadline  time.Time // session expiry
	timer     *time.Timer
}

// waiter is a parked JoinGroup or SyncGroup.
type waiter struct {
	f    *inflight
	req  kmsg.Request
	stop func() bool // cancels the connection-close callback
	done bool
}

// unlock releases the group. A group left with nothing in it (never saved,
// no members) is dropped from memory, so lookups of unknown groups do not
// accumulate.
func (g *group) unlock() {
	if g.mu.loaded && !g.mu.persisted && !g.mu.removed && len(g.mu.members) == 0 && len(g.mu.pending) == 0 {
		g.mu.removed = true
		g.gc.mu.Lock()
		if g.gc.mu.groups[g.name] == g {
			delete(g.gc.mu.groups, g.name)
		}
		g.gc.mu.Unlock()
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

func (g *group) setState(s string) {
	g.mu.state = s
	g.mu.phase++
}

// park registers a waiting request; it is answered by answer, or with
// errCode if the connection closes first (then onDrop forgets it).
func (g *group) park(c *conn, req kmsg.Request, f *inflight, onDrop func()) *waiter {
	w := &waiter{f: f, req: req}
	w.stop = context.AfterFunc(c.ctx, func() {
		g.mu.Lock()
		defer g.unlock()
		if w.done {
			return
		}
		onDrop()
		w.answer(groupErrorResponse(req, kerr.RebalanceInProgress.Code))
	})
	return w
}

// answer finishes the waiting request once; the group's mutex is held.
func (w *waiter) answer(resp kmsg.Response) {
	if w == nil || w.done {
		return
	}
	w.done = true
	w.stop()
	w.f.finish(resp)
}

// answerWaiters answers a member's parked requests with an error.
func (g *group) answerWaiters(m *member, code int16) {
	if m.join != nil {
		m.join.answer(groupErrorResponse(m.join.req, code))
		m.join = nil
	}
	if m.sync != nil {
		m.sync.answer(groupErrorResponse(m.sync.req, code))
		m.sync = nil
	}
}

// groupErrorResponse is req's response carrying only an error code.
func groupErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode = code
		r.Generation = -1
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
	}
	return resp
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
		g.gc.a.log.Info("group member session expired", "group", g.name, "member", m.id)
		g.removeMember(m, kerr.UnknownMemberID.Code)
		g.prepareRebalance()
	})
}

// addMember adds a member that joins the rebalance with a parked
// JoinGroup (w may be nil).
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

// removeMember drops a member, answering its parked requests with code.
func (g *group) removeMember(m *member, code int16) {
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
	g.answerWaiters(m, code)
}

// prepareRebalance starts a rebalance (or continues the one in progress)
// and completes it at once if every known member has joined.
func (g *group) prepareRebalance() {
	if g.mu.state != groupPreparingRebalance {
		if g.mu.state == groupCompletingRebalance {
			for _, m := range g.mu.members {
				if m.sync != nil {
					m.sync.answer(groupErrorResponse(m.sync.req, kerr.RebalanceInProgress.Code))
					m.sync = nil
				}
			}
		}
		if g.mu.syncTimer != nil {
			g.mu.syncTimer.Stop()
			g.mu.syncTimer = nil
		}
		g.setState(groupPreparingRebalance)
		phase := g.mu.phase
		g.mu.rebalanceTimer = g.afterFunc(g.rebalanceTimeout(), func() {
			if g.mu.phase == phase && g.mu.state == groupPreparingRebalance {
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
// every joined member gets its JoinGroup answer.
func (g *group) completeRebalance() {
	if g.mu.rebalanceTimer != nil {
		g.mu.rebalanceTimer.Stop()
		g.mu.rebalanceTimer = nil
	}
	for _, m := range g.mu.members {
		if !m.joined {
			g.gc.a.log.Info("group member did not rejoin within the rebalance timeout", "group", g.name, "member", m.id)
			g.removeMember(m, kerr.UnknownMemberID.Code)
		}
	}
	g.mu.generation++
	if g.mu.generation <= 0 {
		g.mu.generation = 1
	}
	if len(g.mu.members) == 0 {
		g.setState(groupEmpty)
		g.mu.protocol, g.mu.leader = "", ""
		g.save()
		return
	}
	g.mu.protocol = g.selectProtocol()
	members := g.sortedMembers()
	g.gc.a.log.Debug("group rebalance completed", "group", g.name, "generation", g.mu.generation, "members", len(members), "protocol", g.mu.protocol)
	if _, ok := g.mu.members[g.mu.leader]; !ok {
		g.mu.leader = members[0].id
	}
	g.setState(groupCompletingRebalance)
	for _, m := range members {
		m.assignment = nil
		m.joined = false
	}
	g.save() // before anyone learns the generation
	for _, m := range members {
		if m.join != nil {
			resp := m.join.req.ResponseKind().(*kmsg.JoinGroupResponse)
			g.fillJoin(m, resp)
			m.join.answer(resp)
			m.join = nil
		}
		g.touch(m)
	}
	phase := g.mu.phase
	g.mu.syncTimer = g.afterFunc(g.rebalanceTimeout(), func() {
		if g.mu.phase != phase || g.mu.state != groupCompletingRebalance {
			return
		}
		for _, m := range g.mu.members {
			if m.syncedGen != g.mu.generation {
				g.gc.a.log.Info("group member did not sync within the rebalance timeout", "group", g.name, "member", m.id)
				g.removeMember(m, kerr.UnknownMemberID.Code)
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
func (g *group) supportsProtocols(self, protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
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

// fillJoin fills a successful JoinGroup answer for m; the leader also gets
// every member's metadata for the selected protocol.
func (g *group) fillJoin(m *member, resp *kmsg.JoinGroupResponse) {
	resp.ErrorCode = 0
	resp.Generation = g.mu.generation
	pt, p := g.mu.protocolType, g.mu.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	resp.LeaderID = g.mu.leader
	resp.MemberID = m.id
	resp.Members = nil
	if m.id != g.mu.leader {
		return
	}
	for _, o := range g.sortedMembers() {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID = o.id, o.instanceID
		for _, op := range o.protocols {
			if op.Name == g.mu.protocol {
				jm.ProtocolMetadata = op.Metadata
				break
			}
		}
		resp.Members = append(resp.Members, jm)
	}
}

// sameProtocols reports whether a rejoin changes nothing the leader would
// assign from.
func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
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
// id: 0, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID.
func (g *group) checkInstance(instanceID *string, memberID string) int16 {
	if instanceID == nil {
		return 0
	}
	id, ok := g.mu.static[*instanceID]
	switch {
	case !ok:
		return kerr.UnknownMemberID.Code
	case id != memberID:
		return kerr.FencedInstanceID.Code
	}
	return 0
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

// clientHost is how Kafka reports a member's host: "/" and its address.
func clientHost(c *conn) string {
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		host = c.nc.RemoteAddr().String()
	}
	return "/" + host
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

// save writes the group's state to the metastore. A failure is logged: the
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
			panic(fmt.Sprintf("agent: encode group members: %v", err)) // plain data cannot fail
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	err := g.gc.a.meta.SaveGroup(ctx, metastore.Group{
		Name: g.name, ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol, State: g.mu.state,
		Generation: g.mu.generation, Leader: g.mu.leader, Members: enc, UpdatedAt: time.Now(),
	})
	if err != nil {
		g.gc.a.log.Warn("save group", "group", g.name, "generation", g.mu.generation, "err", err)
		return
	}
	g.mu.persisted = true
}

// load reads the group from the metastore. Restored members must rejoin:
// the group starts in PreparingRebalance with none of them joined.
func (g *group) load(ctx context.Context) error {
	mg, err := g.gc.a.meta.LoadGroup(ctx, g.name)
	if errors.Is(err, metastore.ErrNotFound) {
		g.mu.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: load group %q: %v", errCoordinatorLoad, g.name, err)
	}
	g.mu.loaded, g.mu.persisted = true, true
	g.mu.protocolType, g.mu.protocol = mg.ProtocolType, mg.Protocol
	g.mu.generation, g.mu.leader = mg.Generation, mg.Leader
	var members []storedMember
	if len(mg.Members) > 0 {
		if err := json.Unmarshal(mg.Members, &members); err != nil {
			g.gc.a.log.Error("stored group members are unreadable; members must join again", "group", g.name, "err", err)
			members = nil
		}
	}
	if len(members) == 0 {
		g.mu.state = groupEmpty
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
			m.protocols = append(m.protocols, kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: p.Metadata})
		}
		g.addMember(m)
	}
	g.gc.a.log.Info("group restored; members must rejoin", "group", g.name, "generation", g.mu.generation, "members", len(members))
	g.prepareRebalance()
	return nil
}

// memberSubscriptions returns the topics the members subscribe to, from
// their consumer protocol metadata; ok is false if some member's metadata
// is not the consumer protocol's.
func (g *group) memberSubscriptions() (map[string]bool, bool) {
	topics := map[string]bool{}
	for _, m := range g.mu.members {
		for _, p := range m.protocols {
			if p.Name != g.mu.protocol && g.mu.protocol != "" {
				continue
			}
			var md kmsg.ConsumerMemberMetadata
			if err := md.ReadFrom(p.Metadata); err != nil {
				return nil, false
			}
			for _, t := range md.Topics {
				topics[t] = true
			}
		}
	}
	return topics, true
}

// validGroupTimeout converts a client's millisecond timeout.
func msDuration(ms int32) time.Duration {
	if ms < 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// authorizedGroupOps is the bitfield of group operations (READ, DELETE,
// DESCRIBE) reported when DescribeGroups asks; there are no ACLs.
const authorizedGroupOps = 1<<3 | 1<<6 | 1<<8

// noAuthorizedOps is what Kafka reports when they are not asked for.
const noAuthorizedOps = math.MinInt32
