package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testkit"
)

// TestProduceConsumeAllCodecs: 10,000 keyed records with headers over 3
// partitions and every codec come back byte for byte, in per-partition
// order, with one partition per key.
func TestProduceConsumeAllCodecs(t *testing.T) {
	a := testAgent(t, nil)
	const topic = "e2e"
	testkit.CreateTopic(t, a.Addr(), topic, 3, nil)

	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	const total = 10000
	per := total / len(codecs)
	type sent struct {
		key, value []byte
		headers    []kgo.RecordHeader
	}
	var want []sent
	for ci, codec := range codecs {
		cl := testkit.NewClient(t, a.Addr(), kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
		var rs []*kgo.Record
		for i := 0; i < per; i++ {
			n := ci*per + i
			r := &kgo.Record{
				Key:     []byte(fmt.Sprintf("key-%03d", n%97)),
				Value:   bytes.Repeat([]byte(fmt.Sprintf("value-%d-", n)), 1+n%7),
				Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(fmt.Sprint(n))}, {Key: "codec", Value: []byte(fmt.Sprint(ci))}},
			}
			rs = append(rs, r)
			want = append(want, sent{r.Key, r.Value, r.Headers})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce with codec %d: %v", ci, err)
		}
		cancel()
	}

	got := testkit.ConsumeAll(t, a.Addr(), topic, total)
	if len(got) != total {
		t.Fatalf("got %d records, want %d", len(got), total)
	}
	keyPart := map[string]int32{}
	lastOffset := map[int32]int64{0: -1, 1: -1, 2: -1}
	lastN := map[int32]int{0: -1, 1: -1, 2: -1}
	for _, r := range got {
		if p, ok := keyPart[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPart[string(r.Key)] = r.Partition
		if r.Offset != lastOffset[r.Partition]+1 {
			t.Fatalf("partition %d: offset %d after %d (offsets must be dense)", r.Partition, r.Offset, lastOffset[r.Partition])
		}
		lastOffset[r.Partition] = r.Offset
		var n int
		fmt.Sscan(string(r.Headers[0].Value), &n)
		if n <= lastN[r.Partition] {
			t.Fatalf("partition %d: record %d after %d (order lost)", r.Partition, n, lastN[r.Partition])
		}
		lastN[r.Partition] = n
		w := want[n]
		if !bytes.Equal(r.Key, w.key) || !bytes.Equal(r.Value, w.value) || len(r.Headers) != 2 ||
			r.Headers[1].Key != "codec" || !bytes.Equal(r.Headers[1].Value, w.headers[1].Value) {
			t.Fatalf("record %d differs: got key %q value %d bytes", n, r.Key, len(r.Value))
		}
	}
	if len(keyPart) != 97 {
		t.Fatalf("saw %d distinct keys, want 97", len(keyPart))
	}
	used := map[int32]bool{}
	for _, p := range keyPart {
		used[p] = true
	}
	if len(used) != 3 {
		t.Fatalf("keys landed in %d partitions, want 3", len(used))
	}
}

// TestListOffsetsByTimestamp: the first offset whose timestamp is >= T,
// across several flushed objects.
func TestListOffsetsByTimestamp(t *testing.T) {
	a := testAgent(t, nil)
	const topic = "ts"
	testkit.CreateTopic(t, a.Addr(), topic, 1, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic(topic))
	base := time.UnixMilli(1_700_000_000_000)
	ctx := context.Background()
	// 5 produce rounds → at least 5 objects; timestamps 10ms apart.
	for round := 0; round < 5; round++ {
		var rs []*kgo.Record
		for i := 0; i < 20; i++ {
			n := round*20 + i
			rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprint(n)), Timestamp: base.Add(time.Duration(n*10) * time.Millisecond)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		waitHWM(t, a, topic, 0, int64((round+1)*20))
	}
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		ts   int64
		want int64
	}{
		{base.UnixMilli(), 0},
		{base.UnixMilli() - 1000, 0},
		{base.UnixMilli() + 5, 1},
		{base.UnixMilli() + 10*45, 45},
		{base.UnixMilli() + 10*99, 99},
		{base.UnixMilli() + 10*99 + 1, -1},
	} {
		res, err := adm.ListOffsetsAfterMilli(ctx, tc.ts, topic)
		if err != nil {
			t.Fatal(err)
		}
		lo, _ := res.Lookup(topic, 0)
		if tc.want == -1 {
			// kadm maps "none" to the end offset.
			if lo.Offset != 100 && lo.Offset != -1 {
				t.Fatalf("ts %d: offset %d, want none", tc.ts, lo.Offset)
			}
			continue
		}
		if lo.Err != nil || lo.Offset != tc.want {
			t.Fatalf("ts %d: offset %d err %v, want %d", tc.ts, lo.Offset, lo.Err, tc.want)
		}
		if lo.Timestamp != base.UnixMilli()+tc.want*10 {
			t.Fatalf("ts %d: timestamp %d, want %d", tc.ts, lo.Timestamp, base.UnixMilli()+tc.want*10)
		}
	}
	// Raw request for max timestamp (-3) and earliest/latest.
	for _, tc := range []struct{ ts, want int64 }{{-2, 0}, {-1, 100}, {-3, 99}} {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = tc.ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Topics[0].Partitions[0]
		if got.ErrorCode != 0 || got.Offset != tc.want {
			t.Fatalf("timestamp %d: offset %d code %d, want %d", tc.ts, got.Offset, got.ErrorCode, tc.want)
		}
	}
}

// TestLargeRecord: a 1 MiB record round-trips when the topic allows it,
// and is refused with MESSAGE_TOO_LARGE when it does not.
func TestLargeRecord(t *testing.T) {
	a := testAgent(t, nil)
	big := "2097152"
	testkit.CreateTopic(t, a.Addr(), "big", 1, map[string]*string{"max.message.bytes": &big})
	testkit.CreateTopic(t, a.Addr(), "small", 1, nil)
	val := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	cl := testkit.NewClient(t, a.Addr(), kgo.ProducerBatchMaxBytes(4<<20), kgo.RecordRetries(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "big", Value: val}).FirstErr(); err != nil {
		t.Fatalf("produce 1 MiB: %v", err)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "big", 1)
	if !bytes.Equal(got[0].Value, val) {
		t.Fatalf("1 MiB record came back as %d bytes", len(got[0].Value))
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: val}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce 1 MiB to a default topic: %v, want MESSAGE_TOO_LARGE", err)
	}
}

// TestFetchOutOfRange: fetching past the end or before the start answers
// OFFSET_OUT_OF_RANGE with the right log start and high watermark.
func TestFetchOutOfRange(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "oor", 1, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("oor"))
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitHWM(t, a, "oor", 0, 10)
	meta, err := kadm.NewClient(cl).ListTopics(ctx, "oor")
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{11, 1000, -5} {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis = 10
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "oor"
		rt.TopicID = meta["oor"].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset = off
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != kerr.OffsetOutOfRange.Code || p.HighWatermark != 10 || p.LogStartOffset != 0 {
			t.Fatalf("offset %d: code %d hwm %d start %d, want OFFSET_OUT_OF_RANGE 10 0", off, p.ErrorCode, p.HighWatermark, p.LogStartOffset)
		}
	}
}
