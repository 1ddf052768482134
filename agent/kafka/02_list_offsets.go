package kafka

// ListOffsets v1-v8.
//
//   - -2 (earliest): the log start offset; -1 (latest): the high
//     watermark, or under read_committed (IsolationLevel 1, v2+) the last
//     stable offset; -3 (max timestamp, v7+): the offset and timestamp of the
//     record with the largest timestamp; -4 (earliest local, v8+): the log
//     start offset, since every offset is equally "local" to object storage.
//   - T >= 0: the first offset whose record timestamp is >= T, found via the
//     log index's per-row max timestamps and then a scan of the
//     candidate batches' records, correct across objects; offset -1 and
//     timestamp -1 if no record qualifies.
//   - Only offsets below the high watermark are ever reported.
//   - CurrentLeaderEpoch (v4+): FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH.

import (
	"context"
	"github.com/stratalog/strata/partlog"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleListOffsets(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		t := srv.topicByName(rt.Topic)
		respT := kmsg.NewListOffsetsResponseTopic()
		respT.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			out := kmsg.NewListOffsetsResponseTopicPartition()
			out.Partition = rp.Partition
			if p := t.Partition(rp.Partition); p == nil {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				srv.listOffset(c.ctx, p, rp, r.IsolationLevel == 1, &out)
			}
			respT.Partitions = append(respT.Partitions, out)
		}
		resp.Topics = append(resp.Topics, respT)
	}
	f.finish(resp)
}

func (srv *Server) listOffset(ctx context.Context, p *partlog.Partition, rp kmsg.ListOffsetsRequestTopicPartition, committed bool, out *kmsg.ListOffsetsResponseTopicPartition) {
	st := p.Status()
	epoch := st.Epoch
	switch {
	case !st.Serving:
		out.ErrorCode = kerr.NotLeaderForPartition.Code
		return
	case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < epoch:
		out.ErrorCode = kerr.FencedLeaderEpoch.Code
		return
	case rp.CurrentLeaderEpoch > epoch:
		out.ErrorCode = kerr.UnknownLeaderEpoch.Code
		return
	}
	out.LeaderEpoch = epoch
	switch ts := rp.Timestamp; {
	case ts == -2 || ts == -4:
		out.Offset, out.Timestamp = p.LogStart(), -1
	case ts == -1 && committed:
		out.Offset, out.Timestamp = p.LastStable(), -1
	case ts == -1:
		out.Offset, out.Timestamp = p.HighWatermark(), -1
	case ts == -3:
		if p.HighWatermark() <= p.LogStart() {
			out.Offset, out.Timestamp = -1, -1
			return
		}
		off, t, ok, err := p.MaxTimestamp(ctx)
		srv.setFound(out, off, t, ok, err, p)
	case ts >= 0:
		off, t, ok, err := p.FindTimestamp(ctx, ts)
		srv.setFound(out, off, t, ok, err, p)
	default:
		out.ErrorCode = kerr.InvalidRequest.Code
	}
}

func (srv *Server) setFound(out *kmsg.ListOffsetsResponseTopicPartition, off, ts int64, ok bool, err error, p *partlog.Partition) {
	switch {
	case err != nil:
		srv.log.Warn("list offsets by timestamp failed", "topic", p.Topic().Name(), "partition", p.Index(), "err", err)
		out.ErrorCode = kerr.KafkaStorageError.Code
	case ok:
		out.Offset, out.Timestamp = off, ts
	default:
		out.Offset, out.Timestamp = -1, -1
	}
}
