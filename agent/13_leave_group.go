package agent

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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleLeaveGroup(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.LeaveGroupRequest)
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := r.Members
	if r.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID}}
	}
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
	for _, lm := range leaving {
		out := kmsg.NewLeaveGroupResponseMember()
		out.MemberID, out.InstanceID = lm.MemberID, lm.InstanceID
		out.ErrorCode = g.leave(lm)
		resp.Members = append(resp.Members, out)
	}
	if r.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	f.finish(resp)
}

func (g *group) leave(lm kmsg.LeaveGroupRequestMember) int16 {
	id := lm.MemberID
	if lm.InstanceID != nil {
		known, ok := g.mu.static[*lm.InstanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case id != "" && id != known:
			return kerr.FencedInstanceID.Code
		}
		id = known
	}
	if t, ok := g.mu.pending[id]; ok {
		t.Stop()
		delete(g.mu.pending, id)
		return 0
	}
	m := g.mu.members[id]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	g.gc.a.log.Debug("group member left", "group", g.name, "member", id)
	g.removeMember(m, kerr.UnknownMemberID.Code)
	g.prepareRebalance()
	return 0
}
