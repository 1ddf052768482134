package kafka

// FindCoordinator v0-v5.
//
//   - Key type 0 (group): the group's coordinator by rendezvous hashing of
//     the group name over the live agents (coordinatorFor): its node id,
//     address on the listener the client connected to (an agent without
//     that listener: COORDINATOR_NOT_AVAILABLE).
//   - Key type 1 (transaction): the transactional id's coordinator, by the
//     same hashing of TxnKey(id). Other key types: INVALID_REQUEST.
//   - An empty key is INVALID_REQUEST.
//   - v4+ batch several keys (CoordinatorKeys); each gets its own answer.
//
// The group coordinator itself is package group; newGroupCoordinator
// wires it to this agent.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleFindCoordinator(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.FindCoordinatorRequest)
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	find := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		out := kmsg.NewFindCoordinatorResponseCoordinator()
		out.Key = key
		out.NodeID, out.Port = -1, -1
		var msg string
		switch {
		case r.CoordinatorType != 0 && r.CoordinatorType != 1:
			out.ErrorCode = kerr.InvalidRequest.Code
			msg = "unknown coordinator key type"
		case key == "":
			out.ErrorCode = kerr.InvalidRequest.Code
			msg = "empty key"
		default:
			place := key
			if r.CoordinatorType == 1 {
				place = TxnKey(key)
			}
			co := srv.coordinatorFor(place)
			host, port, ok := srv.addr(c.ctx, co, c.lst.Name)
			if !ok {
				out.ErrorCode = kerr.CoordinatorNotAvailable.Code
				msg = "the coordinator has no listener " + c.lst.Name
				break
			}
			out.NodeID, out.Host, out.Port = co.NodeID, host, port
			return out
		}
		out.ErrorMessage = &msg
		return out
	}
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, find(key))
		}
		f.finish(resp)
		return
	}
	one := find(r.CoordinatorKey)
	resp.ErrorCode, resp.ErrorMessage = one.ErrorCode, one.ErrorMessage
	resp.NodeID, resp.Host, resp.Port = one.NodeID, one.Host, one.Port
	f.finish(resp)
}

// ConsumerTopics decodes the topics of consumer protocol member metadata
// (group.Config.ConsumerTopics).
func ConsumerTopics(metadata []byte) ([]string, error) {
	var md kmsg.ConsumerMemberMetadata
	if err := md.ReadFrom(metadata); err != nil {
		return nil, err
	}
	return md.Topics, nil
}
