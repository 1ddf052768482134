package kafka

// DeleteRecords v0-v2.
//
//   - Moves a partition's log start offset to Offset (-1 means the high
//     watermark); earlier offsets then answer OFFSET_OUT_OF_RANGE to fetches
//     and ListOffsets earliest returns the new start. The start never moves
//     back (a lower offset is a no-op answering the current start). Offsets
//     above the high watermark are OFFSET_OUT_OF_RANGE. The bytes stay in
//     object storage until retention/compaction (not built) removes them.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleDeleteRecords(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range r.Topics {
		t := srv.topicByName(rt.Topic)
		out := kmsg.NewDeleteRecordsResponseTopic()
		out.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewDeleteRecordsResponseTopicPartition()
			op.Partition = rp.Partition
			op.LowWatermark = -1
			p := t.Partition(rp.Partition)
			switch st := p.Status(); {
			case p == nil:
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !st.Serving:
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				target := rp.Offset
				if target == -1 {
					target = p.HighWatermark()
				}
				if target < 0 || target > p.HighWatermark() {
					op.ErrorCode = kerr.OffsetOutOfRange.Code
					break
				}
				start, err := srv.meta.SetLogStartOffset(c.ctx, p.TopicID(), p.Index(), target)
				if errors.Is(err, metastore.ErrConflict) {
					op.ErrorCode = kerr.OffsetOutOfRange.Code
					break
				}
				if err != nil {
					srv.log.Error("delete records", "topic", rt.Topic, "partition", rp.Partition, "err", err)
					op.ErrorCode = errorCode(err)
					break
				}
				p.RaiseLogStart(start)
				op.LowWatermark = start
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	f.finish(resp)
}
