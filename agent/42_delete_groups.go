package agent

// DeleteGroups v0-v2.
//
//   - Deletes each group's state and committed offsets from the metastore.
//   - A group with members (or members still joining) is NON_EMPTY_GROUP;
//     an unknown group GROUP_ID_NOT_FOUND; an empty group id
//     INVALID_GROUP_ID. Each group is answered on its own.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleDeleteGroups(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.DeleteGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range r.Groups {
		out := kmsg.NewDeleteGroupsResponseGroup()
		out.Group = name
		out.ErrorCode = c.a.deleteGroup(c, name)
		resp.Groups = append(resp.Groups, out)
	}
	f.finish(resp)
}

func (a *Agent) deleteGroup(c *conn, name string) int16 {
	if name == "" {
		return kerr.InvalidGroupID.Code
	}
	g, err := a.groups().lock(c.ctx, name)
	if err != nil {
		return groupErrorCode(err)
	}
	defer g.unlock()
	switch {
	case len(g.mu.members) > 0 || len(g.mu.pending) > 0:
		return kerr.NonEmptyGroup.Code
	case !g.mu.persisted:
		return kerr.GroupIDNotFound.Code
	}
	if err := a.meta.DeleteGroup(c.ctx, name); err != nil && !errors.Is(err, metastore.ErrNotFound) {
		a.log.Warn("delete group", "group", name, "err", err)
		return groupErrorCode(err)
	}
	g.stopTimers()
	g.setState(groupDead)
	g.mu.persisted = false
	g.mu.removed = true
	g.gc.mu.Lock()
	if g.gc.mu.groups[name] == g {
		delete(g.gc.mu.groups, name)
	}
	g.gc.mu.Unlock()
	return 0
}
