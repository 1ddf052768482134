package kafka

// InitProducerId v0-v5, for idempotent producers.
//
//   - Without a transactional id: a new producer id (from the metastore,
//     never reused) with epoch 0. With a producer id and epoch (KIP-360,
//     v3+), the same id with the epoch bumped, or a new id once the epoch
//     would overflow.
//   - With a transactional id (answered by its coordinator, else
//     NOT_COORDINATOR): the id's producer id, with the epoch bumped so
//     every older producer of the id is fenced; an ongoing transaction is
//     aborted first (CONCURRENT_TRANSACTIONS until its markers are
//     written; the client retries). A new id gets a new producer id.
//     transaction.timeout.ms must be in (0, --transaction-max-timeout-ms]
//     (INVALID_TRANSACTION_TIMEOUT). v3+ with a producer id and epoch
//     (KIP-360) must name the id's current or previous pair
//     (PRODUCER_FENCED).

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleInitProducerID(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	switch {
	case r.TransactionalID != nil && !srv.coordinatesTxn(*r.TransactionalID):
		resp.ErrorCode = kerr.NotCoordinator.Code
	case r.TransactionalID != nil:
		pid, epoch, err := srv.txns.InitProducerID(c.ctx, *r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch)
		resp.ErrorCode = txnErrorCode(err)
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	case r.ProducerID >= 0 && r.ProducerEpoch >= 0 && r.ProducerEpoch < math.MaxInt16-1:
		resp.ProducerID, resp.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
	default:
		id, err := srv.meta.NextProducerID(c.ctx)
		if err != nil {
			srv.log.Error("allocate producer id", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			break
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
	}
	f.finish(resp)
}
