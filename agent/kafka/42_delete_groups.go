package kafka

// DeleteGroups v0-v2.
//
//   - Deletes each group's state and committed offsets from the metastore.
//   - A group with members (or members still joining) is NON_EMPTY_GROUP;
//     an unknown group GROUP_ID_NOT_FOUND; an empty group id
//     INVALID_GROUP_ID. Each group is answered on its own.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDeleteGroups(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.DeleteGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range r.Groups {
		out := kmsg.NewDeleteGroupsResponseGroup()
		out.Group = name
		out.ErrorCode = groupErrorCode(c.srv.groups.Delete(c.ctx, name))
		resp.Groups = append(resp.Groups, out)
	}
	f.finish(resp)
}
