package kafka

// DescribeTransactions v0: each transactional id's state, timeout, start
// time, producer id and epoch and partitions, answered by the id's
// coordinator (NOT_COORDINATOR elsewhere; TRANSACTIONAL_ID_NOT_FOUND for
// an unknown id).

import (
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleDescribeTransactions(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.DescribeTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range r.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		if !c.srv.coordinatesTxn(id) {
			st.ErrorCode = kerr.NotCoordinator.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		t, err := c.srv.txns.Describe(c.ctx, id)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
		case err != nil:
			st.ErrorCode = txnErrorCode(err)
		default:
			st.State, st.TimeoutMillis = string(t.State), t.TimeoutMs
			st.ProducerID, st.ProducerEpoch = t.ProducerID, t.ProducerEpoch
			if !t.StartTime.IsZero() {
				st.StartTimestamp = t.StartTime.UnixMilli()
			}
			byTopic := map[string][]int32{}
			for _, p := range t.Partitions {
				byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
			}
			names := make([]string, 0, len(byTopic))
			for n := range byTopic {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				tp := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				tp.Topic, tp.Partitions = n, byTopic[n]
				st.Topics = append(st.Topics, tp)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	f.finish(resp)
}
