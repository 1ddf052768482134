package partlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/segment"
)

// fakeMeta is the part of the metastore partlog reads, for one topic of
// one partition, with the index changes compaction and retention make.
type fakeMeta struct {
	topic metastore.Topic

	mu    sync.Mutex
	part  metastore.Partition
	rows  []metastore.IndexRow // by BaseOffset
	calls map[string]int
}

func newFakeMeta(name string) *fakeMeta {
	id := metastore.TopicID{0x51, 15: byte(len(name))}
	return &fakeMeta{
		topic: metastore.Topic{Name: name, ID: id, Partitions: 1, ReplicationFactor: 1},
		part:  metastore.Partition{TopicID: id, Partition: 0},
		calls: map[string]int{},
	}
}

func (m *fakeMeta) count(op string) {
	m.calls[op]++
}

func (m *fakeMeta) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

func (m *fakeMeta) Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("Partitions")
	if id != m.topic.ID {
		return nil, metastore.ErrNotFound
	}
	return []metastore.Partition{m.part}, nil
}

func (m *fakeMeta) ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error) {
	return nil, nil
}

func (m *fakeMeta) IndexRows(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64, limit int) ([]metastore.IndexRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("IndexRows")
	return m.filter(id, partition, limit, func(r metastore.IndexRow) bool { return r.LastOffset >= fromOffset }), nil
}

func (m *fakeMeta) IndexRowsByTime(ctx context.Context, id metastore.TopicID, partition int32, ts int64, limit int) ([]metastore.IndexRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("IndexRowsByTime")
	return m.filter(id, partition, limit, func(r metastore.IndexRow) bool { return r.MaxTimestamp >= ts }), nil
}

func (m *fakeMeta) MaxTimestampRow(ctx context.Context, id metastore.TopicID, partition int32) (metastore.IndexRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := m.filter(id, partition, 0, func(metastore.IndexRow) bool { return true })
	if len(rows) == 0 {
		return metastore.IndexRow{}, metastore.ErrNotFound
	}
	best := rows[0]
	for _, r := range rows[1:] {
		if r.MaxTimestamp > best.MaxTimestamp {
			best = r
		}
	}
	return best, nil
}

func (m *fakeMeta) filter(id metastore.TopicID, partition int32, limit int, keep func(metastore.IndexRow) bool) []metastore.IndexRow {
	var out []metastore.IndexRow
	if id != m.topic.ID || partition != 0 {
		return nil
	}
	for _, r := range m.rows {
		if keep(r) {
			out = append(out, r)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

// setRows replaces the whole index (rows in offset order) and sets the
// high watermark past the last.
func (m *fakeMeta) setRows(rows []metastore.IndexRow) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = slices.Clone(rows)
	if len(rows) > 0 {
		m.part.HighWatermark = rows[len(rows)-1].LastOffset + 1
	}
}

// trim raises the log start and deletes the rows wholly below it, as
// Lifecycle.TrimLog does, and returns the deleted rows.
func (m *fakeMeta) trim(logStart int64) []metastore.IndexRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.part.LogStartOffset = max(m.part.LogStartOffset, logStart)
	var kept, gone []metastore.IndexRow
	for _, r := range m.rows {
		if r.LastOffset < m.part.LogStartOffset {
			gone = append(gone, r)
		} else {
			kept = append(kept, r)
		}
	}
	m.rows = kept
	return gone
}

// testLog is a partition's batches, in offset order, and what is known of
// every record.
type testLog struct {
	batches [][]byte
	hdrs    []record.Header
	recTS   []int64 // by offset
}

// makeLog builds n batches of 1 to 5 records of about recBytes each, with
// create times that mostly rise but jump back now and then.
func makeLog(t testing.TB, n, recBytes int, seed uint64) *testLog {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	l := &testLog{}
	var off int64
	ts := int64(1_700_000_000_000)
	for range n {
		k := 1 + rng.IntN(5)
		var recs []record.Record
		first := ts
		maxTS := ts
		for j := range k {
			rts := ts
			if rng.IntN(10) == 0 {
				rts -= 5000 // a late record
			}
			first = min(first, rts)
			maxTS = max(maxTS, rts)
			v := make([]byte, recBytes/2+rng.IntN(recBytes))
			for i := range v {
				v[i] = byte(rng.Uint32())
			}
			recs = append(recs, record.Record{OffsetDelta: int32(j), TimestampDelta: rts, Value: v})
			l.recTS = append(l.recTS, rts)
			ts += int64(1 + rng.IntN(20))
		}
		for j := range recs {
			recs[j].TimestampDelta -= first
		}
		h := record.Header{BaseOffset: off, FirstTimestamp: first, MaxTimestamp: maxTS, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		b, err := record.Build(h, recs, record.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := record.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		l.batches = append(l.batches, b)
		l.hdrs = append(l.hdrs, hdr)
		off += int64(k)
	}
	return l
}

func (l *testLog) hwm() int64 { return l.hdrs[len(l.hdrs)-1].LastOffset() + 1 }

// expectRead is what Read(offset, maxBytes, hwm) must return: whole
// batches from the one holding offset, the first always, the others while
// they fit maxBytes.
func (l *testLog) expectRead(offset int64, maxBytes int) []byte {
	i := sort.Search(len(l.hdrs), func(i int) bool { return l.hdrs[i].LastOffset() >= offset })
	var out []byte
	for ; i < len(l.batches); i++ {
		b := l.batches[i]
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
		if len(out) >= maxBytes {
			break
		}
	}
	return out
}

// expectTimestamp is the first offset at or after start whose timestamp
// is >= ts.
func (l *testLog) expectTimestamp(ts, start int64) (int64, int64, bool) {
	for off := start; off < int64(len(l.recTS)); off++ {
		if l.recTS[off] >= ts {
			return off, l.recTS[off], true
		}
	}
	return 0, 0, false
}

// expectMax is the first offset at or after start holding the largest
// timestamp.
func (l *testLog) expectMax(start int64) (int64, int64) {
	best := start
	for off := start; off < int64(len(l.recTS)); off++ {
		if l.recTS[off] > l.recTS[best] {
			best = off
		}
	}
	return best, l.recTS[best]
}

// meta describes batches [from, to) as one chunk.
func (l *testLog) meta(topic metastore.TopicID, partition int32, from, to int) (segment.ChunkMeta, []byte) {
	m := segment.ChunkMeta{TopicID: topic, Partition: partition, FirstOffset: l.hdrs[from].BaseOffset,
		LastOffset: l.hdrs[to-1].LastOffset(), MinTimestamp: l.hdrs[from].FirstTimestamp, MaxTimestamp: l.hdrs[from].MaxTimestamp,
		Batches: int32(to - from)}
	var data []byte
	for i := from; i < to; i++ {
		m.MinTimestamp = min(m.MinTimestamp, l.hdrs[i].FirstTimestamp)
		m.MaxTimestamp = max(m.MaxTimestamp, l.hdrs[i].MaxTimestamp)
		data = append(data, l.batches[i]...)
	}
	return m, data
}

// runs cuts batches [from, to) into runs of about size bytes.
func (l *testLog) runs(from, to, size int) [][2]int {
	var out [][2]int
	start, n := from, 0
	for i := from; i < to; i++ {
		n += len(l.batches[i])
		if n >= size || i == to-1 {
			out = append(out, [2]int{start, i + 1})
			start, n = i+1, 0
		}
	}
	return out
}

// putFlush writes batches [from, to) as a flush object: another
// partition's chunk, then this partition's, indexed in rows of about
// rowBytes (RowFlush).
func (l *testLog) putFlush(t testing.TB, store objstore.Store, topic metastore.TopicID, key string, from, to, rowBytes int) []metastore.IndexRow {
	t.Helper()
	b := segment.NewBuilder()
	b.Add(segment.ChunkMeta{TopicID: topic, Partition: 9, FirstOffset: 0, LastOffset: 0, Batches: 1}, []byte(key+" other partition's bytes"))
	m, data := l.meta(topic, 0, from, to)
	b.Add(m, data)
	obj, chunks := b.Finish()
	if err := store.Put(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	pos := chunks[1].Pos
	var rows []metastore.IndexRow
	for _, r := range l.runs(from, to, rowBytes) {
		rm, rd := l.meta(topic, 0, r[0], r[1])
		rows = append(rows, metastore.IndexRow{TopicID: topic, Partition: 0, BaseOffset: rm.FirstOffset, LastOffset: rm.LastOffset,
			ObjectKey: key, Pos: pos, Size: int64(len(rd)), MinTimestamp: rm.MinTimestamp, MaxTimestamp: rm.MaxTimestamp, Kind: metastore.RowFlush})
		pos += int64(len(rd))
	}
	return rows
}

// putSegment writes batches [from, to) as a compacted segment object of
// chunks of about chunkBytes, and returns its one RowSegment row.
func (l *testLog) putSegment(t testing.TB, store objstore.Store, topic metastore.TopicID, key string, from, to, chunkBytes int) metastore.IndexRow {
	t.Helper()
	b := segment.NewBuilder()
	for _, r := range l.runs(from, to, chunkBytes) {
		b.Add(l.meta(topic, 0, r[0], r[1]))
	}
	obj, _ := b.Finish()
	if err := store.Put(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	m, _ := l.meta(topic, 0, from, to)
	return metastore.IndexRow{TopicID: topic, Partition: 0, BaseOffset: m.FirstOffset, LastOffset: m.LastOffset,
		ObjectKey: key, Pos: 0, Size: int64(len(obj)), MinTimestamp: m.MinTimestamp, MaxTimestamp: m.MaxTimestamp, Kind: metastore.RowSegment}
}

// readFixture is a Registry with one partition read through a Reader.
type readFixture struct {
	meta   *fakeMeta
	reader *tiering.Reader
	reg    *Registry
	p      *Partition
}

// newReadFixture opens the fake's topic on a Registry reading store
// through a cache of cacheBytes (none if 0) and cfg.
func newReadFixture(t testing.TB, meta *fakeMeta, store objstore.Store, cacheBytes int64, cfg tiering.ReaderConfig) *readFixture {
	t.Helper()
	var cache *tiering.Cache
	if cacheBytes > 0 {
		var err error
		cache, err = tiering.NewCache(filepath.Join(t.TempDir(), "cache"), cacheBytes, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	reader, err := tiering.NewReaderConfig(store, cache, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	reg := NewRegistry(Config{}, Deps{AgentID: "a", Meta: meta, Reader: reader})
	top, err := reg.AddTopic(context.Background(), meta.topic)
	if err != nil {
		t.Fatal(err)
	}
	return &readFixture{meta: meta, reader: reader, reg: reg, p: top.Partition(0)}
}

// readAll reads the partition from offset to its high watermark in reads
// of maxBytes, as a consumer does.
func (f *readFixture) readAll(t testing.TB, offset int64, maxBytes int) []byte {
	t.Helper()
	out, err := f.readAllErr(offset, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readAllErr is readAll for goroutines other than the test's.
func (f *readFixture) readAllErr(offset int64, maxBytes int) ([]byte, error) {
	hwm := f.p.HighWatermark()
	var out []byte
	for offset < hwm {
		data, err := f.p.Read(context.Background(), offset, maxBytes, hwm)
		if err != nil {
			return out, fmt.Errorf("read at %d: %w", offset, err)
		}
		if len(data) == 0 {
			return out, fmt.Errorf("read at %d returned nothing", offset)
		}
		out = append(out, data...)
		last, err := lastOffsetErr(data)
		if err != nil {
			return out, err
		}
		offset = last + 1
	}
	return out, nil
}

// lastOffset is the last offset of the last batch in data.
func lastOffset(t testing.TB, data []byte) int64 {
	t.Helper()
	last, err := lastOffsetErr(data)
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func lastOffsetErr(data []byte) (int64, error) {
	last := int64(-1)
	for len(data) > 0 {
		b, rest, err := record.Next(data)
		if err != nil {
			return 0, err
		}
		h, err := record.ParseHeader(b)
		if err != nil {
			return 0, err
		}
		last, data = h.LastOffset(), rest
	}
	return last, nil
}

func keyf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

func (m *fakeMeta) AbortedTxns(context.Context, metastore.TopicID, int32, int64) ([]metastore.AbortedTxn, error) {
	return nil, nil
}
