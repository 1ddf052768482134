package compaction_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratalog/strata/compaction"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/metastore/postgres/pgtest"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/mem"
	objopen "github.com/stratalog/strata/tiering/objstore/open"
	"github.com/stratalog/strata/tiering/objstore/s3/s3test"
	"github.com/stratalog/strata/tiering/segment"
)

// env is one metastore and object store pair the lifecycle runs on.
type env struct {
	t     testing.TB
	meta  metastore.Store
	objs  objstore.Store
	clock *clock
	seq   uint64
	// want holds every batch written, per partition, in offset order.
	want map[metastore.PartitionRef][]byte
	hwm  map[metastore.PartitionRef]int64
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// forEachEnv runs f on SQLite with a directory store, SQLite with an
// in-memory store, and Postgres with S3 (MinIO in CI).
func forEachEnv(t *testing.T, f func(t *testing.T, e *env)) {
	kinds := []string{"sqlite+fs", "sqlite+mem", "postgres+s3"}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			var metaURL, objURL string
			switch kind {
			case "sqlite+fs":
				metaURL, objURL = "sqlite://"+filepath.Join(dir, "meta.db"), "file://"+filepath.Join(dir, "objects")
			case "sqlite+mem":
				metaURL = "sqlite://" + filepath.Join(dir, "meta.db")
			case "postgres+s3":
				metaURL, objURL = pgtest.URL(t), s3test.URL(t)
			}
			meta, err := metaopen.Metastore(ctx, metaURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { meta.Close() })
			var objs objstore.Store = mem.New()
			if objURL != "" {
				if objs, err = objopen.ObjectStore(ctx, objURL); err != nil {
					t.Fatal(err)
				}
			}
			e := &env{t: t, meta: meta, objs: objs, clock: &clock{t: time.Now()},
				want: map[metastore.PartitionRef][]byte{}, hwm: map[metastore.PartitionRef]int64{}}
			f(t, e)
		})
	}
}

const writer = "writer-agent"

// topic creates a topic with n partitions owned by the writer.
func (e *env) topic(name string, n int32, configs map[string]string) metastore.Topic {
	e.t.Helper()
	ctx := context.Background()
	mt := metastore.Topic{Name: name, Partitions: n, ReplicationFactor: 1, Configs: configs, CreatedAt: time.Now()}
	if _, err := rand.Read(mt.ID[:]); err != nil {
		e.t.Fatal(err)
	}
	if err := e.meta.CreateTopic(ctx, mt); err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		if _, err := e.meta.Claim(ctx, writer, mt.ID, i, 0); err != nil {
			e.t.Fatal(err)
		}
	}
	return mt
}

// flush writes and commits one flush object holding, for each partition
// of each topic, batches batches of recs records of recBytes random bytes
// with timestamp ts, split into index rows of two batches.
func (e *env) flush(topics []metastore.Topic, batches, recs, recBytes int, ts time.Time) string {
	e.t.Helper()
	ctx := context.Background()
	b := segment.NewBuilder()
	type part struct {
		ref  metastore.PartitionRef
		rows []metastore.IndexRow
		prev int64
	}
	var parts []*part
	for _, mt := range topics {
		for i := range mt.Partitions {
			ref := metastore.PartitionRef{TopicID: mt.ID, Partition: i}
			p := &part{ref: ref, prev: e.hwm[ref]}
			var chunk []byte
			off := e.hwm[ref]
			for j := range batches {
				rs := make([]record.Record, recs)
				for k := range rs {
					v := make([]byte, recBytes)
					rand.Read(v)
					rs[k] = record.Record{OffsetDelta: int32(k), Key: []byte(fmt.Sprintf("k%d", k)), Value: v}
				}
				h := record.Header{BaseOffset: off, FirstTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli(),
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
				batch, err := record.Build(h, rs, record.CodecNone)
				if err != nil {
					e.t.Fatal(err)
				}
				if j%2 == 0 {
					p.rows = append(p.rows, metastore.IndexRow{BaseOffset: off, Pos: int64(len(chunk)),
						MinTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli()})
				}
				r := &p.rows[len(p.rows)-1]
				r.LastOffset = off + int64(recs) - 1
				r.Size += int64(len(batch))
				chunk = append(chunk, batch...)
				off += int64(recs)
			}
			b.Add(segment.ChunkMeta{TopicID: ref.TopicID, Partition: ref.Partition, FirstOffset: e.hwm[ref], LastOffset: off - 1,
				MinTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli(), Batches: int32(batches)}, chunk)
			e.want[ref] = append(e.want[ref], chunk...)
			e.hwm[ref] = off
			parts = append(parts, p)
		}
	}
	obj, chunks := b.Finish()
	e.seq++
	key := segment.ObjectKey(writer, e.seq, time.Now())
	if err := e.objs.Put(ctx, key, obj); err != nil {
		e.t.Fatal(err)
	}
	f := metastore.Flush{AgentID: writer, ObjectKey: key, ObjectSize: int64(len(obj)), UploadedAt: time.Now()}
	for i, p := range parts {
		pc := metastore.PartitionCommit{TopicID: p.ref.TopicID, Partition: p.ref.Partition, Epoch: 1,
			PrevHighWatermark: p.prev, NewHighWatermark: e.hwm[p.ref]}
		for _, r := range p.rows {
			r.Pos += chunks[i].Pos
			pc.Rows = append(pc.Rows, r)
		}
		f.Partitions = append(f.Partitions, pc)
	}
	if err := e.meta.CommitFlush(ctx, f); err != nil {
		e.t.Fatal(err)
	}
	return key
}

// service returns a lifecycle Service on e with small sizes, no lag and
// e's clock.
func (e *env) service(holder string, mod func(*compaction.Config)) *compaction.Service {
	e.t.Helper()
	cfg := compaction.Config{
		Holder: holder, TargetSegmentBytes: 1 << 20, ChunkBytes: 64 << 10, MaxLag: time.Nanosecond,
		GCGrace: time.Minute, MaxRequestsPerSecond: -1, Now: e.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := compaction.New(cfg, e.meta, e.objs, nil, testkit.Logger())
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// read returns the batches the index points at for the partition, from
// the log start, checking that rows tile the offsets and that every row's
// batches lie within it.
func (e *env) read(ref metastore.PartitionRef) ([]byte, []metastore.IndexRow) {
	e.t.Helper()
	ctx := context.Background()
	rows, err := e.meta.IndexRows(ctx, ref.TopicID, ref.Partition, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []byte
	for i, r := range rows {
		if i > 0 && r.BaseOffset != rows[i-1].LastOffset+1 {
			e.t.Fatalf("%v: row %d starts at %d after a row ending at %d", ref, i, r.BaseOffset, rows[i-1].LastOffset)
		}
		var data []byte
		switch r.Kind {
		case metastore.RowFlush:
			data, err = e.objs.GetRange(ctx, r.ObjectKey, r.Pos, r.Size)
		case metastore.RowSegment:
			var obj []byte
			obj, err = e.objs.GetRange(ctx, r.ObjectKey, 0, r.Size)
			if err == nil {
				chunks, perr := segment.Parse(obj)
				if perr != nil {
					e.t.Fatalf("segment %s: %v", r.ObjectKey, perr)
				}
				for _, c := range chunks {
					if c.TopicID != ref.TopicID || c.Partition != ref.Partition {
						e.t.Fatalf("segment %s holds another partition", r.ObjectKey)
					}
				}
				last := chunks[len(chunks)-1]
				// The key cleaner may drop a row's first batches, never
				// its last.
				if chunks[0].FirstOffset < r.BaseOffset || last.LastOffset != r.LastOffset {
					e.t.Fatalf("segment %s chunks span [%d, %d], row [%d, %d]", r.ObjectKey,
						chunks[0].FirstOffset, last.LastOffset, r.BaseOffset, r.LastOffset)
				}
				data = obj[:last.Pos+last.Size]
			}
		}
		if err != nil {
			e.t.Fatalf("%v: read row [%d, %d] in %s: %v", ref, r.BaseOffset, r.LastOffset, r.ObjectKey, err)
		}
		for rest := data; len(rest) > 0; {
			b, more, err := record.Next(rest)
			if err != nil {
				e.t.Fatal(err)
			}
			h, _ := record.ParseHeader(b)
			if h.BaseOffset < r.BaseOffset || h.LastOffset() > r.LastOffset {
				e.t.Fatalf("batch [%d, %d] outside its row [%d, %d]", h.BaseOffset, h.LastOffset(), r.BaseOffset, r.LastOffset)
			}
			rest = more
		}
		out = append(out, data...)
	}
	return out, rows
}

// checkAll asserts every partition reads back byte for byte, and
// returns the index rows of all of them.
func (e *env) checkAll() []metastore.IndexRow {
	e.t.Helper()
	var all []metastore.IndexRow
	for ref, want := range e.want {
		got, rows := e.read(ref)
		if !bytes.Equal(got, want) {
			e.t.Fatalf("%v: read %d bytes back, wrote %d; equal prefix %d", ref, len(got), len(want), commonPrefix(got, want))
		}
		all = append(all, rows...)
	}
	return all
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// keys lists the bucket.
func (e *env) keys() []string {
	e.t.Helper()
	list, err := e.objs.List(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, o := range list {
		out = append(out, o.Key)
	}
	return out
}

// checkReferenced asserts every object an index row names is in the
// bucket: garbage collection never deleted a referenced object.
func (e *env) checkReferenced() {
	e.t.Helper()
	have := map[string]bool{}
	for _, k := range e.keys() {
		have[k] = true
	}
	for ref := range e.want {
		rows, err := e.meta.IndexRows(context.Background(), ref.TopicID, ref.Partition, 0, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range rows {
			if !have[r.ObjectKey] {
				e.t.Fatalf("%v: row [%d, %d] names %s, which is not in the bucket", ref, r.BaseOffset, r.LastOffset, r.ObjectKey)
			}
		}
	}
}

func stats(t *testing.T, meta metastore.Store) map[string]metastore.ObjectStat {
	t.Helper()
	st, err := meta.ObjectStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]metastore.ObjectStat{}
	for _, s := range st {
		k := string(s.Kind) + "/live"
		if s.Dead {
			k = string(s.Kind) + "/dead"
		}
		out[k] = s
	}
	return out
}

func compactUntilDone(t *testing.T, s *compaction.Service) int {
	t.Helper()
	total := 0
	for range 20 {
		n, err := s.CompactOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	t.Fatal("compaction did not settle in 20 passes")
	return total
}

// TestCompactAndCollect: flush objects of many partitions become
// per-partition segments that read back byte for byte at the same
// offsets; the flush objects die, and once the grace period is over GC
// deletes them, leaving only segments in the bucket.
func TestCompactAndCollect(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		topics := []metastore.Topic{e.topic("a", 2, nil), e.topic("b", 1, nil)}
		var flushes []string
		for range 24 {
			flushes = append(flushes, e.flush(topics, 4, 4, 5000, time.Now()))
		}
		e.checkAll()
		s := e.service("compactor-1", nil)
		if n := compactUntilDone(t, s); n < 3 {
			t.Fatalf("%d jobs, want at least one per partition", n)
		}
		rows := e.checkAll()
		segs := 0
		for _, r := range rows {
			if r.Kind != metastore.RowSegment {
				t.Fatalf("row [%d, %d] in %s is still a flush row", r.BaseOffset, r.LastOffset, r.ObjectKey)
			}
			segs++
		}
		// ~1.9 MB per partition at a 1 MiB target: 2 or 3 segments each.
		if segs > 3*3 {
			t.Errorf("%d segments for 3 partitions of ~1.9 MB at a 1 MiB target", segs)
		}
		st := stats(t, e.meta)
		if st["flush/live"].Count != 0 || st["flush/dead"].Count != int64(len(flushes)) {
			t.Errorf("flush objects: %+v live, %+v dead; want 0 and %d", st["flush/live"], st["flush/dead"], len(flushes))
		}
		if st["segment/live"].Count != int64(segs) || st["segment/live"].LiveBytes != st["segment/live"].Bytes {
			t.Errorf("segment objects: %+v, want %d wholly live", st["segment/live"], segs)
		}

		// Within the grace period nothing goes.
		if n, err := s.CollectOnce(ctx); err != nil || n != 0 {
			t.Fatalf("CollectOnce in the grace period = %d, %v", n, err)
		}
		e.clock.Advance(2 * time.Minute)
		if n, err := s.CollectOnce(ctx); err != nil || n != len(flushes) {
			t.Fatalf("CollectOnce after the grace period = %d, %v; want %d", n, err, len(flushes))
		}
		for _, k := range e.keys() {
			if !strings.Contains(k, "/cseg/") {
				t.Errorf("bucket still holds %s", k)
			}
		}
		if got := len(e.keys()); got != segs {
			t.Errorf("bucket holds %d objects, index %d segments", got, segs)
		}
		e.checkAll()
		e.checkReferenced()

		// More data at a trickle: lagged flush rows become small
		// segments, which merge once there are enough of them.
		for range 4 {
			e.flush(topics, 1, 1, 100, time.Now())
			compactUntilDone(t, s)
		}
		e.checkAll()
		for ref := range e.want {
			_, rows := e.read(ref)
			small := 0
			for _, r := range rows {
				if r.Kind != metastore.RowSegment {
					t.Errorf("%v: flush row left after lagged compaction", ref)
				}
				if r.Size < 1<<19 {
					small++
				}
			}
			if small > 3 {
				t.Errorf("%v: %d small segments; four merge", ref, small)
			}
		}
	})
}

// TestRetention: time and size limits move the log start by whole rows,
// never past the high watermark, and the freed objects die.
func TestRetention(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		byTime := e.topic("by-time", 1, map[string]string{"retention.ms": "86400000"})
		bySize := e.topic("by-size", 1, map[string]string{"retention.ms": "-1", "retention.bytes": "60000"})
		forever := e.topic("forever", 1, map[string]string{"retention.ms": "-1"})
		all := []metastore.Topic{byTime, bySize, forever}
		old := time.Now().Add(-10 * 24 * time.Hour)
		for range 3 {
			e.flush(all, 2, 2, 5000, old)
		}
		ref := func(mt metastore.Topic) metastore.PartitionRef { return metastore.PartitionRef{TopicID: mt.ID} }
		firstNew := e.hwm[ref(byTime)]
		for range 3 {
			e.flush(all, 2, 2, 5000, time.Now())
		}
		var moved []int64
		s := e.service("compactor-1", func(c *compaction.Config) {
			c.OnLogStart = func(r metastore.PartitionRef, start int64) { moved = append(moved, start) }
		})
		if n, err := s.RetainOnce(ctx); err != nil || n != 2 {
			t.Fatalf("RetainOnce = %d, %v; want 2 partitions moved", n, err)
		}
		parts := func(mt metastore.Topic) metastore.Partition {
			ps, err := e.meta.Partitions(ctx, mt.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ps[0]
		}
		if p := parts(byTime); p.LogStartOffset != firstNew || p.HighWatermark != e.hwm[ref(byTime)] {
			t.Errorf("by-time: log start %d, hwm %d; want %d, %d", p.LogStartOffset, p.HighWatermark, firstNew, e.hwm[ref(byTime)])
		}
		// by-size: 6 flushes of two ~10 KB batches: rows of ~20 KB; at
		// least 60,000 bytes stay, so three rows.
		p := parts(bySize)
		rows, _ := e.meta.IndexRows(ctx, bySize.ID, 0, 0, 0)
		var kept int64
		for _, r := range rows {
			kept += r.Size
		}
		if kept < 60000 || kept-rows[0].Size >= 60000 || rows[0].BaseOffset != p.LogStartOffset {
			t.Errorf("by-size: kept %d bytes in %d rows from %d, log start %d", kept, len(rows), rows[0].BaseOffset, p.LogStartOffset)
		}
		if p := parts(forever); p.LogStartOffset != 0 {
			t.Errorf("forever: log start %d", p.LogStartOffset)
		}
		if len(moved) != 2 {
			t.Errorf("OnLogStart called %d times, want 2", len(moved))
		}
		// The three old flush objects still hold forever's rows: live.
		// Compaction moves those; then the old objects are dead.
		compactUntilDone(t, s)
		e.clock.Advance(2 * time.Minute)
		if _, err := s.CollectOnce(ctx); err != nil {
			t.Fatal(err)
		}
		e.checkReferenced()
		got, _ := e.read(ref(forever))
		if !bytes.Equal(got, e.want[ref(forever)]) {
			t.Errorf("forever: %d bytes read back, %d written", len(got), len(e.want[ref(forever)]))
		}
		// Everything expired: the log start reaches the high watermark
		// and stays there.
		e.meta.SetTopicConfigs(ctx, "by-time", map[string]string{"retention.ms": "1"})
		time.Sleep(5 * time.Millisecond)
		if _, err := s.RetainOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if p := parts(byTime); p.LogStartOffset != p.HighWatermark || p.HighWatermark != e.hwm[ref(byTime)] {
			t.Errorf("by-time after expiry of all: log start %d, hwm %d, want both %d", p.LogStartOffset, p.HighWatermark, e.hwm[ref(byTime)])
		}
	})
}

// TestOrphanSweep: an object whose commit was fenced is unknown to the
// metastore; the sweeper deletes it only once it is older than the
// orphan age, and never touches keys Strata does not write.
func TestOrphanSweep(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mt := e.topic("t", 1, nil)
		e.flush([]metastore.Topic{mt}, 1, 1, 100, time.Now())
		orphan := segment.ObjectKey("fenced-agent", 1, time.Now())
		if err := e.objs.Put(ctx, orphan, []byte("uploaded, never committed")); err != nil {
			t.Fatal(err)
		}
		err := e.meta.CommitFlush(ctx, metastore.Flush{AgentID: "fenced-agent", ObjectKey: orphan, ObjectSize: 25,
			Partitions: []metastore.PartitionCommit{{TopicID: mt.ID, Epoch: 1, PrevHighWatermark: e.hwm[metastore.PartitionRef{TopicID: mt.ID}],
				NewHighWatermark: e.hwm[metastore.PartitionRef{TopicID: mt.ID}] + 1}}})
		if !errors.Is(err, metastore.ErrFenced) {
			t.Fatalf("commit by a non-owner: %v, want ErrFenced", err)
		}
		foreign := []string{"probe/agent-1", "notes/readme.txt"}
		for _, k := range foreign {
			if err := e.objs.Put(ctx, k, []byte("not ours")); err != nil {
				t.Fatal(err)
			}
		}
		s := e.service("compactor-1", nil)
		if n, err := s.SweepOnce(ctx); err != nil || n != 0 {
			t.Fatalf("sweep of a young orphan = %d, %v", n, err)
		}
		if !slices.Contains(e.keys(), orphan) {
			t.Fatal("young orphan deleted")
		}
		e.clock.Advance(time.Hour + time.Minute)
		if n, err := s.SweepOnce(ctx); err != nil || n != 1 {
			t.Fatalf("sweep after the orphan age = %d, %v; want 1", n, err)
		}
		keys := e.keys()
		if slices.Contains(keys, orphan) {
			t.Error("orphan survived the sweep")
		}
		for _, k := range foreign {
			if !slices.Contains(keys, k) {
				t.Errorf("sweep deleted %s, which Strata does not write", k)
			}
		}
		e.checkAll()
		e.checkReferenced()
	})
}

// TestRacingCompactors: two compactors working the same partitions at
// once never both install a result; the data reads back whole, and after
// GC and the sweep the bucket holds exactly the referenced objects.
func TestRacingCompactors(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		topics := []metastore.Topic{e.topic("race", 3, nil)}
		a := e.service("compactor-a", nil)
		b := e.service("compactor-b", func(c *compaction.Config) { c.LeaseTTL = time.Nanosecond })
		for round := range 3 {
			for range 8 {
				e.flush(topics, 2, 2, 8000, time.Now())
			}
			var wg sync.WaitGroup
			for _, s := range []*compaction.Service{a, b, a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.CompactOnce(ctx); err != nil {
						t.Errorf("round %d: %v", round, err)
					}
				}()
			}
			wg.Wait()
			e.checkAll()
			e.checkReferenced()
		}
		compactUntilDone(t, a)
		e.clock.Advance(2 * time.Hour)
		if _, err := a.CollectOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.SweepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		rows := e.checkAll()
		referenced := map[string]bool{}
		for _, r := range rows {
			referenced[r.ObjectKey] = true
		}
		keys := e.keys()
		for _, k := range keys {
			if !referenced[k] {
				t.Errorf("bucket holds %s, which nothing references", k)
			}
		}
		if len(keys) != len(referenced) {
			t.Errorf("bucket holds %d objects, index references %d", len(keys), len(referenced))
		}
	})
}

// TestGCRacesReaders: readers resolve index rows and read them while
// compaction switches rows and GC (no grace) deletes the old objects. A
// reader whose object is gone re-resolves and gets the same bytes; no
// referenced object is ever deleted.
func TestGCRacesReaders(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mt := e.topic("read", 1, nil)
		ref := metastore.PartitionRef{TopicID: mt.ID}
		for range 10 {
			e.flush([]metastore.Topic{mt}, 2, 2, 4000, time.Now())
		}
		want := slices.Clone(e.want[ref])
		s := e.service("compactor-1", func(c *compaction.Config) { c.GCGrace = time.Nanosecond })
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		reresolved, reads := 0, 0
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					got, n := readResolving(t, e, ref, int64(len(want)))
					mu.Lock()
					reresolved += n
					reads++
					mu.Unlock()
					if !bytes.Equal(got, want) {
						t.Errorf("reader got %d bytes, want %d", len(got), len(want))
						return
					}
				}
			}()
		}
		for range 5 {
			if _, err := s.CompactOnce(ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Second)
			if _, err := s.CollectOnce(ctx); err != nil {
				t.Fatal(err)
			}
			e.checkReferenced()
			time.Sleep(20 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		t.Logf("%d reads, %d re-resolved after their object was collected", reads, reresolved)
		e.checkAll()
	})
}

// readResolving reads the partition from offset 0 up to size bytes the
// way a fetch does: resolve a row, read it; when its object is gone
// (collected after a switch), resolve the offset again.
func readResolving(t *testing.T, e *env, ref metastore.PartitionRef, size int64) ([]byte, int) {
	ctx := context.Background()
	var out []byte
	next, reresolved := int64(0), 0
	for int64(len(out)) < size {
		rows, err := e.meta.IndexRows(ctx, ref.TopicID, ref.Partition, next, 4)
		if err != nil || len(rows) == 0 {
			t.Errorf("resolve %d: %v (%d rows)", next, err, len(rows))
			return out, reresolved
		}
		for _, r := range rows {
			var data []byte
			if r.Kind == metastore.RowFlush {
				data, err = e.objs.GetRange(ctx, r.ObjectKey, r.Pos, r.Size)
			} else {
				var obj []byte
				if obj, err = e.objs.GetRange(ctx, r.ObjectKey, 0, r.Size); err == nil {
					chunks, _ := segment.Parse(obj)
					last := chunks[len(chunks)-1]
					data = obj[:last.Pos+last.Size]
				}
			}
			if errors.Is(err, objstore.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
				reresolved++
				break
			}
			if err != nil {
				t.Errorf("read %s: %v", r.ObjectKey, err)
				return out, reresolved
			}
			// A row may start before next (a segment spanning rows read
			// already): skip the batches below next.
			for len(data) > 0 {
				b, rest, _ := record.Next(data)
				h, _ := record.ParseHeader(b)
				if h.BaseOffset >= next {
					out = append(out, b...)
					next = h.LastOffset() + 1
				}
				data = rest
			}
		}
	}
	return out, reresolved
}

// failingStore fails every Put while fail is set.
type failingStore struct {
	objstore.Store
	mu   sync.Mutex
	fail bool
}

func (f *failingStore) Put(ctx context.Context, key string, data []byte) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return errors.New("injected put failure")
	}
	return f.Store.Put(ctx, key, data)
}

// conflictStore refuses every compaction switch as if another compactor
// had got there first.
type conflictStore struct {
	metastore.Store
}

func (conflictStore) Replace(ctx context.Context, r metastore.Replacement) error {
	return fmt.Errorf("injected: %w", metastore.ErrConflict)
}

// TestFaults: a failed PUT fails the job and changes nothing; a refused
// switch discards the output object.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	meta, err := metaopen.Metastore(ctx, "sqlite://"+filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	fs := &failingStore{Store: mem.New(), fail: true}
	e := &env{t: t, meta: meta, objs: fs, clock: &clock{t: time.Now()},
		want: map[metastore.PartitionRef][]byte{}, hwm: map[metastore.PartitionRef]int64{}}
	mt := e.topic("f", 2, nil)
	fs.mu.Lock()
	fs.fail = false
	fs.mu.Unlock()
	for range 4 {
		e.flush([]metastore.Topic{mt}, 2, 2, 1000, time.Now())
	}
	before := e.keys()
	e.clock.Advance(time.Second) // past MaxLag: every flush row is due
	fs.mu.Lock()
	fs.fail = true
	fs.mu.Unlock()
	s := e.service("c", nil)
	if _, err := s.CompactOnce(ctx); err == nil || !strings.Contains(err.Error(), "injected put failure") {
		t.Fatalf("CompactOnce with failing PUTs: %v", err)
	}
	for _, r := range e.checkAll() {
		if r.Kind != metastore.RowFlush {
			t.Fatal("a failed job changed the index")
		}
	}
	fs.mu.Lock()
	fs.fail = false
	fs.mu.Unlock()

	e.meta = conflictStore{meta}
	s = e.service("c", nil)
	if n, err := s.CompactOnce(ctx); err != nil || n != 0 {
		t.Fatalf("CompactOnce with refused switches = %d, %v", n, err)
	}
	if got := e.keys(); !slices.Equal(got, before) {
		t.Errorf("bucket after refused switches: %v, want %v (outputs deleted)", got, before)
	}
	e.meta = meta
	e.checkAll()
}

// TestCompactionYieldsWhenBusy: while Busy says produce needs the
// machine, compaction that is not overdue waits, also between the jobs
// of one partition (Busy turning on after the first job leaves the rest
// for a later pass); once the data is past the max lag it is compacted
// however busy produce is.
func TestCompactionYieldsWhenBusy(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		topics := []metastore.Topic{e.topic("busy", 1, nil)}
		for range 48 { // ~3.8 MB: three 1 MiB segments before the lag
			e.flush(topics, 4, 4, 5000, time.Now())
		}
		var calls atomic.Int64
		busyAfter := int64(0) // Busy answers false this many times, then true
		s := e.service("compactor-1", func(c *compaction.Config) {
			c.MaxLag = time.Hour
			c.Busy = func() bool { return calls.Add(1) > busyAfter }
		})
		flushRows := func() int {
			n := 0
			for _, r := range e.checkAll() {
				if r.Kind == metastore.RowFlush {
					n++
				}
			}
			return n
		}
		before := flushRows()
		if n, err := s.CompactOnce(context.Background()); err != nil || n != 0 {
			t.Fatalf("CompactOnce while busy = %d, %v; want no job", n, err)
		}
		if got := flushRows(); got != before {
			t.Fatalf("%d flush rows after a busy pass, want %d", got, before)
		}
		calls.Store(0)
		busyAfter = 1 // the pass starts the partition, then produce gets busy
		if n, err := s.CompactOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("CompactOnce getting busy after the first job = %d, %v; want 1 job", n, err)
		}
		if got := flushRows(); got >= before {
			t.Fatalf("%d flush rows after one job, want fewer than %d", got, before)
		}
		// Overdue: compacted while busy.
		calls.Store(0)
		busyAfter = 0
		e.clock.Advance(2 * time.Hour)
		compactUntilDone(t, s)
		if got := flushRows(); got != 0 {
			t.Fatalf("%d flush rows left of overdue data while busy", got)
		}
		e.checkAll()
	})
}
