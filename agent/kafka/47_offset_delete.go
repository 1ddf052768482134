package kafka

// OffsetDelete v0.
//
//   - Deletes a group's committed offsets for the given partitions.
//   - An unknown group is GROUP_ID_NOT_FOUND. A group with members that
//     does not use the consumer protocol is NON_EMPTY_GROUP; with consumer
//     members, partitions of topics they subscribe to are
//     GROUP_SUBSCRIBED_TO_TOPIC and the rest are deleted.
//   - Unknown topics or partitions are UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleOffsetDelete(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.OffsetDeleteRequest)
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	dr := group.DeleteOffsetsRequest{Group: r.Group}
	exists := make([][]bool, len(r.Topics))
	for i, rt := range r.Topics {
		t := c.srv.topicByName(rt.Topic)
		tp := group.TopicPartitions{Topic: rt.Topic}
		exists[i] = make([]bool, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			if exists[i][j] = t.Partition(rp.Partition) != nil; exists[i][j] {
				tp.Partitions = append(tp.Partitions, rp.Partition)
			}
		}
		dr.Topics = append(dr.Topics, tp)
	}
	out := c.srv.groups.DeleteOffsets(c.ctx, dr)
	if out.Err != nil {
		resp.ErrorCode = groupErrorCode(out.Err)
		f.finish(resp)
		return
	}
	for i, rt := range r.Topics {
		ot := kmsg.NewOffsetDeleteResponseTopic()
		ot.Topic = rt.Topic
		k := 0 // next of out.Topics[i], the partitions that exist
		for j, rp := range rt.Partitions {
			op := kmsg.NewOffsetDeleteResponseTopicPartition()
			op.Partition = rp.Partition
			if !exists[i][j] {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				op.ErrorCode = groupErrorCode(out.Topics[i][k])
				k++
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}
