package kafka

// ListTransactions v0-v2: the transactional ids this agent coordinates,
// filtered by state (StateFilters), producer id (ProducerIDFilters),
// running time (v1+, DurationFilterMillis: ongoing for longer) and id
// pattern (v2+, a regular expression). An unknown state filter is listed
// in UnknownStateFilters; a bad pattern is INVALID_REQUEST.

import (
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

var txnStates = []metastore.TxnState{metastore.TxnEmpty, metastore.TxnOngoing, metastore.TxnPrepareCommit,
	metastore.TxnPrepareAbort, metastore.TxnCompleteCommit, metastore.TxnCompleteAbort}

func handleListTransactions(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.ListTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	var states []string
	for _, s := range r.StateFilters {
		if slices.Contains(txnStates, metastore.TxnState(s)) {
			states = append(states, s)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	var pattern *regexp.Regexp
	if r.Version >= 2 && r.TransactionalIDPattern != nil && *r.TransactionalIDPattern != "" {
		var err error
		if pattern, err = regexp.Compile(*r.TransactionalIDPattern); err != nil {
			resp.ErrorCode = kerr.InvalidRequest.Code
			f.finish(resp)
			return
		}
	}
	all, err := c.srv.txns.List(c.ctx, c.srv.coordinatesTxn)
	if err != nil {
		resp.ErrorCode = txnErrorCode(err)
		f.finish(resp)
		return
	}
	now := time.Now()
	for _, t := range all {
		switch {
		case len(r.StateFilters) > 0 && !slices.Contains(states, string(t.State)),
			len(r.ProducerIDFilters) > 0 && !slices.Contains(r.ProducerIDFilters, t.ProducerID),
			r.Version >= 1 && r.DurationFilterMillis >= 0 &&
				(t.State != metastore.TxnOngoing || now.Sub(t.StartTime).Milliseconds() <= r.DurationFilterMillis),
			pattern != nil && !pattern.MatchString(t.ID):
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = t.ID, t.ProducerID, string(t.State)
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	f.finish(resp)
}
