package partlog

import "errors"

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
	ErrTransactional  = errors.New("partlog: transactional producers are not supported")
	ErrInvalidRecord  = errors.New("partlog: invalid record batch")
	ErrStorage        = errors.New("partlog: local storage error")
)
