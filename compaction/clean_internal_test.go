package compaction

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
)

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(64<<10, 0) // 4,096 slots
	if got := m.capacity(); got != 3686 {
		t.Fatalf("capacity %d, want 3686 (0.9 of 4,096 slots)", got)
	}
	for i := range 1000 {
		if !m.put([]byte(fmt.Sprintf("key-%d", i)), int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	for i := range 1000 { // newer versions of the same keys take no room
		if !m.put([]byte(fmt.Sprintf("key-%d", i)), int64(1000+i)) {
			t.Fatalf("update %d refused", i)
		}
	}
	if m.count != 1000 || m.latest != 1999 {
		t.Fatalf("count %d latest %d, want 1000 and 1999", m.count, m.latest)
	}
	for i := range 1000 {
		if got := m.get([]byte(fmt.Sprintf("key-%d", i))); got != int64(1000+i) {
			t.Fatalf("key-%d: %d, want %d", i, got, 1000+i)
		}
	}
	if got := m.get([]byte("absent")); got != -1 {
		t.Fatalf("absent key: %d, want -1", got)
	}
	n := 0
	for i := 1000; m.put([]byte(fmt.Sprintf("key-%d", i)), int64(2000+i)); i++ {
		n++
	}
	if m.count != m.capacity() || n != m.capacity()-1000 || !m.full(1, 0) {
		t.Fatalf("filled to %d of %d after %d more, full=%v", m.count, m.capacity(), n, m.full(1, 0))
	}
	if !newOffsetMap(0, 100).full(0, 100+math.MaxUint32) {
		t.Fatal("an offset 2³² past the base must not fit")
	}
	g := newOffsetMap(4<<20, 0) // grows from 65,536 slots up to 262,144
	for i := range 200000 {
		if !g.put([]byte(fmt.Sprintf("g-%d", i)), int64(i)) {
			t.Fatalf("growing map refused key %d", i)
		}
	}
	if len(g.slots) != 262144 || g.get([]byte("g-0")) != 0 || g.get([]byte("g-199999")) != 199999 || g.get([]byte("g-x")) != -1 {
		t.Fatalf("after growing: %d slots", len(g.slots))
	}
	for i := 0; i < 200000; i += 997 {
		if got := g.get([]byte(fmt.Sprintf("g-%d", i))); got != int64(i) {
			t.Fatalf("g-%d: %d after growing", i, got)
		}
	}
	b := newOffsetMap(0, 1<<40)
	b.put([]byte("k"), 1<<40+5)
	if got := b.get([]byte("k")); got != 1<<40+5 {
		t.Fatalf("offset from a base: %d", got)
	}
	if m.get([]byte("key-0")) != 1000 {
		t.Fatal("a refused put changed the map")
	}
}

func TestCleanKey(t *testing.T) {
	ref := metastore.PartitionRef{Partition: 3}
	ref.TopicID[0] = 0xab
	k := CleanKey(ref, 10, 99, 1234567)
	h, ok := cleanKeyHorizon(k)
	if !ok || h != 1234567 || !ownKey(k) {
		t.Fatalf("%s: horizon %d %v, own %v", k, h, ok, ownKey(k))
	}
	if h, ok := cleanKeyHorizon(CleanKey(ref, 0, 0, 0)); !ok || h != 0 {
		t.Fatalf("no horizon: %d %v", h, ok)
	}
	for _, k := range []string{SegmentKey(ref, 10, 99), "abcd/seg/x.seg", "abcd/clean/t/0/1-2-x-n.seg", "abcd/clean/t/0/1-2-3.seg"} {
		if _, ok := cleanKeyHorizon(k); ok {
			t.Fatalf("%s taken for a clean key", k)
		}
	}
}

func row(key string, base, last, size, minTs, maxTs int64) metastore.IndexRow {
	return metastore.IndexRow{ObjectKey: key, BaseOffset: base, LastOffset: last, Size: size, MinTimestamp: minTs, MaxTimestamp: maxTs}
}

func TestPlanClean(t *testing.T) {
	ref := metastore.PartitionRef{}
	clean := func(base, last, size, horizon int64) metastore.IndexRow {
		return row(CleanKey(ref, base, last, horizon), base, last, size, 0, 100)
	}
	dirty := func(base, last, size, ts int64) metastore.IndexRow {
		return row(fmt.Sprintf("0000/seg/x/%d.seg", base), base, last, size, ts, ts)
	}
	def := TopicCleaning(map[string]string{"cleanup.policy": "compact"})
	lag := def
	lag.MinLagMs = 500
	maxLag := def
	maxLag.MaxLagMs = 1000
	for _, tc := range []struct {
		name               string
		rows               []metastore.IndexRow
		c                  Cleaning
		now                int64
		clean, cleanable   int
		cleanBytes, dirtyB int64
		why                string
	}{
		{"empty", nil, def, 1000, 0, 0, 0, 0, ""},
		{"all dirty", []metastore.IndexRow{dirty(0, 9, 100, 10), dirty(10, 19, 100, 20)}, def, 1000, 0, 2, 0, 200, "dirty-ratio"},
		{"ratio below", []metastore.IndexRow{clean(0, 9, 300, 0), dirty(10, 19, 100, 20)}, def, 1000, 1, 2, 300, 100, ""},
		{"ratio reached, not passed", []metastore.IndexRow{clean(0, 9, 100, 0), dirty(10, 19, 100, 20)}, def, 1000, 1, 2, 100, 100, ""},
		{"ratio passed", []metastore.IndexRow{clean(0, 9, 99, 0), dirty(10, 19, 100, 20)}, def, 1000, 1, 2, 99, 100, "dirty-ratio"},
		{"min lag holds young rows back", []metastore.IndexRow{clean(0, 9, 99, 0), dirty(10, 19, 100, 400), dirty(20, 29, 100, 600)}, lag, 1000, 1, 2, 99, 100, "dirty-ratio"},
		{"min lag: nothing cleanable", []metastore.IndexRow{dirty(0, 9, 100, 900)}, lag, 1000, 0, 0, 0, 0, ""},
		{"max lag forces a pass", []metastore.IndexRow{clean(0, 9, 1000, 0), dirty(10, 19, 10, 0)}, maxLag, 1000, 1, 2, 1000, 10, "max-lag"},
		{"max lag not yet", []metastore.IndexRow{clean(0, 9, 1000, 0), dirty(10, 19, 10, 1)}, maxLag, 1000, 1, 2, 1000, 10, ""},
		{"horizon passed", []metastore.IndexRow{clean(0, 9, 100, 900), clean(10, 19, 100, 0)}, def, 1000, 2, 2, 200, 0, "delete-horizon"},
		{"horizon ahead", []metastore.IndexRow{clean(0, 9, 100, 1001)}, def, 1000, 1, 1, 100, 0, ""},
		{"clean after dirty counts as dirty", []metastore.IndexRow{dirty(0, 9, 100, 0), clean(10, 19, 100, 0)}, def, 1000, 0, 2, 0, 200, "dirty-ratio"},
	} {
		p := PlanClean(tc.rows, tc.now, tc.c)
		if p.Clean != tc.clean || p.Cleanable != tc.cleanable || p.CleanBytes != tc.cleanBytes || p.DirtyBytes != tc.dirtyB || p.Why != tc.why {
			t.Errorf("%s: got %+v, want clean %d cleanable %d bytes %d/%d why %q", tc.name, p, tc.clean, tc.cleanable, tc.cleanBytes, tc.dirtyB, tc.why)
		}
	}
}

func TestTopicCleaning(t *testing.T) {
	c := TopicCleaning(map[string]string{"cleanup.policy": "delete, compact", "delete.retention.ms": "5", "min.compaction.lag.ms": "6",
		"max.compaction.lag.ms": "7", "min.cleanable.dirty.ratio": "0.25", "segment.bytes": "1048576"})
	want := Cleaning{Compact: true, DeleteRetentionMs: 5, MinLagMs: 6, MaxLagMs: 7, MinDirtyRatio: 0.25, SegmentBytes: 1 << 20}
	if c != want {
		t.Fatalf("%+v, want %+v", c, want)
	}
	c = TopicCleaning(map[string]string{"cleanup.policy": "delete"})
	want = Cleaning{DeleteRetentionMs: 86400000, MaxLagMs: math.MaxInt64, MinDirtyRatio: 0.5, SegmentBytes: 1 << 30}
	if c != want {
		t.Fatalf("%+v, want %+v", c, want)
	}
}

// batchOf builds a batch at base with one record per kv pair (a nil key
// or value in the pair is null), timestamps first+i.
func batchOf(t *testing.T, base, first int64, pid int64, codec record.Codec, kvs ...[]byte) ([]byte, record.Header, []record.Record) {
	t.Helper()
	var recs []record.Record
	for i := 0; i < len(kvs); i += 2 {
		recs = append(recs, record.Record{OffsetDelta: int32(i / 2), TimestampDelta: int64(i / 2), Key: kvs[i], Value: kvs[i+1]})
	}
	h := record.Header{BaseOffset: base, FirstTimestamp: first, MaxTimestamp: first + int64(len(recs)) - 1,
		ProducerID: pid, ProducerEpoch: 0, BaseSequence: 0, LastOffsetDelta: int32(len(recs) - 1)}
	if pid < 0 {
		h.ProducerEpoch, h.BaseSequence = -1, -1
	}
	b, err := record.Build(h, recs, codec)
	if err != nil {
		t.Fatal(err)
	}
	h, err = record.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := record.Records(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return b, h, got
}

func s(v string) []byte { return []byte(v) }

// view is what a consumer sees of a batch: offset, timestamp, key, value.
func view(t *testing.T, b []byte) []string {
	t.Helper()
	h, err := record.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := record.Records(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		v := "<null>"
		if r.Value != nil {
			v = string(r.Value)
		}
		out = append(out, fmt.Sprintf("%d@%d %s=%s", h.BaseOffset+int64(r.OffsetDelta), h.FirstTimestamp+r.TimestampDelta, r.Key, v))
	}
	return out
}

func TestCleanBatch(t *testing.T) {
	latest := map[string]int64{"a": 12, "b": 11, "c": 10}
	get := func(k []byte) int64 {
		if o, ok := latest[string(k)]; ok {
			return o
		}
		return -1
	}
	const now, retention = 5000, 1000
	for _, codec := range []record.Codec{record.CodecNone, record.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			// Offsets 10..13: c, b's tombstone and a are their keys'
			// latest; x is not in the map: all kept, and the tombstone
			// gets a delete horizon.
			b, h, _ := batchOf(t, 10, 100, -1, codec, s("c"), s("3"), s("b"), nil, s("a"), s("old"), s("x"), s("y"))
			latest["a"] = 12
			out, err := cleanBatch(b, h, get, 13, now, retention, false)
			if err != nil {
				t.Fatal(err)
			}
			if out.dropped != 0 || out.horizon != now+retention {
				t.Fatalf("dropped %d horizon %d, want 0 and %d", out.dropped, out.horizon, now+retention)
			}
			oh, err := record.Validate(out.batch)
			if err != nil {
				t.Fatal(err)
			}
			if hz, ok := oh.DeleteHorizon(); !ok || hz != now+retention || oh.Codec() != codec || oh.BaseOffset != 10 || oh.LastOffsetDelta != 3 {
				t.Fatalf("header %+v: horizon %d %v", oh, hz, ok)
			}
			want := []string{"10@100 c=3", "11@101 b=<null>", "12@102 a=old", "13@103 x=y"}
			if got := view(t, out.batch); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after first clean: %v, want %v (timestamps must survive the horizon)", got, want)
			}
			// Later, a newer a and b exist; before the horizon the
			// tombstone would stay, after it it goes.
			latest["a"], latest["b"] = 20, 11
			oh, _ = record.Validate(out.batch)
			again, err := cleanBatch(out.batch, oh, get, 30, now+retention-1, retention, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := view(t, again.batch); fmt.Sprint(got) != fmt.Sprint([]string{"10@100 c=3", "11@101 b=<null>", "13@103 x=y"}) {
				t.Fatalf("before the horizon: %v", got)
			}
			gh, _ := record.Validate(again.batch)
			if hz, _ := gh.DeleteHorizon(); hz != now+retention || gh.LastOffsetDelta != 3 {
				t.Fatalf("horizon %d last offset delta %d: must be kept", hz, gh.LastOffsetDelta)
			}
			last, err := cleanBatch(again.batch, gh, get, 30, now+retention, retention, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := view(t, last.batch); fmt.Sprint(got) != fmt.Sprint([]string{"10@100 c=3", "13@103 x=y"}) || last.horizon != 0 {
				t.Fatalf("after the horizon: %v (horizon %d)", got, last.horizon)
			}
		})
	}

	t.Run("past the map end", func(t *testing.T) {
		b, h, _ := batchOf(t, 50, 100, -1, record.CodecNone, nil, s("keyless"), s("a"), s("superseded?"))
		out, err := cleanBatch(b, h, get, 49, now, retention, false)
		if err != nil || !bytes.Equal(out.batch, b) || out.dropped != 0 {
			t.Fatalf("records past the map must be kept as they are: %v %d", err, out.dropped)
		}
		out, _ = cleanBatch(b, h, get, 50, now, retention, false)
		if got := view(t, out.batch); fmt.Sprint(got) != fmt.Sprint([]string{"51@101 a=superseded?"}) {
			t.Fatalf("keyless record not dropped: %v", got)
		}
	})

	t.Run("emptied", func(t *testing.T) {
		b, h, _ := batchOf(t, 0, 100, 7, record.CodecSnappy, s("a"), s("1"), s("b"), s("2"))
		out, err := cleanBatch(b, h, get, 100, now, retention, false)
		if err != nil || out.batch != nil || out.dropped != 2 {
			t.Fatalf("superseded batch kept: %v %v", out.batch != nil, err)
		}
		out, err = cleanBatch(b, h, get, 100, now, retention, true)
		if err != nil {
			t.Fatal(err)
		}
		eh, err := record.Validate(out.batch)
		if err != nil {
			t.Fatal(err)
		}
		if eh.NumRecords != 0 || eh.BaseOffset != 0 || eh.LastOffsetDelta != 1 || eh.ProducerID != 7 || eh.BaseSequence != 0 ||
			eh.Codec() != record.CodecNone || eh.MaxTimestamp != h.MaxTimestamp || eh.FirstTimestamp != h.MaxTimestamp {
			t.Fatalf("empty batch header %+v", eh)
		}
	})

	t.Run("unchanged", func(t *testing.T) {
		b, h, _ := batchOf(t, 10, 100, -1, record.CodecLZ4, s("c"), s("3"))
		out, err := cleanBatch(b, h, get, 100, now, retention, false)
		if err != nil || !bytes.Equal(out.batch, b) {
			t.Fatalf("a batch that keeps everything must be kept byte for byte: %v", err)
		}
		if out.minTs != 100 {
			t.Fatalf("min timestamp %d", out.minTs)
		}
	})
}
