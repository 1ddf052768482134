package agent

// Heartbeat v0-v4.
//
//   - Extends the member's session. UNKNOWN_MEMBER_ID for a member the
//     group does not know (including after its session expired),
//     FENCED_INSTANCE_ID (v3+) for a static member's stale member id,
//     ILLEGAL_GENERATION for another generation.
//   - REBALANCE_IN_PROGRESS while the group waits for joins: this is how
//     members learn to rejoin, including members restored from the
//     metastore after the coordinator restarted.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleHeartbeat(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.HeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		f.finish(resp)
		return
	}
	g, err := c.a.groups().lock(c.ctx, r.Group)
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		f.finish(resp)
		return
	}
	defer g.unlock()
	resp.ErrorCode = g.heartbeat(r)
	f.finish(resp)
}

func (g *group) heartbeat(r *kmsg.HeartbeatRequest) int16 {
	if code := g.checkInstance(r.InstanceID, r.MemberID); code != 0 {
		return code
	}
	m := g.mu.members[r.MemberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case r.Generation != g.mu.generation:
		return kerr.IllegalGeneration.Code
	}
	g.touch(m)
	switch g.mu.state {
	case groupPreparingRebalance:
		return kerr.RebalanceInProgress.Code
	case groupCompletingRebalance, groupStable:
		return 0
	default:
		return kerr.UnknownMemberID.Code
	}
}
