package agent

// SyncGroup v0-v5.
//
//   - UNKNOWN_MEMBER_ID for a member the group does not know,
//     FENCED_INSTANCE_ID (v3+) for a static member's stale member id,
//     ILLEGAL_GENERATION for another generation, and (v5) a protocol type
//     or name other than the group's INCONSISTENT_GROUP_PROTOCOL.
//   - While the group waits for joins: REBALANCE_IN_PROGRESS.
//   - After a rebalance, every member's SyncGroup waits (off the
//     connection's reader) for the leader's; the leader's assignment is
//     then handed to each member byte for byte (an empty assignment for a
//     member the leader left out) and the group is Stable. Members that
//     do not sync within the rebalance timeout are dropped and the group
//     rebalances.
//   - In a Stable group the member's current assignment is answered at
//     once.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleSyncGroup(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.SyncGroupRequest)
	if r.Group == "" {
		f.finish(groupErrorResponse(r, kerr.InvalidGroupID.Code))
		return
	}
	g, err := c.a.groups().lock(c.ctx, r.Group)
	if err != nil {
		f.finish(groupErrorResponse(r, groupErrorCode(err)))
		return
	}
	defer g.unlock()
	if resp := g.sync(c, r, f); resp != nil {
		f.finish(resp)
	}
}

// sync runs a SyncGroup with the group locked; nil when parked.
func (g *group) sync(c *conn, r *kmsg.SyncGroupRequest, f *inflight) kmsg.Response {
	if code := g.checkInstance(r.InstanceID, r.MemberID); code != 0 {
		return groupErrorResponse(r, code)
	}
	m := g.mu.members[r.MemberID]
	switch {
	case m == nil:
		return groupErrorResponse(r, kerr.UnknownMemberID.Code)
	case r.Generation != g.mu.generation:
		return groupErrorResponse(r, kerr.IllegalGeneration.Code)
	case r.ProtocolType != nil && *r.ProtocolType != g.mu.protocolType,
		r.Protocol != nil && *r.Protocol != g.mu.protocol:
		return groupErrorResponse(r, kerr.InconsistentGroupProtocol.Code)
	}
	switch g.mu.state {
	case groupPreparingRebalance:
		return groupErrorResponse(r, kerr.RebalanceInProgress.Code)
	case groupStable:
		g.touch(m)
		return g.syncAnswer(m, r)
	case groupCompletingRebalance:
	default:
		return groupErrorResponse(r, kerr.UnknownMemberID.Code)
	}
	if m.sync != nil {
		m.sync.answer(groupErrorResponse(m.sync.req, kerr.RebalanceInProgress.Code))
	}
	m.syncedGen = g.mu.generation
	var w *waiter
	w = g.park(c, r, f, func() {
		if m.sync == w {
			m.sync = nil
		}
	})
	m.sync = w
	g.touch(m)
	if m.id != g.mu.leader {
		return nil
	}
	for _, om := range g.mu.members {
		om.assignment = []byte{}
	}
	for _, a := range r.GroupAssignment {
		if om := g.mu.members[a.MemberID]; om != nil {
			om.assignment = a.MemberAssignment
		}
	}
	if g.mu.syncTimer != nil {
		g.mu.syncTimer.Stop()
		g.mu.syncTimer = nil
	}
	g.setState(groupStable)
	g.save()
	for _, om := range g.mu.members {
		if om.sync != nil {
			om.sync.answer(g.syncAnswer(om, om.sync.req.(*kmsg.SyncGroupRequest)))
			om.sync = nil
		}
	}
	return nil
}

func (g *group) syncAnswer(m *member, r *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	pt, p := g.mu.protocolType, g.mu.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}
