package kafka

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
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleHeartbeat(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.HeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = groupErrorCode(c.srv.groups.Heartbeat(c.ctx, group.HeartbeatRequest{
		Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, Generation: r.Generation,
	}))
	f.finish(resp)
}
