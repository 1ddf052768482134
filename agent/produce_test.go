package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/record"
)

func idemBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	var recs []record.Record
	for i := 0; i < n; i++ {
		recs = append(recs, record.Record{OffsetDelta: int32(i), Value: []byte{byte(seq), byte(i)}})
	}
	b, err := record.Build(record.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, FirstTimestamp: time.Now().UnixMilli(),
		MaxTimestamp: time.Now().UnixMilli(), LastOffsetDelta: int32(n - 1)}, recs, record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIdempotentSequences: a retried batch gets its original offset and is
// stored once; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an old epoch is
// INVALID_PRODUCER_EPOCH; the state survives a restart.
func TestIdempotentSequences(t *testing.T) {
	dir := t.TempDir()
	cfg := agent.Config{DataDir: dir, Listen: "127.0.0.1:0", AdminListen: "off", FlushInterval: 10 * time.Millisecond, Logger: testkit.Logger()}
	cfg.MetastoreURL, cfg.ObjstoreURL = testkit.Backends(t)
	a := testkit.StartAgent(t, cfg)
	testkit.CreateTopic(t, a.Addr(), "idem", 1, nil)
	cl := testkit.NewClient(t, a.Addr())
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(context.Background(), cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %d", err, ir.ErrorCode)
	}
	pid := ir.ProducerID

	r := testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 0, 3))
	if r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("first batch: code %d offset %d", r.ErrorCode, r.BaseOffset)
	}
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 3, 2))
	if r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("second batch: code %d offset %d", r.ErrorCode, r.BaseOffset)
	}
	// Retry of the first batch: original offset, nothing appended.
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 0, 3))
	if r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("retried batch: code %d offset %d, want 0 0", r.ErrorCode, r.BaseOffset)
	}
	// Gap: sequence 7 when 5 is next.
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 7, 1))
	if r.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: code %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", r.ErrorCode)
	}
	waitHWM(t, a, "idem", 0, 5)
	a.Close()

	// Restart: producer state comes back from the metastore.
	a = testkit.StartAgent(t, cfg)
	cl = testkit.NewClient(t, a.Addr())
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 3, 2))
	if r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("retry after restart: code %d offset %d, want 0 3", r.ErrorCode, r.BaseOffset)
	}
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 5, 1))
	if r.ErrorCode != 0 || r.BaseOffset != 5 {
		t.Fatalf("next batch after restart: code %d offset %d, want 0 5", r.ErrorCode, r.BaseOffset)
	}
	// A bumped epoch restarts at 0; the old epoch is then fenced.
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 1, 0, 1))
	if r.ErrorCode != 0 || r.BaseOffset != 6 {
		t.Fatalf("new epoch: code %d offset %d, want 0 6", r.ErrorCode, r.BaseOffset)
	}
	r = testkit.ProduceBatch(t, cl, "idem", -1, idemBatch(t, pid, 0, 6, 1))
	if r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch: code %d, want INVALID_PRODUCER_EPOCH", r.ErrorCode)
	}
	recs := testkit.ConsumeAll(t, a.Addr(), "idem", 7)
	if len(recs) != 7 {
		t.Fatalf("got %d records, want 7 (no duplicates)", len(recs))
	}
}

// TestProduceRejectsBadBatches: a corrupt CRC is CORRUPT_MESSAGE and
// nothing is appended; an unknown partition is UNKNOWN_TOPIC_OR_PARTITION;
// bad acks is INVALID_REQUIRED_ACKS; a transactional id is refused.
func TestProduceRejectsBadBatches(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "bad", 1, nil)
	cl := testkit.NewClient(t, a.Addr())
	b := idemBatch(t, -1, -1, -1, 2)
	b[len(b)-1] ^= 0xff // breaks the CRC
	if r := testkit.ProduceBatch(t, cl, "bad", 1, b); r.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("bad crc: code %d, want CORRUPT_MESSAGE", r.ErrorCode)
	}
	if r := testkit.ProduceBatch(t, cl, "bad", 1, []byte{1, 2, 3}); r.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("garbage: code %d, want CORRUPT_MESSAGE", r.ErrorCode)
	}
	if r := testkit.ProduceBatch(t, cl, "nope", 1, idemBatch(t, -1, -1, -1, 1)); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: code %d", r.ErrorCode)
	}
	// A transactional id with no timeout: INVALID_TRANSACTION_TIMEOUT.
	txn := kmsg.NewPtrInitProducerIDRequest()
	txn.SetVersion(4)
	id := "txn"
	txn.TransactionalID = &id
	resp := kmsg.NewPtrInitProducerIDResponse()
	dialRaw(t, a).roundTrip(txn, resp)
	if resp.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("transactional init without a timeout: code %d", resp.ErrorCode)
	}
	// A control batch from a client, and a transactional batch without a
	// transactional id, append nothing.
	marker := record.BuildMarker(record.Marker{ProducerID: 5, Commit: true}, time.Now().UnixMilli())
	if r := testkit.ProduceBatch(t, cl, "bad", 1, marker); r.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("control batch: code %d, want CORRUPT_MESSAGE", r.ErrorCode)
	}
	tb := idemBatch(t, 5, 0, 0, 1)
	h, _ := record.ParseHeader(tb)
	tb, _ = record.Build(record.Header{ProducerID: 5, Attributes: 0x10, FirstTimestamp: h.FirstTimestamp, MaxTimestamp: h.MaxTimestamp},
		[]record.Record{{Value: []byte("t")}}, record.CodecNone)
	if r := testkit.ProduceBatch(t, cl, "bad", 1, tb); r.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("transactional batch without a transactional id: code %d, want INVALID_TXN_STATE", r.ErrorCode)
	}
	// A good batch afterwards lands at offset 0: the bad ones appended nothing.
	if r := testkit.ProduceBatch(t, cl, "bad", -1, idemBatch(t, -1, -1, -1, 1)); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good batch: code %d offset %d, want offset 0", r.ErrorCode, r.BaseOffset)
	}
}

// TestLogAppendTime: topics with message.timestamp.type=LogAppendTime get
// the broker's time on every record.
func TestLogAppendTime(t *testing.T) {
	a := testAgent(t, nil)
	lat := "LogAppendTime"
	testkit.CreateTopic(t, a.Addr(), "lat", 1, map[string]*string{"message.timestamp.type": &lat})
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("lat"))
	old := time.UnixMilli(1_000_000_000_000)
	before := time.Now().Add(-time.Second)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("x"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "lat", 1)
	if got[0].Timestamp.Before(before) || got[0].Attrs.TimestampType() != 1 {
		t.Fatalf("timestamp %v type %d, want log append time after %v", got[0].Timestamp, got[0].Attrs.TimestampType(), before)
	}
}

// TestAcksZero: acks=0 produces get no response but land.
func TestAcksZero(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "zero", 1, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("zero"), kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	var rs []*kgo.Record
	for i := 0; i < 100; i++ {
		rs = append(rs, &kgo.Record{Value: []byte{byte(i)}})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "zero", 100)
	for i, r := range got {
		if r.Value[0] != byte(i) || r.Offset != int64(i) {
			t.Fatalf("record %d: value %d offset %d", i, r.Value[0], r.Offset)
		}
	}
}

var _ = errors.Is
