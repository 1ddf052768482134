package kafka

// InitProducerId v0-v5, for idempotent producers.
//
//   - Without a transactional id: a new producer id (from the metastore,
//     never reused) with epoch 0. With a producer id and epoch (KIP-360,
//     v3+), the same id with the epoch bumped, or a new id once the epoch
//     would overflow.
//   - Transactions are not supported: a transactional id answers
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED.

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
	case r.TransactionalID != nil:
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
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
