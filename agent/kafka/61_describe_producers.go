package kafka

// DescribeProducers v0: the producers with state on each partition (id,
// epoch, last sequence, last append time, the coordinator epoch of the
// last marker written for it and the first offset of its open
// transaction, -1 when none is open).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDescribeProducers(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range r.Topics {
		t := srv.topicByName(rt.Topic)
		out := kmsg.NewDescribeProducersResponseTopic()
		out.Topic = rt.Topic
		for _, i := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = i
			p := t.Partition(i)
			switch st := p.Status(); {
			case p == nil:
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !st.Serving:
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				for _, ps := range p.Producers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch = ps.ProducerID, int32(ps.Epoch)
					ap.LastSequence = -1
					if n := len(ps.Batches); n > 0 {
						ap.LastSequence = ps.Batches[n-1].LastSeq
					}
					ap.LastTimestamp = ps.LastTimestamp
					ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = ps.MarkerEpoch, -1
					if ps.TxnOpen {
						ap.CurrentTxnStartOffset = ps.TxnFirstOffset
					}
					op.ActiveProducers = append(op.ActiveProducers, ap)
				}
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	f.finish(resp)
}
