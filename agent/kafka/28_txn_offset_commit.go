package kafka

// TxnOffsetCommit v0-v5, sent to the group's coordinator.
//
//   - The group is checked first as OffsetCommit checks it (v3+ name a
//     member and generation: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
//     FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS); this agent must
//     coordinate the group (NOT_COORDINATOR).
//   - Then the transaction, in the metastore: the producer's pair must be
//     the transactional id's (PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING)
//     and the group in its ongoing transaction (INVALID_TXN_STATE; v5,
//     KIP-890 part 2, adds it instead). The offsets are staged: they
//     become the group's committed offsets when the transaction commits
//     and vanish if it aborts; until then OffsetFetch with RequireStable
//     answers UNSTABLE_OFFSET_COMMIT for them.
//   - Unknown partitions: UNKNOWN_TOPIC_OR_PARTITION, per partition;
//     metadata over 4096 bytes OFFSET_METADATA_TOO_LARGE.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

// maxTxnOffsetMetadata is offset.metadata.max.bytes.
const maxTxnOffsetMetadata = 4096

func handleTxnOffsetCommit(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.TxnOffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	codes := make([][]int16, len(r.Topics))
	var offsets []metastore.GroupOffset
	type at struct{ topic, part int }
	var sent []at
	now := time.Now()
	for i, rt := range r.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		t := srv.topicByName(rt.Topic)
		for j, rp := range rt.Partitions {
			switch {
			case t.Partition(rp.Partition) == nil:
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			case rp.Metadata != nil && len(*rp.Metadata) > maxTxnOffsetMetadata:
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
			default:
				epoch := rp.LeaderEpoch
				if r.Version < 2 {
					epoch = -1
				}
				offsets = append(offsets, metastore.GroupOffset{Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset,
					LeaderEpoch: epoch, Metadata: rp.Metadata, CommitTime: now})
				sent = append(sent, at{i, j})
			}
		}
	}
	generation, member := int32(-1), ""
	if r.Version >= 3 {
		generation, member = r.Generation, r.MemberID
	}
	code := groupErrorCode(srv.groups.CheckTxnCommit(c.ctx, r.Group, member, r.InstanceID, generation))
	if code == 0 && len(offsets) > 0 {
		code = txnErrorCode(srv.txns.TxnOffsets(c.ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group, offsets, r.Version >= 5))
	}
	if code != 0 {
		for _, s := range sent {
			codes[s.topic][s.part] = code
		}
	}
	for i, rt := range r.Topics {
		ot := kmsg.NewTxnOffsetCommitResponseTopic()
		ot.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			op := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			op.Partition, op.ErrorCode = rp.Partition, codes[i][j]
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}
