package partlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/record"
)

// maxDecompressedBatch bounds decompression of one batch.
const maxDecompressedBatch = 256 << 20

// Appended is the outcome of an Append.
type Appended struct {
	// BaseOffset is the first offset of the request's batches (of the
	// original batch for a retried duplicate); -1 if none.
	BaseOffset int64
	// LogAppendTime is the broker timestamp for LogAppendTime topics, -1
	// otherwise.
	LogAppendTime int64
	// LastOffset is the last offset appended or answered as a duplicate;
	// -1 when nothing was.
	LastOffset int64
	// Epoch is the partition's epoch the batches were appended under.
	Epoch int32
	// Syncs complete when the appended batches are fsynced.
	Syncs []*wal.Sync
}

// Append validates a request's record batches and appends them, whole or
// not at all: checks sequences for idempotent producers, assigns offsets,
// stamps LogAppendTime when the topic asks for it, and queues the batches
// in the write-ahead buffer. Append takes ownership of records (offsets are
// rewritten in place).
func (p *Partition) Append(records []byte, nowMs int64) (Appended, error) {
	res := Appended{BaseOffset: -1, LogAppendTime: -1, LastOffset: -1}
	r := p.reg
	settings := p.topic.Settings()
	if r.buffered.Load() >= r.cfg.BufferBytes {
		r.Kick()
		return res, ErrBufferFull
	}
	// Validate everything before touching the partition.
	var batches [][]byte
	var headers []record.Header
	for rest := records; len(rest) > 0; {
		b, next, err := record.Next(rest)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
		}
		rest = next
		if len(b) > int(settings.MaxMessageBytes) {
			return res, fmt.Errorf("%w: batch of %d bytes, max.message.bytes is %d", ErrTooLarge, len(b), settings.MaxMessageBytes)
		}
		h, err := record.Validate(b)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
		}
		if h.Control() {
			return res, fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
		}
		if h.Transactional() && h.ProducerID < 0 {
			return res, fmt.Errorf("%w: a transactional batch without a producer id", ErrInvalidRecord)
		}
		recs, err := record.Records(b, maxDecompressedBatch)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
		}
		if settings.Compact {
			for i, rec := range recs {
				if rec.Key == nil {
					return res, fmt.Errorf("%s/%d: %w", p.topic.name, p.index, &RecordError{Index: int32(i), Err: ErrKeyless})
				}
			}
		}
		batches = append(batches, b)
		headers = append(headers, h)
	}
	if len(batches) == 0 {
		return res, fmt.Errorf("%w: no record batch", ErrInvalidRecord)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.state != Owned || p.topic.Deleted() {
		return res, ErrNotOwner
	}
	if settings.LogAppendTime {
		res.LogAppendTime = nowMs
	}
	res.Epoch = p.mu.epoch
	var appended int64
	for i, b := range batches {
		h := headers[i]
		if h.ProducerID >= 0 {
			dup, err := checkSequence(p.mu.producers[h.ProducerID], h)
			if err != nil {
				return res, err
			}
			if dup != nil {
				if res.BaseOffset < 0 {
					res.BaseOffset = dup.BaseOffset
				}
				if settings.LogAppendTime {
					res.LogAppendTime = dup.Timestamp
				}
				// With acks=-1 the retry waits for the original batch to
				// be committed, like any other append.
				res.LastOffset = max(res.LastOffset, dup.LastOffset)
				continue
			}
		}
		h.BaseOffset = p.mu.nextOffset
		record.SetBaseOffset(b, h.BaseOffset)
		record.SetPartitionLeaderEpoch(b, p.mu.epoch)
		if settings.LogAppendTime {
			record.SetLogAppendTime(b, nowMs)
			h.MaxTimestamp = nowMs
		}
		p.mu.nextOffset = h.LastOffset() + 1
		if h.ProducerID >= 0 {
			p.trackTxnLocked(h.ProducerID, h, ApplyBatch(p.mu.producers, b, h, nowMs))
		}
		res.Syncs = append(res.Syncs, r.wal.Append(wal.Entry{TopicID: p.topic.id, Partition: p.index, Epoch: p.mu.epoch, Batch: b}))
		res.LastOffset = h.LastOffset()
		if res.BaseOffset < 0 {
			res.BaseOffset = h.BaseOffset
		}
		appended += int64(len(b))
		r.metrics.produceRecords.Add(float64(h.NumRecords))
		r.metrics.produceBatches.Inc()
	}
	r.metrics.produceBytes.Add(float64(appended))
	p.addBuffered(appended)
	if appended > 0 {
		r.Kick() // the flush policy decides on every append
	}
	return res, nil
}

// AwaitDurable waits for the durability acks asks for: the fsync of the
// write-ahead buffer (acks=1), and also the commit to object storage and
// the metastore (acks=-1). A ctx deadline is ErrTimeout; a canceled ctx
// (the connection closed, or the agent is stopping) ErrShuttingDown.
func (p *Partition) AwaitDurable(ctx context.Context, a Appended, acks int16) error {
	for _, s := range a.Syncs {
		if err := s.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return ctxErr(ctx)
			}
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	if acks != -1 {
		return nil
	}
	for {
		changed := p.reg.HWMChanged()
		// Once the epoch has changed, the offsets waited for may have been
		// assigned to other records: never acknowledge them.
		st := p.Status()
		if st.Epoch != a.Epoch {
			return ErrNotOwner
		}
		if st.HighWatermark > a.LastOffset {
			return nil
		}
		if !st.Serving {
			return ErrNotOwner
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrShuttingDown
}
