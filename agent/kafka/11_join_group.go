package kafka

// JoinGroup v0-v9 (the classic group protocol; see package group).
//
//   - An empty group id is INVALID_GROUP_ID; a session timeout outside
//     [6s, 30m] (Kafka's defaults; Config.GroupMinSessionTimeout and
//     GroupMaxSessionTimeout) INVALID_SESSION_TIMEOUT; an empty protocol
//     type or list, or protocols the other members cannot share,
//     INCONSISTENT_GROUP_PROTOCOL. v0 has no rebalance timeout: the
//     session timeout is used.
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
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleJoinGroup(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.JoinGroupRequest)
	jr := group.JoinRequest{
		Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID,
		ClientID: clientIDOf(f), ClientHost: clientHost(c),
		ProtocolType: r.ProtocolType, SessionTimeout: msDuration(r.SessionTimeoutMillis),
		RequireMemberID: r.Version >= 4,
	}
	if r.Version > 0 {
		jr.RebalanceTimeout = msDuration(r.RebalanceTimeoutMillis) // zero or less: the session timeout
	}
	for _, p := range r.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	c.srv.groups.Join(c.ctx, jr, func(out group.JoinResponse) {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = groupErrorCode(out.Err)
		resp.Generation, resp.MemberID = out.Generation, out.MemberID
		if out.Err == nil {
			pt, p := out.ProtocolType, out.Protocol
			resp.ProtocolType, resp.Protocol = &pt, &p
			resp.LeaderID, resp.SkipAssignment = out.LeaderID, out.SkipAssignment
			for _, m := range out.Members {
				jm := kmsg.NewJoinGroupResponseMember()
				jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
				resp.Members = append(resp.Members, jm)
			}
		}
		f.finish(resp)
	})
}

// msDuration converts a client's millisecond timeout (negative: zero).
func msDuration(ms int32) time.Duration {
	if ms < 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

func clientIDOf(f *inflight) string {
	if f.hdr.ClientID == nil {
		return ""
	}
	return *f.hdr.ClientID
}

// clientHost is how Kafka reports a member's host: "/" and its address.
func clientHost(c *conn) string {
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		host = c.nc.RemoteAddr().String()
	}
	return "/" + host
}
