package kafka

// Fetch v4-v16 (topic IDs from v13).
//
//   - Serves offsets below the high watermark only: everything returned is
//     in object storage and indexed, so it can never vanish or be
//     renumbered.
//   - MaxWaitMillis/MinBytes long-poll, woken whenever a flush advances a
//     high watermark. MaxBytes and PartitionMaxBytes are honoured, except
//     that the first batch of the first non-empty partition is returned
//     whole even if larger (as Kafka does, so consumers make progress).
//   - OFFSET_OUT_OF_RANGE for offsets before the log start offset or past
//     the log end offset, with the partition's log start and high
//     watermark filled in.
//   - CurrentLeaderEpoch (v9+): FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH.
//   - read_uncommitted reads up to the high watermark; read_committed up
//     to the last stable offset (the first offset of the earliest
//     transaction still open), with the aborted transactions that overlap
//     the records returned, from the partition's aborted-transaction
//     index.
//   - Fetch sessions (KIP-227) are not kept: every answer has session id 0,
//     which tells clients to send full fetch requests.

import (
	"time"

	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleFetch(c *conn, req kmsg.Request, f *inflight) {
	go c.srv.serveFetch(c, req.(*kmsg.FetchRequest), f)
}

func (srv *Server) serveFetch(c *conn, r *kmsg.FetchRequest, f *inflight) {
	deadline := time.Now().Add(time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		changed := srv.reg.HWMChanged()
		resp, total, failed := srv.buildFetch(c, r)
		if failed || total >= int(r.MinBytes) || !time.Now().Before(deadline) {
			srv.metrics.fetchBytes.Add(float64(total))
			f.finish(resp)
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			// Read once more: the deadline has passed now.
		case <-c.ctx.Done():
			f.finish(resp)
			return
		}
	}
}

// buildFetch reads every requested partition once. failed reports an
// error on some partition (the client should see it at once).
func (srv *Server) buildFetch(c *conn, r *kmsg.FetchRequest) (*kmsg.FetchResponse, int, bool) {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(r.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}
	total := 0
	failed := false
	for _, rt := range r.Topics {
		var t *partlog.Topic
		if r.Version >= 13 {
			t = srv.topicByID(metastore.TopicID(rt.TopicID))
		} else {
			t = srv.topicByName(rt.Topic)
		}
		respT := kmsg.NewFetchResponseTopic()
		respT.Topic, respT.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			out := kmsg.NewFetchResponseTopicPartition()
			out.Partition = rp.Partition
			// Never null: librdkafka rejects a null record set ("invalid
			// MessageSetSize -1"); Kafka sends an empty one.
			out.RecordBatches = []byte{}
			p := t.Partition(rp.Partition)
			switch {
			case p == nil && t == nil && r.Version >= 13:
				out.ErrorCode = kerr.UnknownTopicID.Code
			case p == nil:
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				limit := min(int(rp.PartitionMaxBytes), maxBytes-total)
				if rp.PartitionMaxBytes <= 0 {
					limit = maxBytes - total
				}
				if total == 0 {
					limit = max(limit, 1) // first non-empty partition: at least one batch
				}
				srv.fetchPartition(c, p, rp, limit, r.IsolationLevel == 1, &out)
			}
			if out.ErrorCode != 0 {
				failed = true
			}
			total += len(out.RecordBatches)
			respT.Partitions = append(respT.Partitions, out)
		}
		resp.Topics = append(resp.Topics, respT)
	}
	return resp, total, failed
}

func (srv *Server) fetchPartition(c *conn, p *partlog.Partition, rp kmsg.FetchRequestTopicPartition, limit int, committed bool, out *kmsg.FetchResponseTopicPartition) {
	st := p.Status()
	lso := p.LastStable()
	epoch, end, hwm, start := st.Epoch, st.LogEnd, st.HighWatermark, st.LogStart
	out.HighWatermark, out.LastStableOffset, out.LogStartOffset = st.HighWatermark, min(lso, st.HighWatermark), start
	if committed {
		hwm = min(hwm, lso)
	}
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
	case rp.FetchOffset < start || rp.FetchOffset > end:
		out.ErrorCode = kerr.OffsetOutOfRange.Code
		return
	case rp.FetchOffset >= hwm || limit <= 0:
		return
	}
	data, err := p.Read(c.ctx, rp.FetchOffset, limit, hwm)
	if err != nil && len(data) == 0 {
		if c.ctx.Err() == nil {
			srv.log.Warn("fetch read failed", "topic", p.Topic().Name(), "partition", p.Index(), "offset", rp.FetchOffset, "err", err)
		}
		out.ErrorCode = kerr.KafkaStorageError.Code
		return
	}
	if data != nil {
		out.RecordBatches = data
	}
	if committed && len(data) > 0 {
		aborted, err := p.AbortedIn(c.ctx, rp.FetchOffset, lastOffsetIn(data))
		if err != nil {
			srv.log.Warn("fetch aborted transactions", "topic", p.Topic().Name(), "partition", p.Index(), "err", err)
			out.ErrorCode, out.RecordBatches = kerr.KafkaStorageError.Code, []byte{}
			return
		}
		for _, a := range aborted {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
			out.AbortedTransactions = append(out.AbortedTransactions, at)
		}
	}
}

// lastOffsetIn is the last offset of the batches in data.
func lastOffsetIn(data []byte) int64 {
	last := int64(-1)
	for rest := data; len(rest) > 0; {
		b, next, err := record.Next(rest)
		if err != nil {
			break
		}
		if h, err := record.ParseHeader(b); err == nil {
			last = h.LastOffset()
		}
		rest = next
	}
	return last
}
