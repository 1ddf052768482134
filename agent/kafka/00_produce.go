package kafka

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
//   - Transactional batches need the request's transactional id. The
//     first batch of a producer's transaction on a partition is checked
//     with the transaction coordinator's record (KIP-890 part 1): the
//     partition must be in the producer's ongoing transaction
//     (INVALID_TXN_STATE otherwise; PRODUCER_FENCED-style stale epochs
//     INVALID_PRODUCER_EPOCH); v12 (part 2) adds it instead. Control
//     batches from clients are CORRUPT_MESSAGE.
//   - When uploads fall behind by BufferBytes: KAFKA_STORAGE_ERROR
//     (retriable) until they catch up.
//   - A failure on one partition sets that partition's code only.

import (
	"context"
	"errors"
	"time"

	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/txn"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// appendResult is one partition's outcome of the ordered append phase.
type appendResult struct {
	p   *partlog.Partition
	rp  *kmsg.ProduceResponseTopicPartition
	app partlog.Appended
	err error
}

func handleProduce(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	var reqErr error
	switch {
	case r.Acks != 0 && r.Acks != 1 && r.Acks != -1:
		reqErr = errInvalidAcks
	}
	now := time.Now().UnixMilli()
	var results []*appendResult
	for _, rt := range r.Topics {
		t := srv.topicByName(rt.Topic)
		respT := kmsg.NewProduceResponseTopic()
		respT.Topic = rt.Topic
		respT.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rpReq := range rt.Partitions {
			rp := &respT.Partitions[i]
			*rp = kmsg.NewProduceResponseTopicPartition()
			rp.Partition = rpReq.Partition
			res := &appendResult{rp: rp, app: partlog.Appended{LastOffset: -1}}
			switch p := t.Partition(rpReq.Partition); {
			case reqErr != nil:
				res.err = reqErr
			case p == nil:
				res.err = errUnknownTopic
			default:
				res.p = p
				if res.err = srv.verifyTxnProduce(c.ctx, r, rt.Topic, p, rpReq.Records); res.err != nil {
					break
				}
				// The ordered phase: appends keep the client's order
				// because the connection's reader runs them in turn.
				res.app, res.err = p.Append(rpReq.Records, now)
				rp.BaseOffset, rp.LogAppendTime = res.app.BaseOffset, res.app.LogAppendTime
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
				res.err = res.p.AwaitDurable(ctx, res.app, r.Acks)
				finishProduceResult(res)
			}
		}
		f.finish(resp)
	}()
}

func (res *appendResult) needsWait(acks int16) bool {
	return res.err == nil && (len(res.app.Syncs) > 0 || (acks == -1 && res.app.LastOffset >= 0))
}

var errInvalidAcks = errors.New("agent: acks must be -1, 0 or 1")

func finishProduceResult(res *appendResult) {
	if res.err != nil {
		res.rp.ErrorCode = produceErrorCode(res.err)
		msg := res.err.Error()
		res.rp.ErrorMessage = &msg
		var re *partlog.RecordError
		if errors.As(res.err, &re) {
			e := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			e.RelativeOffset = re.Index
			e.ErrorMessage = &msg
			res.rp.ErrorRecords = append(res.rp.ErrorRecords, e)
		}
		res.rp.BaseOffset = -1
		res.rp.LogAppendTime = -1
	}
	if res.p != nil {
		res.rp.LogStartOffset = res.p.LogStart()
	}
}

func produceErrorCode(err error) int16 {
	if errors.Is(err, errInvalidAcks) {
		return kerr.InvalidRequiredAcks.Code
	}
	return errorCode(err)
}

var errTxnIDMissing = errors.New("agent: transactional batch without a transactional id")

// verifyTxnProduce checks a transactional first batch of a producer's
// transaction on p with the coordinator's record (v12: adds p to it).
func (srv *Server) verifyTxnProduce(ctx context.Context, r *kmsg.ProduceRequest, topic string, p *partlog.Partition, records []byte) error {
	h, err := record.ParseHeader(records)
	if err != nil || !h.Transactional() || h.Control() {
		return nil // Append judges it
	}
	if r.TransactionID == nil || *r.TransactionID == "" {
		return errTxnIDMissing
	}
	if p.TxnOpen(h.ProducerID, h.ProducerEpoch) {
		return nil
	}
	// The producer's previous transaction may still be completing (its
	// markers not all committed): wait for it here, as Kafka's brokers
	// retry CONCURRENT_TRANSACTIONS themselves, rather than send the
	// client into a metadata refresh and a long backoff.
	// A commit on this agent (often the last marker's) wakes it at once.
	deadline := time.Now().Add(verifyWait)
	backoff := 2 * time.Millisecond
	for {
		changed := srv.reg.HWMChanged()
		err := srv.txns.Verify(ctx, *r.TransactionID, h.ProducerID, h.ProducerEpoch, topic, p.Index(), r.Version >= 12)
		if !errors.Is(err, txn.ErrConcurrent) || time.Now().Add(backoff).After(deadline) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		t.Stop()
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// verifyWait bounds how long a produce waits for the producer's previous
// transaction to complete.
const verifyWait = 5 * time.Second
