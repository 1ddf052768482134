package compaction_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/compaction"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// kv is one record: a nil key or value is null.
type kv struct{ k, v []byte }

func kvs(pairs ...string) []kv {
	var out []kv
	for i := 0; i < len(pairs); i += 2 {
		r := kv{[]byte(pairs[i]), []byte(pairs[i+1])}
		if pairs[i] == "<null>" {
			r.k = nil
		}
		if pairs[i+1] == "<null>" {
			r.v = nil
		}
		out = append(out, r)
	}
	return out
}

// pbatch is one batch to flush; pid >= 0 makes it an idempotent
// producer's.
type pbatch struct {
	pid  int64
	recs []kv
}

// flushKV writes and commits one flush object holding batches for one
// partition, all in one index row, at timestamp ts; producers' batches
// are recorded in the producer state as the agent does.
func (e *env) flushKV(ref metastore.PartitionRef, ts time.Time, batches ...pbatch) {
	e.t.Helper()
	ctx := context.Background()
	off := e.hwm[ref]
	var chunk []byte
	seqs := map[int64]int32{}
	var producers []metastore.ProducerState
	for _, pb := range batches {
		var rs []record.Record
		for i, r := range pb.recs {
			rs = append(rs, record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: r.k, Value: r.v})
		}
		h := record.Header{BaseOffset: off, FirstTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli() + int64(len(rs)) - 1,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		if pb.pid >= 0 {
			h.ProducerID, h.ProducerEpoch, h.BaseSequence = pb.pid, 0, seqs[pb.pid]
			seqs[pb.pid] += int32(len(rs))
			producers = append(producers, metastore.ProducerState{ProducerID: pb.pid, Batches: []metastore.ProducerBatch{{
				FirstSeq: h.BaseSequence, LastSeq: seqs[pb.pid] - 1, BaseOffset: off, LastOffset: off + int64(len(rs)) - 1, Timestamp: h.MaxTimestamp}}})
		}
		b, err := record.Build(h, rs, record.CodecNone)
		if err != nil {
			e.t.Fatal(err)
		}
		chunk = append(chunk, b...)
		off += int64(len(rs))
	}
	sb := segment.NewBuilder()
	sb.Add(segment.ChunkMeta{TopicID: ref.TopicID, Partition: ref.Partition, FirstOffset: e.hwm[ref], LastOffset: off - 1,
		MinTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli() + 10, Batches: int32(len(batches))}, chunk)
	obj, chunks := sb.Finish()
	e.seq++
	key := segment.ObjectKey(writer, e.seq, time.Now())
	if err := e.objs.Put(ctx, key, obj); err != nil {
		e.t.Fatal(err)
	}
	f := metastore.Flush{AgentID: writer, ObjectKey: key, ObjectSize: int64(len(obj)), UploadedAt: time.Now(),
		Partitions: []metastore.PartitionCommit{{TopicID: ref.TopicID, Partition: ref.Partition, Epoch: 1,
			PrevHighWatermark: e.hwm[ref], NewHighWatermark: off, Producers: producers,
			Rows: []metastore.IndexRow{{BaseOffset: e.hwm[ref], LastOffset: off - 1, Pos: chunks[0].Pos, Size: chunks[0].Size,
				MinTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli() + 10}}}}}
	if err := e.meta.CommitFlush(ctx, f); err != nil {
		e.t.Fatal(err)
	}
	e.hwm[ref] = off
}

// consumed is what a consumer reading the partition from its log start
// sees: "offset key=value" per record, and its batches' headers.
func (e *env) consumed(ref metastore.PartitionRef) ([]string, []record.Header) {
	e.t.Helper()
	data, _ := e.read(ref)
	var out []string
	var hs []record.Header
	for len(data) > 0 {
		b, rest, err := record.Next(data)
		if err != nil {
			e.t.Fatal(err)
		}
		data = rest
		h, err := record.Validate(b)
		if err != nil {
			e.t.Fatal(err)
		}
		hs = append(hs, h)
		recs, err := record.Records(b, 1<<20)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range recs {
			k, v := "<null>", "<null>"
			if r.Key != nil {
				k = string(r.Key)
			}
			if r.Value != nil {
				v = string(r.Value)
			}
			out = append(out, fmt.Sprintf("%d %s=%s", h.BaseOffset+int64(r.OffsetDelta), k, v))
		}
	}
	return out, hs
}

func cleanUntilDone(t *testing.T, s *compaction.Service) {
	t.Helper()
	for range 30 {
		n, err := s.CompactOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("cleaning did not settle in 30 passes")
}

// TestCleanCompactedTopic: the key cleaner keeps the latest record of
// every key at its offset, drops keyless records, keeps superseded
// batches empty where Kafka does (a producer's last batch, the end of a
// row), keeps tombstones until delete.retention.ms after the pass that
// first kept them and then removes them, cleans new dirty data against
// the clean part, and never moves the high watermark.
func TestCleanCompactedTopic(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mt := e.topic("kv", 1, map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "60000"})
		ref := metastore.PartitionRef{TopicID: mt.ID, Partition: 0}
		ts := e.clock.Now().Add(-time.Hour)
		e.flushKV(ref, ts,
			pbatch{-1, kvs("k0", "v1", "k1", "v1", "k2", "v1", "k3", "v1", "k4", "v1", "k5", "v1", "k6", "v1", "k7", "v1", "k8", "v1", "k9", "v1")}, // 0-9
			pbatch{-1, kvs("<null>", "orphan", "k0", "v1b")}) // 10-11
		e.flushKV(ref, ts,
			pbatch{7, kvs("k0", "v2", "k1", "v2", "k2", "v2", "k3", "v2", "k4", "v2")}, // 12-16
			pbatch{-1, kvs("k5", "<null>", "k6", "<null>", "k0", "v3")})                // 17-19
		e.flushKV(ref, ts,
			pbatch{7, kvs("k1", "v3", "k2", "v3")},  // 20-21: producer 7's last batch
			pbatch{-1, kvs("k1", "v4", "k2", "v4")}) // 22-23
		e.flushKV(ref, ts, pbatch{-1, kvs("k7", "v4")}) // 24

		s := e.service("cleaner", nil)
		cleanUntilDone(t, s)
		got, hs := e.consumed(ref)
		want := []string{"8 k8=v1", "9 k9=v1", "15 k3=v2", "16 k4=v2", "17 k5=<null>", "18 k6=<null>", "19 k0=v3", "22 k1=v4", "23 k2=v4", "24 k7=v4"}
		if !slices.Equal(got, want) {
			t.Fatalf("after the first pass:\n got %v\nwant %v", got, want)
		}
		// Batches: A (2 left), B emptied (end of row 1), C, D (with
		// horizon), E emptied (producer 7's last), F, G.
		var shape []string
		for _, h := range hs {
			hz, _ := h.DeleteHorizon()
			shape = append(shape, fmt.Sprintf("%d-%d:%d/pid%d/h%v", h.BaseOffset, h.LastOffset(), h.NumRecords, h.ProducerID, hz != 0))
		}
		wantShape := []string{"0-9:2/pid-1/hfalse", "10-11:0/pid-1/hfalse", "12-16:2/pid7/hfalse", "17-19:3/pid-1/htrue",
			"20-21:0/pid7/hfalse", "22-23:2/pid-1/hfalse", "24-24:1/pid-1/hfalse"}
		if !slices.Equal(shape, wantShape) {
			t.Fatalf("batches:\n got %v\nwant %v", shape, wantShape)
		}
		rows, err := e.meta.IndexRows(ctx, ref.TopicID, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || !strings.Contains(rows[0].ObjectKey, "/clean/") || rows[0].BaseOffset != 0 || rows[0].LastOffset != 24 {
			t.Fatalf("rows after cleaning: %+v", rows)
		}
		checkHWM(t, e, ref, 25)

		// Before the horizon nothing more happens; after it the
		// tombstones go.
		e.clock.Advance(59 * time.Second)
		if n, err := s.CompactOnce(ctx); err != nil || n != 0 {
			t.Fatalf("pass before the horizon: %d %v", n, err)
		}
		e.clock.Advance(2 * time.Second)
		cleanUntilDone(t, s)
		got, _ = e.consumed(ref)
		want = []string{"8 k8=v1", "9 k9=v1", "15 k3=v2", "16 k4=v2", "19 k0=v3", "22 k1=v4", "23 k2=v4", "24 k7=v4"}
		if !slices.Equal(got, want) {
			t.Fatalf("after the horizon:\n got %v\nwant %v", got, want)
		}

		// New dirty data is cleaned against the clean part.
		if err := e.meta.SetTopicConfigs(ctx, mt.Name, map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "60000", "min.cleanable.dirty.ratio": "0.01"}); err != nil {
			t.Fatal(err)
		}
		e.flushKV(ref, ts, pbatch{-1, kvs("k8", "v5", "k3", "<null>")}) // 25-26
		cleanUntilDone(t, s)
		got, _ = e.consumed(ref)
		want = []string{"9 k9=v1", "16 k4=v2", "19 k0=v3", "22 k1=v4", "23 k2=v4", "24 k7=v4", "25 k8=v5", "26 k3=<null>"}
		if !slices.Equal(got, want) {
			t.Fatalf("after cleaning new data:\n got %v\nwant %v", got, want)
		}
		checkHWM(t, e, ref, 27)

		// Garbage collection leaves only the last clean segment.
		e.clock.Advance(2 * time.Minute)
		if _, err := s.CollectOnce(ctx); err != nil {
			t.Fatal(err)
		}
		keys := e.keys()
		if len(keys) != 1 || !strings.Contains(keys[0], "/clean/") {
			t.Fatalf("bucket after GC: %v", keys)
		}
		e.checkReferenced()
	})
}

func checkHWM(t *testing.T, e *env, ref metastore.PartitionRef, want int64) {
	t.Helper()
	parts, err := e.meta.Partitions(context.Background(), ref.TopicID)
	if err != nil {
		t.Fatal(err)
	}
	if parts[ref.Partition].HighWatermark != want {
		t.Fatalf("high watermark %d, want %d", parts[ref.Partition].HighWatermark, want)
	}
}

// TestCleanInPasses: with an offset map too small for the partition's
// distinct keys, cleaning takes several passes and ends where one big
// map would: exactly the latest record of every key.
func TestCleanInPasses(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		mt := e.topic("many", 1, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"})
		ref := metastore.PartitionRef{TopicID: mt.ID, Partition: 0}
		ts := e.clock.Now().Add(-time.Hour)
		latest := map[string]string{}
		var off int64
		for f := range 6 {
			var batches []pbatch
			for b := range 5 {
				var pairs []string
				for r := range 100 {
					k := fmt.Sprintf("key-%04d", (f*300+b*100+r)%1500)
					v := fmt.Sprintf("v%d@%d", f, off)
					latest[k] = fmt.Sprintf("%d %s=%s", off, k, v)
					pairs = append(pairs, k, v)
					off++
				}
				batches = append(batches, pbatch{-1, kvs(pairs...)})
			}
			e.flushKV(ref, ts, batches...)
		}
		// 16 KiB: 1,024 slots, 921 keys; each row holds 500 keys and
		// there are 1,500.
		s := e.service("cleaner", func(c *compaction.Config) { c.DedupeBytes = 16 << 10 })
		cleanUntilDone(t, s)
		var want []string
		for _, v := range latest {
			want = append(want, v)
		}
		slices.SortFunc(want, func(a, b string) int {
			var x, y int
			fmt.Sscan(a, &x)
			fmt.Sscan(b, &y)
			return x - y
		})
		got, _ := e.consumed(ref)
		if !slices.Equal(got, want) {
			t.Fatalf("got %d records, want %d (the latest of each key)", len(got), len(want))
		}
		checkHWM(t, e, ref, off)
	})
}

// TestCleanCompactDelete: with cleanup.policy=compact,delete the cleaner
// and retention both work on a partition: old data is cleaned, then
// deleted by retention.ms as a whole clean segment, and what is left
// reads back.
func TestCleanCompactDelete(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mt := e.topic("both", 1, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "3600000"})
		ref := metastore.PartitionRef{TopicID: mt.ID, Partition: 0}
		old := e.clock.Now().Add(-2 * time.Hour)
		e.flushKV(ref, old, pbatch{-1, kvs("a", "1", "b", "1", "a", "2")}) // 0-2
		s := e.service("cleaner", nil)
		cleanUntilDone(t, s)
		if got, _ := e.consumed(ref); !slices.Equal(got, []string{"1 b=1", "2 a=2"}) {
			t.Fatalf("cleaned: %v", got)
		}
		e.flushKV(ref, e.clock.Now(), pbatch{-1, kvs("b", "2")}) // 3
		if _, err := s.RetainOnce(ctx); err != nil {
			t.Fatal(err)
		}
		parts, err := e.meta.Partitions(ctx, mt.ID)
		if err != nil {
			t.Fatal(err)
		}
		if parts[0].LogStartOffset != 3 || parts[0].HighWatermark != 4 {
			t.Fatalf("log start %d, high watermark %d; want 3 and 4", parts[0].LogStartOffset, parts[0].HighWatermark)
		}
		if got, _ := e.consumed(ref); !slices.Equal(got, []string{"3 b=2"}) {
			t.Fatalf("after retention: %v", got)
		}
	})
}
