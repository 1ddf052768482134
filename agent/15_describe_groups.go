package agent

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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
		if name == "" {
			out.ErrorCode = kerr.InvalidGroupID.Code
			resp.Groups = append(resp.Groups, out)
			continue
		}
		g, err := c.a.groups().lock(c.ctx, name)
		if err != nil {
			out.ErrorCode = groupErrorCode(err)
			resp.Groups = append(resp.Groups, out)
			continue
		}
		g.describe(&out)
		g.unlock()
		resp.Groups = append(resp.Groups, out)
	}
	f.finish(resp)
}

func (g *group) describe(out *kmsg.DescribeGroupsResponseGroup) {
	if !g.exists() {
		out.State = groupDead
		return
	}
	out.State = g.mu.state
	out.ProtocolType = g.mu.protocolType
	stable := g.mu.state == groupStable
	if stable {
		out.Protocol = g.mu.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			for _, p := range m.protocols {
				if p.Name == g.mu.protocol {
					dm.ProtocolMetadata = p.Metadata
				}
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		out.Members = append(out.Members, dm)
	}
}
