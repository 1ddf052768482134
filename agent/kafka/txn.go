package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/txn"
)

// Transactions: what the transaction handlers (22, 24-26, 28, 65, 66)
// share. The coordinator of a transactional id is placed like a group
// coordinator, by rendezvous hashing of TxnKey(id) over the live agents.

// TxnKey is the placement key of a transactional id.
func TxnKey(id string) string { return "txn/" + id }

func (srv *Server) txnCoordinator(id string) metastore.Agent {
	return srv.own.CoordinatorFor(TxnKey(id))
}

func (srv *Server) coordinatesTxn(id string) bool { return srv.own.Coordinates(TxnKey(id)) }

// resolvePartition is the transaction coordinator's view of the catalog.
func (srv *Server) resolvePartition(topic string, partition int32) (metastore.TopicID, bool) {
	return srv.reg.Resolve(topic, partition)
}

// txnErrorCode maps an outcome of the transaction coordinator to a Kafka
// error code.
func txnErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNotTxnCoordinator), errors.Is(err, context.Canceled):
		return kerr.NotCoordinator.Code
	case errors.Is(err, txn.ErrInvalidTimeout):
		return kerr.InvalidTransactionTimeout.Code
	case errors.Is(err, txn.ErrConcurrent):
		return kerr.ConcurrentTransactions.Code
	case errors.Is(err, txn.ErrFenced):
		return kerr.ProducerFenced.Code
	case errors.Is(err, txn.ErrInvalidMapping):
		return kerr.InvalidProducerIDMapping.Code
	case errors.Is(err, txn.ErrInvalidState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, txn.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, txn.ErrInvalidRequest):
		return kerr.InvalidRequest.Code
	default: // the metastore, deadlines: retriable
		return kerr.CoordinatorNotAvailable.Code
	}
}

var errNotTxnCoordinator = errors.New("agent: another agent coordinates this transactional id")
