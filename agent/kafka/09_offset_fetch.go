package kafka

// OffsetFetch v0-v9.
//
//   - Committed offsets come from the metastore: offset, leader epoch (v5+)
//     and metadata. A partition with no committed offset answers offset
//     -1, leader epoch -1 and empty metadata, without an error.
//   - A null topic list (v2+) means every partition the group has
//     committed.
//   - v8+ batch several groups, each answered on its own; the member id
//     and epoch of v9 (for KIP-848 groups) are ignored.
//   - RequireStable (v7+): a partition with a transactional offset commit
//     still pending (its transaction not ended) answers
//     UNSTABLE_OFFSET_COMMIT and offset -1; the client retries.
//   - An empty group id is INVALID_GROUP_ID; a metastore failure
//     COORDINATOR_NOT_AVAILABLE (top-level from v2, per partition before).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/metastore"
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
			pending := c.srv.pendingOffsets(c, rg.Group, r.RequireStable)
			og := kmsg.NewOffsetFetchResponseGroup()
			og.Group, og.ErrorCode = rg.Group, groupErrorCode(got.Err)
			for _, ft := range got.Topics {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = ft.Topic
				for _, fp := range ft.Partitions {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition, op.Offset, op.LeaderEpoch, op.Metadata = fp.Partition, fp.Offset, fp.LeaderEpoch, fp.Metadata
					if pending[metastore.TxnPartition{Topic: ft.Topic, Partition: fp.Partition}] {
						op.Offset, op.ErrorCode = -1, kerr.UnstableOffsetCommit.Code
					}
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
	pending := c.srv.pendingOffsets(c, r.Group, r.Version >= 7 && r.RequireStable)
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
			if pending[metastore.TxnPartition{Topic: ft.Topic, Partition: fp.Partition}] && code == 0 {
				op.Offset, op.ErrorCode = -1, kerr.UnstableOffsetCommit.Code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}

// pendingOffsets is the set of the group's partitions with transactional
// offsets pending, when the request asks for stable offsets (else nil).
// A metastore failure is logged and reads as nothing pending.
func (srv *Server) pendingOffsets(c *conn, group string, requireStable bool) map[metastore.TxnPartition]bool {
	if !requireStable || group == "" {
		return nil
	}
	ps, err := srv.meta.PendingTxnOffsets(c.ctx, group)
	if err != nil {
		srv.log.Warn("pending transactional offsets", "group", group, "err", err)
		return nil
	}
	out := make(map[metastore.TxnPartition]bool, len(ps))
	for _, p := range ps {
		out[p] = true
	}
	return out
}
