package kafka

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
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleSyncGroup(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.SyncGroupRequest)
	sr := group.SyncRequest{
		Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, Generation: r.Generation,
		ProtocolType: r.ProtocolType, Protocol: r.Protocol,
	}
	for _, a := range r.GroupAssignment {
		sr.Assignments = append(sr.Assignments, group.Assignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	c.srv.groups.Sync(c.ctx, sr, func(out group.SyncResponse) {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = groupErrorCode(out.Err)
		if out.Err == nil {
			pt, p := out.ProtocolType, out.Protocol
			resp.ProtocolType, resp.Protocol = &pt, &p
			resp.MemberAssignment = out.Assignment
		}
		f.finish(resp)
	})
}
