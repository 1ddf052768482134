package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/txn"
)

// Internal conditions that map to Kafka error codes. Handlers return these
// (possibly wrapped) and errorCode turns them into wire codes: this is the
// one place where that mapping lives.
var (
	errUnknownTopic = errors.New("agent: unknown topic or partition")
	errShuttingDown = errors.New("agent: shutting down")
)

// errorCode maps an internal error to a Kafka error code.
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, partlog.ErrNotOwner), errors.Is(err, metastore.ErrFenced):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, errUnknownTopic), errors.Is(err, metastore.ErrNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, partlog.ErrBufferFull), errors.Is(err, partlog.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, partlog.ErrTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, partlog.ErrOutOfOrder):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, partlog.ErrProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, partlog.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, partlog.ErrShuttingDown), errors.Is(err, errShuttingDown), errors.Is(err, context.Canceled):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, partlog.ErrKeyless):
		return kerr.InvalidRecord.Code
	case errors.Is(err, txn.ErrFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, txn.ErrInvalidState), errors.Is(err, errTxnIDMissing):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, txn.ErrInvalidMapping):
		return kerr.InvalidProducerIDMapping.Code
	case errors.Is(err, txn.ErrConcurrent):
		return kerr.ConcurrentTransactions.Code
	case errors.Is(err, txn.ErrStore):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, partlog.ErrInvalidRecord), errors.Is(err, record.ErrCorrupt), errors.Is(err, record.ErrBadCRC),
		errors.Is(err, record.ErrTruncated), errors.Is(err, record.ErrUnsupportedMagic), errors.Is(err, record.ErrUnknownCodec):
		return kerr.CorruptMessage.Code
	case errors.Is(err, metastore.ErrConflict):
		return kerr.NotLeaderForPartition.Code
	default:
		return kerr.UnknownServerError.Code
	}
}

// groupErrorCode maps an outcome of the group coordinator (package group)
// to a Kafka error code. Failures of the coordinator itself are retriable
// from the client's side: NOT_COORDINATOR (find the coordinator again)
// when another agent coordinates the group, this one is shutting down or
// the request's connection went away; COORDINATOR_NOT_AVAILABLE when the
// metastore fails.
func groupErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, group.ErrNotCoordinator), errors.Is(err, group.ErrClosed), errors.Is(err, context.Canceled):
		return kerr.NotCoordinator.Code
	case errors.Is(err, group.ErrStore):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, group.ErrInvalidGroupID):
		return kerr.InvalidGroupID.Code
	case errors.Is(err, group.ErrInvalidSessionTimeout):
		return kerr.InvalidSessionTimeout.Code
	case errors.Is(err, group.ErrInconsistentProtocol):
		return kerr.InconsistentGroupProtocol.Code
	case errors.Is(err, group.ErrMemberIDRequired):
		return kerr.MemberIDRequired.Code
	case errors.Is(err, group.ErrUnknownMember):
		return kerr.UnknownMemberID.Code
	case errors.Is(err, group.ErrFencedInstance):
		return kerr.FencedInstanceID.Code
	case errors.Is(err, group.ErrIllegalGeneration):
		return kerr.IllegalGeneration.Code
	case errors.Is(err, group.ErrRebalanceInProgress):
		return kerr.RebalanceInProgress.Code
	case errors.Is(err, group.ErrGroupNotFound):
		return kerr.GroupIDNotFound.Code
	case errors.Is(err, group.ErrNonEmptyGroup):
		return kerr.NonEmptyGroup.Code
	case errors.Is(err, group.ErrSubscribedToTopic):
		return kerr.GroupSubscribedToTopic.Code
	case errors.Is(err, group.ErrOffsetMetadataTooLarge):
		return kerr.OffsetMetadataTooLarge.Code
	default: // deadlines, anything unforeseen: retriable
		return kerr.CoordinatorNotAvailable.Code
	}
}
