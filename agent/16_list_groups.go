package agent

// ListGroups v0-v5.
//
//   - Every group this agent coordinates (all groups, for now): those in
//     the metastore and those with members, each with its protocol type;
//     its state (v4+) and type "classic" (v5+).
//   - StatesFilter (v4+) keeps groups in the named states (any case);
//     TypesFilter (v5+) keeps classic groups only if it names "classic":
//     there are no KIP-848 "consumer" groups.
//   - A group stored with members but not yet loaded (after a restart) is
//     listed as PreparingRebalance, which it is once loaded.

import (
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleListGroups(c *conn, req kmsg.Request, f *inflight) {
	a := c.a
	r := req.(*kmsg.ListGroupsRequest)
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	gc := a.groups()
	type entry struct{ protocolType, state string }
	seen := map[string]entry{}
	stored, err := a.meta.Groups(c.ctx)
	if err != nil {
		a.log.Warn("list groups", "err", err)
		resp.ErrorCode = groupErrorCode(err)
		f.finish(resp)
		return
	}
	for _, sg := range stored {
		state := groupEmpty
		if len(sg.Members) > 0 {
			state = groupPreparingRebalance
		}
		seen[sg.Name] = entry{sg.ProtocolType, state}
	}
	for _, name := range gc.names() {
		g := gc.peek(name)
		if g == nil {
			continue
		}
		g.mu.Lock()
		if g.mu.loaded && !g.mu.removed && g.exists() {
			seen[name] = entry{g.mu.protocolType, g.mu.state}
		}
		g.mu.Unlock()
	}
	states := map[string]bool{}
	for _, s := range r.StatesFilter {
		states[strings.ToLower(s)] = true
	}
	classic := len(r.TypesFilter) == 0
	for _, t := range r.TypesFilter {
		classic = classic || strings.EqualFold(t, "classic")
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := seen[n]
		if !classic || len(states) > 0 && !states[strings.ToLower(e.state)] {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = n, e.protocolType, e.state, "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	f.finish(resp)
}
