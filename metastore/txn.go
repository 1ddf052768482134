package metastore

import (
	"context"
	"time"
)

// TxnState is a transactional id's state, as Kafka names them.
type TxnState string

const (
	TxnEmpty          TxnState = "Empty"
	TxnOngoing        TxnState = "Ongoing"
	TxnPrepareCommit  TxnState = "PrepareCommit"
	TxnPrepareAbort   TxnState = "PrepareAbort"
	TxnCompleteCommit TxnState = "CompleteCommit"
	TxnCompleteAbort  TxnState = "CompleteAbort"
)

// TxnPartition is a partition of a transaction, by topic name as Kafka
// names it.
type TxnPartition struct {
	Topic     string `json:"t"`
	Partition int32  `json:"p"`
}

// Txn is a transactional id's durable state: the transaction
// coordinator's one record of it. Every change is a compare-and-swap on
// Version, so any agent may make one.
type Txn struct {
	ID            string
	ProducerID    int64
	ProducerEpoch int16
	// LastProducerID/LastProducerEpoch are what the producer held before
	// the last epoch bump (-1 if none): a retried EndTxn v5 or
	// InitProducerId from them is recognised.
	LastProducerID    int64
	LastProducerEpoch int16
	State             TxnState
	TimeoutMs         int32
	// StartTime is when the ongoing transaction began (zero when none).
	StartTime  time.Time
	UpdateTime time.Time
	Partitions []TxnPartition
	Groups     []string
	// LastCommit tells whether the last finished transaction committed
	// (EndTxn retries are answered by it).
	LastCommit bool
	// CoordinatorEpoch counts the transaction ends of this id; each end's
	// markers carry it, so a partition writes each marker once.
	CoordinatorEpoch int32
	Version          int64
}

// TxnMarker is a commit or abort marker still to be written into a
// partition's log by the partition's owner.
type TxnMarker struct {
	TopicID          TopicID
	Partition        int32
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	TransactionalID  string
}

// MarkerDone is a marker a flush committed: its pending row goes in the
// same transaction.
type MarkerDone struct {
	ProducerID       int64
	CoordinatorEpoch int32
}

// AbortedTxn is one entry of a partition's aborted-transaction index: the
// producer's aborted records lie in [FirstOffset, LastOffset], LastOffset
// being the abort marker's offset.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// Transactions is transaction coordinator state: transactional ids,
// markers still to write, pending transactional offset commits, and each
// partition's aborted-transaction index (written by CommitFlush, see
// PartitionCommit.Aborted).
type Transactions interface {
	// Txn returns a transactional id's state. ErrNotFound if absent.
	Txn(ctx context.Context, id string) (Txn, error)
	// Txns lists every transactional id, ordered by id.
	Txns(ctx context.Context) ([]Txn, error)
	// PutTxn stores t if the stored version is prev (0: no row may
	// exist), and returns it with Version prev+1. ErrConflict otherwise.
	PutTxn(ctx context.Context, t Txn, prev int64) (Txn, error)
	// EndTxn is PutTxn (t in PrepareCommit or PrepareAbort) and, in the
	// same transaction, inserts the markers (replacing any older marker
	// of the same partition and producer) and moves the id's pending
	// offsets into their groups' committed offsets (commit) or deletes
	// them (abort).
	EndTxn(ctx context.Context, t Txn, prev int64, markers []TxnMarker) (Txn, error)
	// TxnMarkersLeft counts the id's markers not yet committed.
	TxnMarkersLeft(ctx context.Context, id string) (int, error)
	// OwnedTxnMarkers lists markers of partitions agentID owns.
	OwnedTxnMarkers(ctx context.Context, agentID string) ([]TxnMarker, error)
	// AddTxnOffsets stores pending offsets of id's ongoing transaction
	// for group, provided the id's stored version is still version
	// (ErrConflict otherwise). A later commit of the same partition
	// replaces an earlier one.
	AddTxnOffsets(ctx context.Context, id string, version int64, group string, offsets []GroupOffset) error
	// PendingTxnOffsets lists the partitions of group with offsets
	// pending in some transaction.
	PendingTxnOffsets(ctx context.Context, group string) ([]TxnPartition, error)
	// AbortedTxns returns the partition's aborted transactions whose
	// marker is at or after fromOffset, ordered by marker offset.
	AbortedTxns(ctx context.Context, id TopicID, partition int32, fromOffset int64) ([]AbortedTxn, error)
}
