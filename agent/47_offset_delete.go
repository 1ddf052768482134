package agent

// OffsetDelete v0.
//
//   - Deletes a group's committed offsets for the given partitions.
//   - An unknown group is GROUP_ID_NOT_FOUND. A group with members that
//     does not use the consumer protocol is NON_EMPTY_GROUP; with consumer
//     members, partitions of topics they subscribe to are
//     GROUP_SUBSCRIBED_TO_TOPIC and the rest are deleted.
//   - Unknown topics or partitions are UNKNOWN_TOPIC_OR_PARTITION.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleOffsetDelete(c *conn, req kmsg.Request, f *inflight) {
	a := c.a
	r := req.(*kmsg.OffsetDeleteRequest)
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		f.finish(resp)
		return
	}
	g, err := a.groups().lock(c.ctx, r.Group)
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		f.finish(resp)
		return
	}
	defer g.unlock()
	if !g.exists() {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		f.finish(resp)
		return
	}
	var subscribed map[string]bool
	if len(g.mu.members) > 0 {
		var ok bool
		subscribed, ok = g.memberSubscriptions()
		if g.mu.protocolType != "consumer" || !ok {
			resp.ErrorCode = kerr.NonEmptyGroup.Code
			f.finish(resp)
			return
		}
	}
	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetDeleteResponseTopic()
		ot.Topic = rt.Topic
		t := a.topicByName(rt.Topic)
		var del []int32
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetDeleteResponseTopicPartition()
			op.Partition = rp.Partition
			switch {
			case t.Partition(rp.Partition) == nil:
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case subscribed[rt.Topic]:
				op.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				del = append(del, rp.Partition)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		if len(del) > 0 {
			if err := a.meta.DeleteGroupOffsets(c.ctx, r.Group, rt.Topic, del); err != nil {
				a.log.Warn("delete group offsets", "group", r.Group, "topic", rt.Topic, "err", err)
				code := groupErrorCode(fmt.Errorf("%w: %v", errGroupStore, err))
				for i := range ot.Partitions {
					if ot.Partitions[i].ErrorCode == 0 {
						ot.Partitions[i].ErrorCode = code
					}
				}
			}
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}
