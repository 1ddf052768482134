package partlog

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/tiering"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/mem"
)

// smallBlocks reads 64 KiB blocks (the smallest allowed), so the test
// segments of a few hundred KiB have several.
var smallBlocks = tiering.ReaderConfig{BlockBytes: 64 << 10, ReadAheadBytes: 1 << 20}

// mixedLog is a partition whose index is flush rows and segment rows in
// turn, as while compaction is catching up: flush, segment (several
// blocks), flush, flush, segment, a small segment (one block), flush.
func mixedLog(t testing.TB, store objstore.Store, meta *fakeMeta) (*testLog, []metastore.IndexRow) {
	t.Helper()
	l := makeLog(t, 1500, 200, 1)
	id := meta.topic.ID
	var rows []metastore.IndexRow
	rows = append(rows, l.putFlush(t, store, id, "f/0", 0, 200, 4<<10)...)
	rows = append(rows, l.putSegment(t, store, id, "s/0", 200, 700, 16<<10))
	rows = append(rows, l.putFlush(t, store, id, "f/1", 700, 800, 4<<10)...)
	rows = append(rows, l.putFlush(t, store, id, "f/2", 800, 900, 4<<10)...)
	rows = append(rows, l.putSegment(t, store, id, "s/1", 900, 1300, 16<<10))
	rows = append(rows, l.putSegment(t, store, id, "s/2", 1300, 1400, 16<<10))
	rows = append(rows, l.putFlush(t, store, id, "f/3", 1400, 1500, 4<<10)...)
	meta.setRows(rows)
	return l, rows
}

// TestReadMixedRowsEveryOffset: reads at every offset of a log of flush
// and segment rows return exactly the stored batches, for fetch sizes from
// one batch to many chunks, with and without a read cache.
func TestReadMixedRowsEveryOffset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cacheBytes int64
	}{
		{"blocks through the cache", 64 << 20},
		{"no cache: chunks alone", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := mem.New()
			meta := newFakeMeta("mixed")
			l, _ := mixedLog(t, store, meta)
			f := newReadFixture(t, meta, store, tc.cacheBytes, smallBlocks)
			ctx := context.Background()
			hwm := l.hwm()
			check := func(off int64, maxBytes int) {
				t.Helper()
				got, err := f.p.Read(ctx, off, maxBytes, hwm)
				if err != nil {
					t.Fatalf("Read(%d, %d): %v", off, maxBytes, err)
				}
				if want := l.expectRead(off, maxBytes); !bytes.Equal(got, want) {
					t.Fatalf("Read(%d, %d): %d bytes, want %d", off, maxBytes, len(got), len(want))
				}
			}
			// One batch at every offset; more from every batch's first
			// and last offset (the chunk, block, row and object
			// boundaries are among them); many chunks from some.
			for off := range hwm {
				check(off, 1)
			}
			for i, h := range l.hdrs {
				check(h.BaseOffset, 10<<10)
				check(h.LastOffset(), 10<<10)
				if i%10 == 0 {
					check(h.BaseOffset, 100<<10)
				}
			}
			// Never past the high watermark the caller gives.
			got, err := f.p.Read(ctx, 0, 1<<30, l.hdrs[1000].BaseOffset)
			if err != nil {
				t.Fatal(err)
			}
			if lastOffset(t, got) != l.hdrs[999].LastOffset() {
				t.Fatalf("Read below hwm %d ended at %d", l.hdrs[1000].BaseOffset, lastOffset(t, got))
			}
		})
	}
}

// TestReadSequentialGETs: a cold sequential read fetches each flush row
// once, and each segment's footer and blocks once; a second read is all
// cache hits.
func TestReadSequentialGETs(t *testing.T) {
	t.Parallel()
	store := mem.New()
	meta := newFakeMeta("seq")
	l, rows := mixedLog(t, store, meta)
	f := newReadFixture(t, meta, store, 64<<20, smallBlocks)
	var all []byte
	for _, b := range l.batches {
		all = append(all, b...)
	}
	if got := f.readAll(t, 0, 32<<10); !bytes.Equal(got, all) {
		t.Fatalf("sequential read: %d bytes, want %d", len(got), len(all))
	}
	// Distinct ranges: each flush row, and per segment its tail and
	// blocks (64 KiB blocks are at least 32 KiB).
	var most int64
	for _, r := range rows {
		if r.Kind == metastore.RowSegment {
			most += 1 + r.Size/(32<<10) + 1
		} else {
			most++
		}
	}
	waitQuiet(t, store)
	gets := store.Calls(mem.OpGetRange)
	if gets > most {
		t.Fatalf("%d GETs for %d rows, want at most %d", gets, len(rows), most)
	}
	if got := f.readAll(t, 0, 1<<20); !bytes.Equal(got, all) {
		t.Fatal("second sequential read differs")
	}
	if n := store.Calls(mem.OpGetRange); n != gets {
		t.Fatalf("second read made %d GETs, want 0", n-gets)
	}
}

// waitQuiet waits until the store has seen no new GET for a while (the
// read-ahead has settled).
func waitQuiet(t *testing.T, store *mem.Store) {
	t.Helper()
	last, same := store.Calls(mem.OpGetRange), 0
	for same < 50 {
		sleepMs(2)
		if n := store.Calls(mem.OpGetRange); n != last {
			last, same = n, 0
		} else {
			same++
		}
	}
}

// TestReadReresolvesAfterCompaction: a reader holding index rows from
// before compaction switched them, whose objects garbage collection then
// deleted, reads the new rows' objects without an error, across two
// compactions (flush rows → a segment → two segments).
func TestReadReresolvesAfterCompaction(t *testing.T) {
	t.Parallel()
	store := mem.New()
	meta := newFakeMeta("compacted")
	l := makeLog(t, 300, 200, 2)
	id := meta.topic.ID
	var rows []metastore.IndexRow
	for i := range 3 {
		rows = append(rows, l.putFlush(t, store, id, keyf("f/%d", i), i*100, i*100+100, 4<<10)...)
	}
	meta.setRows(rows)
	// No read-ahead: nothing but the reads below is fetched, so every
	// later read meets a deleted object.
	cfg := smallBlocks
	cfg.ReadAhead = -1
	f := newReadFixture(t, meta, store, 64<<20, cfg)
	ctx := context.Background()
	hwm := l.hwm()
	if _, err := f.p.Read(ctx, 0, 1, hwm); err != nil {
		t.Fatal(err)
	}
	compact := func(keys []string, newRows ...metastore.IndexRow) {
		t.Helper()
		meta.setRows(newRows)
		for _, k := range keys {
			if err := store.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	compact([]string{"f/0", "f/1", "f/2"}, l.putSegment(t, store, id, "s/a", 0, 300, 16<<10))

	check := func(off int64) {
		t.Helper()
		got, err := f.p.Read(ctx, off, 8<<10, hwm)
		if err != nil {
			t.Fatalf("Read(%d) after compaction: %v", off, err)
		}
		if want := l.expectRead(off, 8<<10); !bytes.Equal(got, want) {
			t.Fatalf("Read(%d) after compaction: %d bytes, want %d", off, len(got), len(want))
		}
	}
	before := meta.Calls("IndexRows")
	check(l.hdrs[50].BaseOffset)
	if meta.Calls("IndexRows") == before {
		t.Fatal("the index was not asked again")
	}
	for _, i := range []int{51, 120, 299} {
		check(l.hdrs[i].BaseOffset)
	}

	// Compacted again while the reader holds segment s/a's row and footer.
	compact([]string{"s/a"}, l.putSegment(t, store, id, "s/b", 0, 150, 16<<10), l.putSegment(t, store, id, "s/c", 150, 300, 16<<10))
	for _, i := range []int{10, 200, 140, 160} {
		check(l.hdrs[i].BaseOffset + 1)
	}

	// An object lost while the index still names it is an error, not a
	// loop.
	if err := store.Delete(ctx, "s/c"); err != nil {
		t.Fatal(err)
	}
	bare := newReadFixture(t, meta, store, 0, cfg) // nothing of s/c cached
	_, err := bare.p.Read(ctx, l.hdrs[280].BaseOffset, 1, hwm)
	if !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("read of an object lost under its live row: err = %v, want objstore.ErrNotExist", err)
	}
}

// TestReadBelowLogStartAfterRetention: retention elsewhere raised the log
// start and garbage collection deleted the objects below it; a reader
// with old rows cached gets no data and no error, and the partition's log
// start follows the metastore, so the next fetch says OFFSET_OUT_OF_RANGE.
func TestReadBelowLogStartAfterRetention(t *testing.T) {
	t.Parallel()
	store := mem.New()
	meta := newFakeMeta("retained")
	l := makeLog(t, 300, 200, 3)
	id := meta.topic.ID
	var rows []metastore.IndexRow
	for i := range 3 {
		rows = append(rows, l.putFlush(t, store, id, keyf("f/%d", i), i*100, i*100+100, 4<<10)...)
	}
	meta.setRows(rows)
	cfg := smallBlocks
	cfg.ReadAhead = -1
	f := newReadFixture(t, meta, store, 64<<20, cfg)
	ctx := context.Background()
	hwm := l.hwm()
	if _, err := f.p.Read(ctx, 0, 1, hwm); err != nil {
		t.Fatal(err)
	}

	newStart := l.hdrs[150].BaseOffset
	meta.trim(newStart)
	if err := store.Delete(ctx, "f/0"); err != nil { // wholly below: collected
		t.Fatal(err)
	}
	changed := f.reg.HWMChanged()
	got, err := f.p.Read(ctx, l.hdrs[50].BaseOffset, 1<<20, hwm)
	if err != nil || len(got) != 0 {
		t.Fatalf("read below the new log start = %d bytes, %v; want none, no error", len(got), err)
	}
	if f.p.LogStart() != newStart {
		t.Fatalf("LogStart = %d, want the metastore's %d", f.p.LogStart(), newStart)
	}
	select {
	case <-changed:
	default:
		t.Fatal("long-polling fetches were not woken to see the new log start")
	}

	// A partition with no rows cached finds the offset gone from the index.
	g := newReadFixture(t, meta, store, 0, cfg)
	got, err = g.p.Read(ctx, 10, 1<<20, hwm)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh read below the log start = %d bytes, %v; want none, no error", len(got), err)
	}
	if g.p.LogStart() != newStart {
		t.Fatalf("fresh partition LogStart = %d, want %d", g.p.LogStart(), newStart)
	}
	// Above it reads go on.
	off := l.hdrs[200].BaseOffset
	if got, err := g.p.Read(ctx, off, 1, hwm); err != nil || !bytes.Equal(got, l.expectRead(off, 1)) {
		t.Fatalf("read above the log start: %v", err)
	}
}

func TestFindTimestampMixedRows(t *testing.T) {
	t.Parallel()
	store := mem.New()
	meta := newFakeMeta("times")
	l, _ := mixedLog(t, store, meta)
	f := newReadFixture(t, meta, store, 64<<20, smallBlocks)
	ctx := context.Background()
	probes := []int64{l.recTS[0] - 100_000, l.recTS[len(l.recTS)-1] + 100_000}
	for off := 0; off < len(l.recTS); off += 37 {
		probes = append(probes, l.recTS[off], l.recTS[off]+1)
	}
	for _, ts := range probes {
		off, found, ok, err := f.p.FindTimestamp(ctx, ts)
		if err != nil {
			t.Fatal(err)
		}
		wantOff, wantTS, wantOK := l.expectTimestamp(ts, 0)
		if ok != wantOK || off != wantOff || found != wantTS {
			t.Fatalf("FindTimestamp(%d) = %d, %d, %v; want %d, %d, %v", ts, off, found, ok, wantOff, wantTS, wantOK)
		}
	}
	off, ts, ok, err := f.p.MaxTimestamp(ctx)
	wantOff, wantTS := l.expectMax(0)
	if err != nil || !ok || off != wantOff || ts != wantTS {
		t.Fatalf("MaxTimestamp = %d, %d, %v, %v; want %d, %d", off, ts, ok, err, wantOff, wantTS)
	}
}

// TestTimestampLookupsReadOneChunk: by timestamp, a segment row costs its
// footer and the one chunk holding the answer, not the segment or a block.
func TestTimestampLookupsReadOneChunk(t *testing.T) {
	t.Parallel()
	l := makeLog(t, 1000, 200, 4)
	for _, tc := range []struct {
		name string
		run  func(p *Partition) (int64, int64, bool, error)
		want func() (int64, int64)
	}{
		{"FindTimestamp", func(p *Partition) (int64, int64, bool, error) {
			return p.FindTimestamp(context.Background(), l.recTS[1234])
		}, func() (int64, int64) { o, ts, _ := l.expectTimestamp(l.recTS[1234], 0); return o, ts }},
		{"MaxTimestamp", func(p *Partition) (int64, int64, bool, error) {
			return p.MaxTimestamp(context.Background())
		}, func() (int64, int64) { return l.expectMax(0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := mem.New()
			meta := newFakeMeta("lookup")
			row := l.putSegment(t, store, meta.topic.ID, "s/one", 0, 1000, 16<<10)
			meta.setRows([]metastore.IndexRow{row})
			f := newReadFixture(t, meta, store, 64<<20, smallBlocks)
			off, ts, ok, err := tc.run(f.p)
			wantOff, wantTS := tc.want()
			if err != nil || !ok || off != wantOff || ts != wantTS {
				t.Fatalf("= %d, %d, %v, %v; want %d, %d", off, ts, ok, err, wantOff, wantTS)
			}
			if n := store.Calls(mem.OpGetRange); n != 2 {
				t.Fatalf("%d GETs, want 2 (footer, one chunk)", n)
			}
		})
	}
}

// TestTimestampLookupReresolves: a lookup whose row's object was deleted
// (compacted meanwhile) asks the index again.
func TestTimestampLookupReresolves(t *testing.T) {
	t.Parallel()
	store := mem.New()
	meta := newFakeMeta("lookup-gone")
	l := makeLog(t, 300, 200, 5)
	id := meta.topic.ID
	row := l.putSegment(t, store, id, "s/old", 0, 300, 16<<10)
	meta.setRows([]metastore.IndexRow{row})
	f := newReadFixture(t, meta, store, 0, smallBlocks)
	ctx := context.Background()
	if _, _, _, err := f.p.MaxTimestamp(ctx); err != nil { // footer cached
		t.Fatal(err)
	}
	// The store's GET of s/old's chunk finds it gone just as it is
	// replaced.
	newRow := l.putSegment(t, store, id, "s/new", 0, 300, 16<<10)
	store.SetFault(func(op, key string) error {
		if op == mem.OpGetRange && key == "s/old" {
			meta.setRows([]metastore.IndexRow{newRow})
			return objstore.ErrNotExist
		}
		return nil
	})
	ts := l.recTS[500]
	off, found, ok, err := f.p.FindTimestamp(ctx, ts)
	wantOff, wantTS, _ := l.expectTimestamp(ts, 0)
	if err != nil || !ok || off != wantOff || found != wantTS {
		t.Fatalf("FindTimestamp = %d, %d, %v, %v; want %d, %d", off, found, ok, err, wantOff, wantTS)
	}
}

func TestReadStreams(t *testing.T) {
	t.Parallel()
	var s readStreams
	if s.sequential(0) {
		t.Fatal("a first read at 0 is sequential")
	}
	s.ended(0, 100)
	if !s.sequential(100) || s.sequential(0) {
		t.Fatal("a read continuing at 100 is not sequential, or one at 0 still is")
	}
	s.ended(100, 200)
	// Three more consumers at other offsets, and the first is still known.
	for _, from := range []int64{5000, 7000, 9000} {
		s.ended(from, from+10)
	}
	if !s.sequential(200) || !s.sequential(5010) || !s.sequential(9010) {
		t.Fatal("four streams not all remembered")
	}
	s.ended(20000, 20010) // a fifth takes the oldest slot
	if s.sequential(200) || !s.sequential(20010) {
		t.Fatal("a fifth stream did not replace the oldest")
	}
}

// TestConcurrentReaders: consumers reading one partition at once share
// GETs, hot blocks and read-ahead, and each gets exactly the log.
func TestConcurrentReaders(t *testing.T) {
	t.Parallel()
	store := mem.New()
	meta := newFakeMeta("shared")
	l, _ := mixedLog(t, store, meta)
	f := newReadFixture(t, meta, store, 64<<20, smallBlocks)
	var all []byte
	for _, b := range l.batches {
		all = append(all, b...)
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result)
	for i := range 4 {
		go func() {
			data, err := f.readAllErr(0, (i+1)*7<<10)
			done <- result{data, err}
		}()
	}
	for range 4 {
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !bytes.Equal(r.data, all) {
			t.Fatalf("a concurrent reader got %d bytes, want %d", len(r.data), len(all))
		}
	}
}
