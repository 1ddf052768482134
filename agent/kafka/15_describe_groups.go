package kafka

// DescribeGroups v0-v5.
//
//   - Each group's state, protocol type and members (member id, instance
//     id v4+, client id, client host). As in Kafka, a Stable group also
//     reports its protocol and each member's metadata for it and its
//     assignment; other states report neither.
//   - An unknown group is reported with state Dead and no error (Kafka's
//     answer before v6). An empty group id is INVALID_GROUP_ID.
//   - Authorized operations (v3+, when asked): READ, DELETE and DESCRIBE;
//     there are no ACLs.

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// authorizedGroupOps is the bitfield of group operations (READ, DELETE,
// DESCRIBE) reported when DescribeGroups asks; there are no ACLs.
const authorizedGroupOps = 1<<3 | 1<<6 | 1<<8

// noAuthorizedOps is what Kafka reports when they are not asked for.
const noAuthorizedOps = math.MinInt32

func handleDescribeGroups(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.DescribeGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range r.Groups {
		out := kmsg.NewDescribeGroupsResponseGroup()
		out.Group = name
		out.AuthorizedOperations = noAuthorizedOps
		if r.IncludeAuthorizedOperations {
			out.AuthorizedOperations = authorizedGroupOps
		}
		d := c.srv.groups.Describe(c.ctx, name)
		out.ErrorCode = groupErrorCode(d.Err)
		out.State, out.ProtocolType, out.Protocol = string(d.State), d.ProtocolType, d.Protocol
		for _, m := range d.Members {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			dm.ProtocolMetadata, dm.MemberAssignment = m.Metadata, m.Assignment
			out.Members = append(out.Members, dm)
		}
		resp.Groups = append(resp.Groups, out)
	}
	f.finish(resp)
}
