package agent

// JoinGroup v0-v9 (the classic group protocol; see group.go).
//
//   - An empty group id is INVALID_GROUP_ID; a session timeout outside
//     [6s, 30m] (Kafka's defaults) INVALID_SESSION_TIMEOUT; an empty
//     protocol type or list, or protocols the other members cannot share,
//     INCONSISTENT_GROUP_PROTOCOL. v0 has no rebalance timeout: the session
//     timeout is used.
//   - v4+: a dynamic member's first join (empty member id) is answered
//     MEMBER_ID_REQUIRED with the id to rejoin with; that id expires after
//     the session timeout if unused. v0-v3 join at once.
//   - The request waits (off the connection's reader) until every known
//     member has joined or the rebalance timeout drops the rest; then the
//     generation advances, the protocol is chosen by vote among those all
//     members support, and the leader (the longest-standing member) gets
//     every member's metadata.
//   - A known member rejoining a Stable or CompletingRebalance group with
//     unchanged protocols gets the current generation at once (except the
//     leader in Stable, whose rejoin starts a rebalance, as in Kafka).
//   - Static membership (v5+, group.instance.id): a join with an empty
//     member id and a known instance id replaces the old member id and
//     keeps its assignment. In a Stable group whose protocol choice the
//     new join does not change there is no rebalance (the leader gets
//     SkipAssignment on v9) -- Kafka's rule; comparing the metadata bytes
//     instead would rebalance on every restart of a cooperative consumer,
//     whose metadata lists the partitions it owns. The old member id's
//     waiting and later requests get FENCED_INSTANCE_ID.
//   - Reason (v8+) is ignored.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleJoinGroup(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.JoinGroupRequest)
	fail := func(code int16) {
		resp := groupErrorResponse(r, code).(*kmsg.JoinGroupResponse)
		resp.MemberID = r.MemberID
		f.finish(resp)
	}
	gc := c.a.groups()
	session := msDuration(r.SessionTimeoutMillis)
	switch {
	case r.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case session < time.Duration(gc.minSession.Load()) || session > time.Duration(gc.maxSession.Load()):
		fail(kerr.InvalidSessionTimeout.Code)
		return
	case r.ProtocolType == "" || len(r.Protocols) == 0:
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	g, err := gc.lock(c.ctx, r.Group)
	if err != nil {
		fail(groupErrorCode(err))
		return
	}
	defer g.unlock()
	if resp := g.join(c, r, f); resp != nil {
		f.finish(resp)
	}
}

// join runs a JoinGroup with the group locked. It returns the answer, or
// nil when the request was parked until the rebalance completes.
func (g *group) join(c *conn, r *kmsg.JoinGroupRequest, f *inflight) *kmsg.JoinGroupResponse {
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	resp.MemberID = r.MemberID
	fail := func(code int16) *kmsg.JoinGroupResponse {
		resp.ErrorCode = code
		return resp
	}
	if !g.supportsProtocols(r.MemberID, r.ProtocolType, r.Protocols) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	if r.MemberID == "" {
		if r.InstanceID != nil {
			if old := g.mu.members[g.mu.static[*r.InstanceID]]; old != nil {
				return g.replaceStatic(c, old, r, f)
			}
		}
		id := newMemberID(clientIDOf(f), r.InstanceID)
		if r.Version >= 4 && r.InstanceID == nil {
			// Kafka's "member id required": the client rejoins with this id,
			// so a client that never comes back leaves no member behind.
			g.mu.pending[id] = g.afterFunc(msDuration(r.SessionTimeoutMillis), func() {
				delete(g.mu.pending, id)
			})
			resp.MemberID = id
			return fail(kerr.MemberIDRequired.Code)
		}
		m := g.newMember(c, id, r, f)
		g.addMember(m)
		g.joinRebalance(c, m, r, f)
		return nil
	}
	if code := g.checkInstance(r.InstanceID, r.MemberID); code != 0 {
		return fail(code)
	}
	if t, ok := g.mu.pending[r.MemberID]; ok {
		t.Stop()
		delete(g.mu.pending, r.MemberID)
		m := g.newMember(c, r.MemberID, r, f)
		g.addMember(m)
		g.joinRebalance(c, m, r, f)
		return nil
	}
	m := g.mu.members[r.MemberID]
	if m == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	same := sameProtocols(m.protocols, r.Protocols)
	switch {
	case g.mu.state == groupCompletingRebalance && same,
		g.mu.state == groupStable && same && m.id != g.mu.leader:
		g.touch(m)
		g.fillJoin(m, resp)
		return resp
	}
	g.gc.a.log.Debug("group member rejoins", "group", g.name, "member", m.id, "state", g.mu.state, "same", same, "leader", m.id == g.mu.leader)
	m.session, m.rebalance = msDuration(r.SessionTimeoutMillis), rebalanceTimeoutOf(r)
	m.protocols = r.Protocols
	m.clientID, m.clientHost = clientIDOf(f), clientHost(c)
	g.joinRebalance(c, m, r, f)
	return nil
}

// joinRebalance parks m's JoinGroup and starts (or advances) a rebalance.
func (g *group) joinRebalance(c *conn, m *member, r *kmsg.JoinGroupRequest, f *inflight) {
	if g.mu.state == groupEmpty || len(g.mu.members) == 1 {
		g.mu.protocolType = r.ProtocolType
	}
	if m.join != nil {
		// The same member joined again before the first answer: the
		// earlier request is superseded.
		m.join.answer(groupErrorResponse(m.join.req, kerr.RebalanceInProgress.Code))
	}
	m.joined = true
	var w *waiter
	w = g.park(c, r, f, func() {
		if m.join == w {
			m.join = nil
		}
	})
	m.join = w
	g.prepareRebalance()
}

// replaceStatic gives a static member that rejoins with an empty member id
// a new member id in place of its old one (KIP-345).
func (g *group) replaceStatic(c *conn, old *member, r *kmsg.JoinGroupRequest, f *inflight) *kmsg.JoinGroupResponse {
	m := g.newMember(c, newMemberID(clientIDOf(f), r.InstanceID), r, f)
	m.assignment = old.assignment
	wasLeader := g.mu.leader == old.id
	g.removeMember(old, kerr.FencedInstanceID.Code)
	g.addMember(m)
	m.seq = old.seq // keeps its place in the leader order
	m.syncedGen = old.syncedGen
	if wasLeader {
		g.mu.leader = m.id
	}
	g.gc.a.log.Info("static group member replaced", "group", g.name, "instance", *r.InstanceID, "old", old.id, "new", m.id, "state", g.mu.state)
	// As in Kafka, the rejoin needs no rebalance as long as the group
	// would keep its protocol: the member's metadata may differ (a
	// restarted cooperative consumer no longer lists owned partitions),
	// and it gets its old assignment back.
	if g.mu.state == groupStable && g.selectProtocol() == g.mu.protocol {
		g.save()
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		g.fillJoin(m, resp)
		resp.SkipAssignment = m.id == g.mu.leader
		return resp
	}
	g.joinRebalance(c, m, r, f)
	return nil
}

func (g *group) newMember(c *conn, id string, r *kmsg.JoinGroupRequest, f *inflight) *member {
	return &member{
		id: id, instanceID: r.InstanceID, clientID: clientIDOf(f), clientHost: clientHost(c),
		session: msDuration(r.SessionTimeoutMillis), rebalance: rebalanceTimeoutOf(r),
		protocols: r.Protocols,
	}
}

func rebalanceTimeoutOf(r *kmsg.JoinGroupRequest) time.Duration {
	if r.Version == 0 || r.RebalanceTimeoutMillis <= 0 {
		return msDuration(r.SessionTimeoutMillis)
	}
	return msDuration(r.RebalanceTimeoutMillis)
}

func clientIDOf(f *inflight) string {
	if f.hdr.ClientID == nil {
		return ""
	}
	return *f.hdr.ClientID
}
