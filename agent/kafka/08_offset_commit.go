package kafka

// OffsetCommit v0-v9.
//
//   - Commits from a group member are checked against the group: an
//     unknown member is UNKNOWN_MEMBER_ID, a static member's stale id
//     FENCED_INSTANCE_ID (v7+), another generation ILLEGAL_GENERATION, and
//     a group between its join and sync phases REBALANCE_IN_PROGRESS.
//     Commits are accepted while the group waits for joins (members commit
//     before they rejoin), and extend the member's session.
//   - Simple commits (generation -1, empty member id; always so for v0)
//     are accepted while the group has no members (admin tools, consumers
//     that assign partitions themselves) and create the group if needed.
//   - Unknown topics or partitions are UNKNOWN_TOPIC_OR_PARTITION and
//     metadata over 4096 bytes OFFSET_METADATA_TOO_LARGE, per partition; a
//     failed group check answers every partition with its code.
//   - Offsets, leader epoch (v6+; -1 before) and metadata are written to
//     the metastore in one transaction before the answer; the retention
//     time (v2-v4) and the commit timestamp (v1) are ignored.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func handleOffsetCommit(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.OffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	gr := group.CommitRequest{Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, Generation: r.Generation}
	codes := make([][]int16, len(r.Topics))
	type at struct{ topic, part int }
	var sent []at // gr.Offsets[k] is r.Topics[sent[k].topic].Partitions[sent[k].part]
	for i, rt := range r.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		t := c.srv.topicByName(rt.Topic)
		for j, rp := range rt.Partitions {
			if t.Partition(rp.Partition) == nil {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			epoch := rp.LeaderEpoch
			if r.Version < 6 {
				epoch = -1
			}
			gr.Offsets = append(gr.Offsets, group.CommitOffset{
				Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: epoch, Metadata: rp.Metadata,
			})
			sent = append(sent, at{i, j})
		}
	}
	out := c.srv.groups.CommitOffsets(c.ctx, gr)
	if out.Err != nil {
		code := groupErrorCode(out.Err)
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = code
			}
		}
	} else {
		for k, err := range out.Offsets {
			codes[sent[k].topic][sent[k].part] = groupErrorCode(err)
		}
	}
	for i, rt := range r.Topics {
		ot := kmsg.NewOffsetCommitResponseTopic()
		ot.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			op := kmsg.NewOffsetCommitResponseTopicPartition()
			op.Partition, op.ErrorCode = rp.Partition, codes[i][j]
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}
