package agent

// DescribeProducers v0: the idempotent producers with state on each
// partition (id, epoch, last sequence, last append time). No transactions,
// so coordinator epoch and transaction start offset are always -1.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDescribeProducers(c *conn, req kmsg.Request, f *inflight) {
	a := c.a
	r := req.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range r.Topics {
		t := a.topicByName(rt.Topic)
		out := kmsg.NewDescribeProducersResponseTopic()
		out.Topic = rt.Topic
		for _, i := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = i
			p := t.partition(i)
			switch _, owned := p.ownership(); {
			case p == nil:
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !owned:
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				p.mu.Lock()
				for pid, e := range p.mu.producers {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch = pid, int32(e.epoch)
					ap.LastSequence = -1
					if n := len(e.batches); n > 0 {
						ap.LastSequence = e.batches[n-1].LastSeq
					}
					ap.LastTimestamp = e.lastTimestamp
					ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, -1
					op.ActiveProducers = append(op.ActiveProducers, ap)
				}
				p.mu.Unlock()
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	f.finish(resp)
}
