package agent

// Produce v3-v12 (record batches, magic v2 only).
//
//   - acks 0, 1 and -1. acks=0 gets no response. acks=1 is answered once
//     the batch is fsynced in the write-ahead buffer; acks=-1 once the
//     batch's object is uploaded and its index committed (the high
//     watermark covers it). Other values: INVALID_REQUIRED_ACKS.
//   - Every batch is validated (length, magic 2, CRC32C, codec, records
//     decodable) → CORRUPT_MESSAGE; larger than the topic's
//     max.message.bytes → MESSAGE_TOO_LARGE. Batches are stored as produced
//     (any codec); only the base offset, partition leader epoch and, for
//     message.timestamp.type=LogAppendTime, the timestamps are rewritten.
//   - Idempotent producers: per-partition sequence checks over the last 5
//     batches; a retried batch is answered with its original offset, a gap
//     with OUT_OF_ORDER_SEQUENCE_NUMBER, a stale epoch with
//     INVALID_PRODUCER_EPOCH.
//   - Transactional produce (a transactional id, or transactional batches)
//     is not supported: TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
//   - When uploads fall behind by BufferBytes: KAFKA_STORAGE_ERROR
//     (retriable) until they catch up.
//   - A failure on one partition sets that partition's code only.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/record"
)

// appendResult is one partition's outcome of the ordered append phase.
type appendResult struct {
	p          *partition
	rp         *kmsg.ProduceResponseTopicPartition
	syncs      []*wal.Sync
	lastOffset int64 // last offset appended; -1 when nothing new was appended
	err        error
}

func handleProduce(c *conn, req kmsg.Request, f *inflight) {
	a := c.a
	r := req.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	var reqErr error
	switch {
	case r.TransactionID != nil:
		reqErr = errTransactional
	case r.Acks != 0 && r.Acks != 1 && r.Acks != -1:
		reqErr = errInvalidAcks
	}
	now := time.Now().UnixMilli()
	var results []*appendResult
	for _, rt := range r.Topics {
		t := a.topicByName(rt.Topic)
		respT := kmsg.NewProduceResponseTopic()
		respT.Topic = rt.Topic
		respT.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rpReq := range rt.Partitions {
			rp := &respT.Partitions[i]
			*rp = kmsg.NewProduceResponseTopicPartition()
			rp.Partition = rpReq.Partition
			res := &appendResult{rp: rp, lastOffset: -1}
			switch p := t.partition(rpReq.Partition); {
			case reqErr != nil:
				res.err = reqErr
			case p == nil:
				res.err = errUnknownTopic
			default:
				res.p = p
				a.appendBatches(p, rpReq.Records, now, res)
			}
			results = append(results, res)
		}
		resp.Topics = append(resp.Topics, respT)
	}
	if r.Acks == 0 {
		// Kafka sends nothing for acks=0; appends are in order already.
		f.finish(nil)
		return
	}
	needWait := false
	for _, res := range results {
		if res.needsWait(r.Acks) {
			needWait = true
		} else {
			finishProduceResult(res)
		}
	}
	if !needWait {
		f.finish(resp)
		return
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		defer cancel()
		for _, res := range results {
			if res.needsWait(r.Acks) {
				res.err = a.awaitDurable(ctx, res, r.Acks)
				finishProduceResult(res)
			}
		}
		f.finish(resp)
	}()
}

func (res *appendResult) needsWait(acks int16) bool {
	return res.err == nil && (len(res.syncs) > 0 || (acks == -1 && res.lastOffset >= 0))
}

var errInvalidAcks = errors.New("agent: acks must be -1, 0 or 1")

func finishProduceResult(res *appendResult) {
	if res.err != nil {
		res.rp.ErrorCode = produceErrorCode(res.err)
		msg := res.err.Error()
		res.rp.ErrorMessage = &msg
		res.rp.BaseOffset = -1
		res.rp.LogAppendTime = -1
	}
	if res.p != nil {
		res.rp.LogStartOffset = res.p.logStart.Load()
	}
}

func produceErrorCode(err error) int16 {
	if errors.Is(err, errInvalidAcks) {
		return kerr.InvalidRequiredAcks.Code
	}
	return errorCode(err)
}

// appendBatches is the ordered phase: validate, check sequences, assign
// offsets and append to the write-ahead buffer, all under the partition
// lock so the buffer holds each partition's batches in offset order.
func (a *Agent) appendBatches(p *partition, records []byte, nowMs int64, res *appendResult) {
	rp := res.rp
	settings := p.topic.settings()
	if a.buffered.Load() >= a.cfg.BufferBytes {
		a.kickFlush()
		res.err = errBufferFull
		return
	}
	// Validate everything before touching the partition: a request is
	// appended whole or not at all.
	var batches [][]byte
	var headers []record.Header
	for rest := records; len(rest) > 0; {
		b, r, err := record.Next(rest)
		if err != nil {
			res.err = fmt.Errorf("%w: %v", errInvalidRecord, err)
			return
		}
		rest = r
		if len(b) > int(settings.maxMessageBytes) {
			res.err = fmt.Errorf("%w: batch of %d bytes, max.message.bytes is %d", errTooLarge, len(b), settings.maxMessageBytes)
			return
		}
		h, err := record.Validate(b)
		if err != nil {
			res.err = fmt.Errorf("%w: %v", errInvalidRecord, err)
			return
		}
		if h.Transactional() || h.Control() {
			res.err = errTransactional
			return
		}
		if _, err := record.Records(b, maxDecompressedBatch); err != nil {
			res.err = fmt.Errorf("%w: %v", errInvalidRecord, err)
			return
		}
		batches = append(batches, b)
		headers = append(headers, h)
	}
	if len(batches) == 0 {
		res.err = fmt.Errorf("%w: no record batch", errInvalidRecord)
		return
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.mu.owned || p.topic.deleted.Load() {
		res.err = errNotOwner
		return
	}
	rp.BaseOffset = -1
	rp.LogAppendTime = -1
	if settings.logAppendTime {
		rp.LogAppendTime = nowMs
	}
	var appended int64
	for i, b := range batches {
		h := headers[i]
		if h.ProducerID >= 0 {
			dup, err := checkSequence(p.mu.producers[h.ProducerID], h)
			if err != nil {
				res.err = err
				return
			}
			if dup != nil {
				if rp.BaseOffset < 0 {
					rp.BaseOffset = dup.BaseOffset
				}
				if settings.logAppendTime {
					rp.LogAppendTime = dup.Timestamp
				}
				// With acks=-1 the retry waits for the original batch to
				// be committed, like any other append.
				res.lastOffset = max(res.lastOffset, dup.LastOffset)
				continue
			}
		}
		h.BaseOffset = p.mu.nextOffset
		record.SetBaseOffset(b, h.BaseOffset)
		record.SetPartitionLeaderEpoch(b, p.mu.epoch)
		if settings.logAppendTime {
			record.SetLogAppendTime(b, nowMs)
			h.MaxTimestamp = nowMs
		}
		p.mu.nextOffset = h.LastOffset() + 1
		if h.ProducerID >= 0 {
			recordProducerBatch(p.mu.producers, h, nowMs)
		}
		res.syncs = append(res.syncs, a.wal.Append(wal.Entry{TopicID: p.id, Partition: p.index, Epoch: p.mu.epoch, Batch: b}))
		res.lastOffset = h.LastOffset()
		if rp.BaseOffset < 0 {
			rp.BaseOffset = h.BaseOffset
		}
		appended += int64(len(b))
		a.metrics.produceRecords.Add(float64(h.NumRecords))
		a.metrics.produceBatches.Inc()
	}
	a.metrics.produceBytes.Add(float64(appended))
	p.buffered.Add(appended)
	a.addBuffered(appended)
	if a.wal.OpenBytes() >= a.cfg.FlushBytes {
		a.kickFlush()
	}
}

// awaitDurable waits for the durability acks asks for: the fsync of the
// write-ahead buffer (acks=1), and also the commit to object storage and
// the metastore (acks=-1).
func (a *Agent) awaitDurable(ctx context.Context, res *appendResult, acks int16) error {
	for _, s := range res.syncs {
		if err := s.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return errTimeout
			}
			return fmt.Errorf("%w: %v", errStorage, err)
		}
	}
	if acks != -1 {
		return nil
	}
	p := res.p
	for {
		changed := a.hwmChanged()
		if p.hwm.Load() > res.lastOffset {
			return nil
		}
		if _, owned := p.ownership(); !owned || p.topic.deleted.Load() {
			return errNotOwner
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if a.closing.Load() {
				return errShuttingDown
			}
			return errTimeout
		}
	}
}
