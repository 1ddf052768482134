package kafka

// AddOffsetsToTxn v0-v4: adds a consumer group to the producer's
// transaction (starting it if none is open), so TxnOffsetCommit may then
// stage the group's offsets. Errors as AddPartitionsToTxn; an empty group
// id is INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleAddOffsetsToTxn(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.AddOffsetsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if !c.srv.coordinatesTxn(r.TransactionalID) {
		resp.ErrorCode = kerr.NotCoordinator.Code
	} else {
		resp.ErrorCode = txnErrorCode(c.srv.txns.AddOffsets(c.ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group))
	}
	f.finish(resp)
}
