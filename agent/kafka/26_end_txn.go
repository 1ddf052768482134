package kafka

// EndTxn v0-v5: commits or aborts the producer's transaction. The
// decision, a pending marker for every partition of the transaction and
// the fate of its staged offsets are written to the metastore in one
// transaction; the answer does not wait for the markers (the partitions'
// owners write them), but the transactional id answers
// CONCURRENT_TRANSACTIONS to its next transaction until they are all
// committed. v5 (KIP-890) bumps the producer epoch and returns the new
// id and epoch; a retried v5 EndTxn is recognised by the previous pair.
// Ending a transaction already ended the same way answers success;
// the other way, or with nothing open, INVALID_TXN_STATE.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleEndTxn(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.EndTxnRequest)
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if !c.srv.coordinatesTxn(r.TransactionalID) {
		resp.ErrorCode = kerr.NotCoordinator.Code
		f.finish(resp)
		return
	}
	pid, epoch, err := c.srv.txns.EndTxn(c.ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit, r.Version >= 5)
	resp.ErrorCode = txnErrorCode(err)
	if err == nil && r.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	f.finish(resp)
}
