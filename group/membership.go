package group

import (
	"context"
	"time"
)

// JoinRequest is a member joining (or rejoining) a group.
type JoinRequest struct {
	Group string
	// MemberID is empty for a member's first join.
	MemberID string
	// InstanceID is a static member's group.instance.id; nil for a dynamic
	// member.
	InstanceID *string
	// ClientID and ClientHost describe the member's client (reported by
	// Describe); ClientID also prefixes the ids of dynamic members.
	ClientID   string
	ClientHost string
	// ProtocolType ("consumer" for Kafka consumers) and Protocols, in the
	// member's preference order, must be non-empty.
	ProtocolType string
	Protocols    []Protocol
	// SessionTimeout must be within the configured bounds.
	SessionTimeout time.Duration
	// RebalanceTimeout bounds how long a rebalance waits for the member;
	// zero or negative means SessionTimeout.
	RebalanceTimeout time.Duration
	// RequireMemberID makes a dynamic member's first join fail with
	// ErrMemberIDRequired and the id to rejoin with, so a client that never
	// comes back leaves no member behind (Kafka's JoinGroup v4+).
	RequireMemberID bool
}

// JoinResponse answers a Join.
type JoinResponse struct {
	// Err is nil or one of the errors of this package. On error only
	// MemberID may be set: the request's member id when it was refused at
	// once, the id to rejoin with for ErrMemberIDRequired, empty when a
	// waiting join was ended by the group.
	Err error
	// Generation is -1 on error.
	Generation   int32
	ProtocolType string
	Protocol     string
	LeaderID     string
	MemberID     string
	// Members is, for the leader only, every member with its metadata for
	// the selected protocol, in join order.
	Members []JoinMember
	// SkipAssignment tells a static leader that rejoined a Stable group
	// not to compute a new assignment (KIP-814).
	SkipAssignment bool
}

// JoinMember is a member as the leader sees it.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

func joinFailure(err error) JoinResponse { return JoinResponse{Err: err, Generation: -1} }

// Join adds a member to a group or rejoins it. done is called exactly once
// with the answer: at once, or when the rebalance the join waits for
// completes (from the goroutine of whatever completes it: another member's
// request, a timer, Close). If ctx ends first, done gets ErrAbandoned;
// ctx also bounds loading the group. done is called with the group's
// mutex held: it must not block or call back into the Coordinator.
func (gc *Coordinator) Join(ctx context.Context, req JoinRequest, done func(JoinResponse)) {
	fail := func(err error) {
		resp := joinFailure(err)
		resp.MemberID = req.MemberID
		done(resp)
	}
	switch {
	case req.Group == "":
		fail(ErrInvalidGroupID)
		return
	case req.SessionTimeout < gc.cfg.MinSessionTimeout || req.SessionTimeout > gc.cfg.MaxSessionTimeout:
		fail(ErrInvalidSessionTimeout)
		return
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		fail(ErrInconsistentProtocol)
		return
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	g, err := gc.lock(ctx, req.Group)
	if err != nil {
		fail(err)
		return
	}
	defer g.unlock()
	if resp, ok := g.join(ctx, req, done); ok {
		done(resp)
	}
}

// join runs a Join with the group locked. It returns the answer, or false
// when the request was parked until the rebalance completes.
func (g *group) join(ctx context.Context, r JoinRequest, done func(JoinResponse)) (JoinResponse, bool) {
	fail := func(err error) (JoinResponse, bool) {
		resp := joinFailure(err)
		resp.MemberID = r.MemberID
		return resp, true
	}
	if !g.supportsProtocols(r.MemberID, r.ProtocolType, r.Protocols) {
		return fail(ErrInconsistentProtocol)
	}
	if r.MemberID == "" {
		if r.InstanceID != nil {
			if old := g.mu.members[g.mu.static[*r.InstanceID]]; old != nil {
				return g.replaceStatic(ctx, old, r, done)
			}
		}
		id := newMemberID(r.ClientID, r.InstanceID)
		if r.RequireMemberID && r.InstanceID == nil {
			// The client rejoins with this id, so a client that never comes
			// back leaves no member behind.
			g.mu.pending[id] = g.afterFunc(r.SessionTimeout, func() {
				delete(g.mu.pending, id)
			})
			resp := joinFailure(ErrMemberIDRequired)
			resp.MemberID = id
			return resp, true
		}
		m := newMember(id, r)
		g.addMember(m)
		g.joinRebalance(ctx, m, r, done)
		return JoinResponse{}, false
	}
	if err := g.checkInstance(r.InstanceID, r.MemberID); err != nil {
		return fail(err)
	}
	if t, ok := g.mu.pending[r.MemberID]; ok {
		t.Stop()
		delete(g.mu.pending, r.MemberID)
		m := newMember(r.MemberID, r)
		g.addMember(m)
		g.joinRebalance(ctx, m, r, done)
		return JoinResponse{}, false
	}
	m := g.mu.members[r.MemberID]
	if m == nil {
		return fail(ErrUnknownMember)
	}
	same := sameProtocols(m.protocols, r.Protocols)
	switch {
	case g.mu.state == StateCompletingRebalance && same,
		g.mu.state == StateStable && same && m.id != g.mu.leader:
		g.touch(m)
		return g.joinAnswer(m), true
	}
	g.gc.log.Debug("group member rejoins", "group", g.name, "member", m.id, "state", g.mu.state, "same", same, "leader", m.id == g.mu.leader)
	m.session, m.rebalance = r.SessionTimeout, r.RebalanceTimeout
	m.protocols = r.Protocols
	m.clientID, m.clientHost = r.ClientID, r.ClientHost
	g.joinRebalance(ctx, m, r, done)
	return JoinResponse{}, false
}

// joinRebalance parks m's Join and starts (or advances) a rebalance.
func (g *group) joinRebalance(ctx context.Context, m *member, r JoinRequest, done func(JoinResponse)) {
	if g.mu.state == StateEmpty || len(g.mu.members) == 1 {
		g.mu.protocolType = r.ProtocolType
	}
	// The same member joined again before the first answer: the earlier
	// request is superseded.
	m.join.answerErr(ErrRebalanceInProgress)
	m.joined = true
	var w *waiter[JoinResponse]
	w = park(g, ctx, done, joinFailure, func() {
		if m.join == w {
			m.join = nil
		}
	})
	m.join = w
	g.prepareRebalance()
}

// replaceStatic gives a static member that rejoins with an empty member id
// a new member id in place of its old one (KIP-345).
func (g *group) replaceStatic(ctx context.Context, old *member, r JoinRequest, done func(JoinResponse)) (JoinResponse, bool) {
	m := newMember(newMemberID(r.ClientID, r.InstanceID), r)
	m.assignment = old.assignment
	wasLeader := g.mu.leader == old.id
	g.removeMember(old, ErrFencedInstance, removedFenced)
	g.addMember(m)
	m.seq = old.seq // keeps its place in the leader order
	m.syncedGen = old.syncedGen
	if wasLeader {
		g.mu.leader = m.id
	}
	g.gc.log.Info("static group member replaced", "group", g.name, "instance", *r.InstanceID, "old", old.id, "new", m.id, "state", g.mu.state)
	// As in Kafka, the rejoin needs no rebalance as long as the group
	// would keep its protocol: the member's metadata may differ (a
	// restarted cooperative consumer no longer lists owned partitions),
	// and it gets its old assignment back.
	if g.mu.state == StateStable && g.selectProtocol() == g.mu.protocol {
		g.save()
		resp := g.joinAnswer(m)
		resp.SkipAssignment = m.id == g.mu.leader
		return resp, true
	}
	g.joinRebalance(ctx, m, r, done)
	return JoinResponse{}, false
}

func newMember(id string, r JoinRequest) *member {
	return &member{
		id: id, instanceID: r.InstanceID, clientID: r.ClientID, clientHost: r.ClientHost,
		session: r.SessionTimeout, rebalance: r.RebalanceTimeout, protocols: r.Protocols,
	}
}

// joinAnswer is a successful Join answer for m; the leader also gets every
// member's metadata for the selected protocol.
func (g *group) joinAnswer(m *member) JoinResponse {
	resp := JoinResponse{
		Generation: g.mu.generation, ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol,
		LeaderID: g.mu.leader, MemberID: m.id,
	}
	if m.id != g.mu.leader {
		return resp
	}
	for _, o := range g.sortedMembers() {
		jm := JoinMember{MemberID: o.id, InstanceID: o.instanceID}
		for _, op := range o.protocols {
			if op.Name == g.mu.protocol {
				jm.Metadata = op.Metadata
				break
			}
		}
		resp.Members = append(resp.Members, jm)
	}
	return resp
}

// SyncRequest is a member's SyncGroup after a rebalance; the leader's
// carries the assignment.
type SyncRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
	// ProtocolType and Protocol, if not nil, must be the group's.
	ProtocolType *string
	Protocol     *string
	// Assignments is the leader's assignment; members it leaves out get an
	// empty one.
	Assignments []Assignment
}

// Assignment is the leader's assignment for one member, handed over byte
// for byte.
type Assignment struct {
	MemberID   string
	Assignment []byte
}

// SyncResponse answers a Sync.
type SyncResponse struct {
	Err          error
	ProtocolType string
	Protocol     string
	Assignment   []byte // never nil on success
}

func syncFailure(err error) SyncResponse { return SyncResponse{Err: err} }

// Sync waits for the leader's assignment after a rebalance and answers the
// member's part of it; in a Stable group it answers the member's current
// assignment at once. done is called exactly once, as for Join.
func (gc *Coordinator) Sync(ctx context.Context, req SyncRequest, done func(SyncResponse)) {
	if req.Group == "" {
		done(syncFailure(ErrInvalidGroupID))
		return
	}
	g, err := gc.lock(ctx, req.Group)
	if err != nil {
		done(syncFailure(err))
		return
	}
	defer g.unlock()
	if resp, ok := g.sync(ctx, req, done); ok {
		done(resp)
	}
}

// sync runs a Sync with the group locked; false when parked.
func (g *group) sync(ctx context.Context, r SyncRequest, done func(SyncResponse)) (SyncResponse, bool) {
	if err := g.checkInstance(r.InstanceID, r.MemberID); err != nil {
		return syncFailure(err), true
	}
	m := g.mu.members[r.MemberID]
	switch {
	case m == nil:
		return syncFailure(ErrUnknownMember), true
	case r.Generation != g.mu.generation:
		return syncFailure(ErrIllegalGeneration), true
	case r.ProtocolType != nil && *r.ProtocolType != g.mu.protocolType,
		r.Protocol != nil && *r.Protocol != g.mu.protocol:
		return syncFailure(ErrInconsistentProtocol), true
	}
	switch g.mu.state {
	case StatePreparingRebalance:
		return syncFailure(ErrRebalanceInProgress), true
	case StateStable:
		g.touch(m)
		return g.syncAnswer(m), true
	case StateCompletingRebalance:
	default:
		return syncFailure(ErrUnknownMember), true
	}
	m.sync.answerErr(ErrRebalanceInProgress)
	m.syncedGen = g.mu.generation
	var w *waiter[SyncResponse]
	w = park(g, ctx, done, syncFailure, func() {
		if m.sync == w {
			m.sync = nil
		}
	})
	m.sync = w
	g.touch(m)
	if m.id != g.mu.leader {
		return SyncResponse{}, false
	}
	for _, om := range g.mu.members {
		om.assignment = []byte{}
	}
	for _, a := range r.Assignments {
		if om := g.mu.members[a.MemberID]; om != nil {
			om.assignment = a.Assignment
		}
	}
	if g.mu.syncTimer != nil {
		g.mu.syncTimer.Stop()
		g.mu.syncTimer = nil
	}
	g.setState(StateStable)
	g.save()
	for _, om := range g.mu.members {
		if om.sync != nil {
			om.sync.answer(g.syncAnswer(om))
			om.sync = nil
		}
	}
	return SyncResponse{}, false
}

func (g *group) syncAnswer(m *member) SyncResponse {
	resp := SyncResponse{ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol, Assignment: m.assignment}
	if resp.Assignment == nil {
		resp.Assignment = []byte{}
	}
	return resp
}

// HeartbeatRequest keeps a member's session alive.
type HeartbeatRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
}

// Heartbeat extends the member's session. It fails with
// ErrRebalanceInProgress while the group waits for joins: this is how
// members learn to rejoin.
func (gc *Coordinator) Heartbeat(ctx context.Context, req HeartbeatRequest) error {
	if req.Group == "" {
		return ErrInvalidGroupID
	}
	g, err := gc.lock(ctx, req.Group)
	if err != nil {
		return err
	}
	defer g.unlock()
	if err := g.checkInstance(req.InstanceID, req.MemberID); err != nil {
		return err
	}
	m := g.mu.members[req.MemberID]
	switch {
	case m == nil:
		return ErrUnknownMember
	case req.Generation != g.mu.generation:
		return ErrIllegalGeneration
	}
	g.touch(m)
	switch g.mu.state {
	case StatePreparingRebalance:
		return ErrRebalanceInProgress
	case StateCompletingRebalance, StateStable:
		return nil
	default:
		return ErrUnknownMember
	}
}

// LeaveRequest removes members from a group.
type LeaveRequest struct {
	Group   string
	Members []LeavingMember
}

// LeavingMember names a member by member id and/or instance id (a static
// member leaves by its instance id).
type LeavingMember struct {
	MemberID   string
	InstanceID *string
}

// LeaveResponse answers a Leave: Err for the whole request, else Members,
// each member's outcome in the request's order.
type LeaveResponse struct {
	Err     error
	Members []error
}

// Leave removes each member; every departure starts a rebalance, and the
// last member leaving makes the group Empty.
func (gc *Coordinator) Leave(ctx context.Context, req LeaveRequest) LeaveResponse {
	if req.Group == "" {
		return LeaveResponse{Err: ErrInvalidGroupID}
	}
	g, err := gc.lock(ctx, req.Group)
	if err != nil {
		return LeaveResponse{Err: err}
	}
	defer g.unlock()
	resp := LeaveResponse{Members: make([]error, len(req.Members))}
	for i, lm := range req.Members {
		resp.Members[i] = g.leave(lm)
	}
	return resp
}

func (g *group) leave(lm LeavingMember) error {
	id := lm.MemberID
	if lm.InstanceID != nil {
		known, ok := g.mu.static[*lm.InstanceID]
		switch {
		case !ok:
			return ErrUnknownMember
		case id != "" && id != known:
			return ErrFencedInstance
		}
		id = known
	}
	if t, ok := g.mu.pending[id]; ok {
		t.Stop()
		delete(g.mu.pending, id)
		return nil
	}
	m := g.mu.members[id]
	if m == nil {
		return ErrUnknownMember
	}
	g.gc.log.Debug("group member left", "group", g.name, "member", id)
	g.removeMember(m, ErrUnknownMember, removedLeave)
	g.prepareRebalance()
	return nil
}
