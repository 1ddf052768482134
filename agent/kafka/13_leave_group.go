package kafka

// LeaveGroup v0-v5.
//
//   - v0-v2 name one member id; v3+ a batch of members, each by member id
//     and/or group.instance.id (a static member leaves by its instance id;
//     an instance id whose member id is not the given one is
//     FENCED_INSTANCE_ID). Each member's outcome is reported on its own
//     (v3+); v0-v2 carry it as the top-level error.
//   - UNKNOWN_MEMBER_ID for members the group does not know. A member
//     that was told MEMBER_ID_REQUIRED and never joined is forgotten.
//   - Each departure starts a rebalance; the last member leaving makes the
//     group Empty (and a new generation).
//   - Reason (v5) is ignored.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleLeaveGroup(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.LeaveGroupRequest)
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := r.Members
	if r.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID}}
	}
	lr := group.LeaveRequest{Group: r.Group}
	for _, lm := range leaving {
		lr.Members = append(lr.Members, group.LeavingMember{MemberID: lm.MemberID, InstanceID: lm.InstanceID})
	}
	out := c.srv.groups.Leave(c.ctx, lr)
	if out.Err != nil {
		resp.ErrorCode = groupErrorCode(out.Err)
		f.finish(resp)
		return
	}
	if r.Version < 3 {
		resp.ErrorCode = groupErrorCode(out.Members[0])
		f.finish(resp)
		return
	}
	for i, lm := range leaving {
		om := kmsg.NewLeaveGroupResponseMember()
		om.MemberID, om.InstanceID, om.ErrorCode = lm.MemberID, lm.InstanceID, groupErrorCode(out.Members[i])
		resp.Members = append(resp.Members, om)
	}
	f.finish(resp)
}
