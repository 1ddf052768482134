package partlog

import (
	"errors"
	"fmt"
)

// Conditions of the partition log; the request layer maps each to a Kafka
// error code in one place.
var (
	ErrNotOwner       = errors.New("partlog: partition not owned by this agent")
	ErrBufferFull     = errors.New("partlog: write buffer full, uploads behind")
	ErrTooLarge       = errors.New("partlog: record batch larger than max.message.bytes")
	ErrOutOfOrder     = errors.New("partlog: out of order sequence number")
	ErrProducerFenced = errors.New("partlog: producer epoch fenced")
	ErrTimeout        = errors.New("partlog: timed out waiting for durability")
	ErrShuttingDown   = errors.New("partlog: shutting down")
	ErrInvalidRecord  = errors.New("partlog: invalid record batch")
	ErrStorage        = errors.New("partlog: local storage error")
	// ErrKeyless: a record without a key sent to a compacted topic
	// (Kafka's INVALID_RECORD); the error is a *RecordError.
	ErrKeyless = errors.New("compacted topic cannot accept a record without a key")
)

// RecordError is the fault of one record of a request's batches: Index
// counts the records of its batch from 0 (Kafka's batch_index).
type RecordError struct {
	Index int32
	Err   error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d: %v", e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }
