package kafka

// CreatePartitions v0-v3.
//
//   - Grows a topic to Count partitions; new partitions are usable at once
//     (this agent owns them). Count at or below the current count is
//     INVALID_PARTITIONS; an unknown topic UNKNOWN_TOPIC_OR_PARTITION; a
//     topic named twice INVALID_REQUEST. Manual assignments must have one
//     entry per new partition (INVALID_REPLICA_ASSIGNMENT); their broker
//     lists are not used. ValidateOnly checks without creating.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partlog"
)

func handleCreatePartitions(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		out := kmsg.NewCreatePartitionsResponseTopic()
		out.Topic = rt.Topic
		fail := func(code int16, format string, args ...any) {
			out.ErrorCode = code
			msg := fmt.Sprintf(format, args...)
			out.ErrorMessage = &msg
		}
		t := srv.topicByName(rt.Topic)
		switch {
		case seen[rt.Topic] > 1:
			fail(kerr.InvalidRequest.Code, "topic %q named more than once", rt.Topic)
		case t == nil:
			fail(kerr.UnknownTopicOrPartition.Code, "topic %q does not exist", rt.Topic)
		case rt.Count <= int32(len(t.Partitions())):
			fail(kerr.InvalidPartitions.Code, "topic %q has %d partitions; the new count %d must be larger", rt.Topic, len(t.Partitions()), rt.Count)
		case rt.Count > 100000:
			fail(kerr.InvalidPartitions.Code, "partition count %d is above the limit of 100000", rt.Count)
		case rt.Assignment != nil && len(rt.Assignment) != int(rt.Count)-len(t.Partitions()):
			fail(kerr.InvalidReplicaAssignment.Code, "%d assignments for %d new partitions", len(rt.Assignment), int(rt.Count)-len(t.Partitions()))
		case r.ValidateOnly:
		default:
			if err := srv.growTopic(c.ctx, t, rt.Count); err != nil {
				srv.log.Error("create partitions", "topic", rt.Topic, "err", err)
				fail(errorCode(err), "%v", err)
			}
		}
		resp.Topics = append(resp.Topics, out)
	}
	f.finish(resp)
}

// growTopic adds partitions up to total, in the metastore and here, and
// claims those this agent should own.
func (srv *Server) growTopic(ctx context.Context, t *partlog.Topic, total int32) error {
	if _, err := srv.meta.AddPartitions(ctx, t.Name(), total); err != nil {
		return err
	}
	return srv.own.ClaimTopic(ctx, t)
}
