package kafka

// OffsetFetch v0-v9.
//
//   - Committed offsets come from the metastore: offset, leader epoch (v5+)
//     and metadata. A partition with no committed offset answers offset
//     -1, leader epoch -1 and empty metadata, without an error.
//   - A null topic list (v2+) means every partition the group has
//     committed.
//   - v8+ batch several groups, each answered on its own; the member id
//     and epoch of v9 (for KIP-848 groups) are ignored. RequireStable (v7+)
//     needs no waiting: there are no transactional offset commits.
//   - An empty group id is INVALID_GROUP_ID; a metastore failure
//     COORDINATOR_NOT_AVAILABLE (top-level from v2, per partition before).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleOffsetFetch(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.OffsetFetchRequest)
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	gc := c.srv.groups
	if r.Version >= 8 {
		for _, rg := range r.Groups {
			fr := group.FetchRequest{Group: rg.Group}
			if rg.Topics != nil {
				fr.Topics = []group.TopicPartitions{}
				for _, rt := range rg.Topics {
					fr.Topics = append(fr.Topics, group.TopicPartitions{Topic: rt.Topic, Partitions: rt.Partitions})
				}
			}
			got := gc.FetchOffsets(c.ctx, fr)
			og := kmsg.NewOffsetFetchResponseGroup()
			og.Group, og.ErrorCode = rg.Group, groupErrorCode(got.Err)
			for _, ft := range got.Topics {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = ft.Topic
				for _, fp := range ft.Partitions {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition, op.Offset, op.LeaderEpoch, op.Metadata = fp.Partition, fp.Offset, fp.LeaderEpoch, fp.Metadata
					ot.Partitions = append(ot.Partitions, op)
				}
				og.Topics = append(og.Topics, ot)
			}
			resp.Groups = append(resp.Groups, og)
		}
		f.finish(resp)
		return
	}
	fr := group.FetchRequest{Group: r.Group}
	if r.Topics != nil || r.Version < 2 {
		fr.Topics = []group.TopicPartitions{}
		for _, rt := range r.Topics {
			fr.Topics = append(fr.Topics, group.TopicPartitions{Topic: rt.Topic, Partitions: rt.Partitions})
		}
	}
	got := gc.FetchOffsets(c.ctx, fr)
	code := groupErrorCode(got.Err)
	if r.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, ft := range got.Topics {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = ft.Topic
		for _, fp := range ft.Partitions {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch, op.Metadata = fp.Partition, fp.Offset, fp.LeaderEpoch, fp.Metadata
			// Every version carries the error per partition as well (the
			// only place before v2).
			op.ErrorCode = code
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}
