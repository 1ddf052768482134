package kafka

// AddPartitionsToTxn v0-v5.
//
//   - v0-v3 (producers): adds the partitions to the producer's
//     transaction, starting it if none is open. This agent must
//     coordinate the transactional id (else NOT_COORDINATOR). A
//     transaction still completing answers CONCURRENT_TRANSACTIONS; a
//     stale epoch PRODUCER_FENCED; a producer id the transactional id does
//     not hold INVALID_PRODUCER_ID_MAPPING. An unknown partition answers
//     UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED:
//     nothing is added.
//   - v4+ (the batched form brokers send): each transaction of the batch
//     is answered on its own; VerifyOnly checks that the partitions are
//     already in the ongoing transaction instead of adding them, each
//     partition answered on its own (INVALID_TXN_STATE for one that is
//     not).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleAddPartitionsToTxn(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	// add answers one transaction: a code per partition, in request order.
	add := func(id string, pid int64, epoch int16, verify bool, topics map[string][]int32, order []string) map[string][]int16 {
		codes := map[string][]int16{}
		fill := func(code int16) {
			for _, t := range order {
				codes[t] = make([]int16, len(topics[t]))
				for i := range codes[t] {
					codes[t][i] = code
				}
			}
		}
		if !srv.coordinatesTxn(id) {
			fill(kerr.NotCoordinator.Code)
			return codes
		}
		var parts []metastore.TxnPartition
		unknown := false
		for _, t := range order {
			for _, p := range topics[t] {
				if _, ok := srv.resolvePartition(t, p); !ok {
					unknown = true
				}
				parts = append(parts, metastore.TxnPartition{Topic: t, Partition: p})
			}
		}
		if unknown {
			for _, t := range order {
				codes[t] = make([]int16, len(topics[t]))
				for i, p := range topics[t] {
					codes[t][i] = kerr.OperationNotAttempted.Code
					if _, ok := srv.resolvePartition(t, p); !ok {
						codes[t][i] = kerr.UnknownTopicOrPartition.Code
					}
				}
			}
			return codes
		}
		if verify {
			// Each partition is answered on its own, as Kafka does.
			for _, t := range order {
				codes[t] = make([]int16, len(topics[t]))
				for i, p := range topics[t] {
					codes[t][i] = txnErrorCode(srv.txns.Verify(c.ctx, id, pid, epoch, t, p, false))
				}
			}
			return codes
		}
		fill(txnErrorCode(srv.txns.AddPartitions(c.ctx, id, pid, epoch, parts)))
		return codes
	}
	if r.Version <= 3 {
		topics, order := txnTopics(len(r.Topics), func(i int) (string, []int32) { return r.Topics[i].Topic, r.Topics[i].Partitions })
		codes := add(r.TransactionalID, r.ProducerID, r.ProducerEpoch, false, topics, order)
		for _, t := range order {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t
			for i, p := range topics[t] {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[t][i]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		f.finish(resp)
		return
	}
	for _, tx := range r.Transactions {
		topics, order := txnTopics(len(tx.Topics), func(i int) (string, []int32) { return tx.Topics[i].Topic, tx.Topics[i].Partitions })
		codes := add(tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, topics, order)
		out := kmsg.NewAddPartitionsToTxnResponseTransaction()
		out.TransactionalID = tx.TransactionalID
		for _, t := range order {
			rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			rt.Topic = t
			for i, p := range topics[t] {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[t][i]
				rt.Partitions = append(rt.Partitions, rp)
			}
			out.Topics = append(out.Topics, rt)
		}
		resp.Transactions = append(resp.Transactions, out)
	}
	f.finish(resp)
}

// txnTopics merges a request's n topics (at(i) names the i-th and its
// partitions; a topic may be named twice) in first-seen order.
func txnTopics(n int, at func(i int) (string, []int32)) (map[string][]int32, []string) {
	topics, order := map[string][]int32{}, []string(nil)
	for i := range n {
		t, ps := at(i)
		if _, ok := topics[t]; !ok {
			order = append(order, t)
		}
		topics[t] = append(topics[t], ps...)
	}
	return topics, order
}
