package kafka

// ListGroups v0-v5.
//
//   - Every group this agent knows: those in the metastore and those with
//     members in memory, each with its protocol type; its state (v4+) and
//     type "classic" (v5+).
//   - StatesFilter (v4+) keeps groups in the named states (any case);
//     TypesFilter (v5+) keeps classic groups only if it names "classic":
//     there are no KIP-848 "consumer" groups.
//   - A group stored with members but not yet loaded (after a restart) is
//     listed as PreparingRebalance, which it is once loaded.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleListGroups(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.ListGroupsRequest)
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	listed, err := c.srv.groups.List(c.ctx, group.ListRequest{States: r.StatesFilter})
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		f.finish(resp)
		return
	}
	classic := len(r.TypesFilter) == 0
	for _, t := range r.TypesFilter {
		classic = classic || strings.EqualFold(t, "classic")
	}
	if !classic {
		f.finish(resp)
		return
	}
	for _, l := range listed {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = l.Name, l.ProtocolType, string(l.State), "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	f.finish(resp)
}
