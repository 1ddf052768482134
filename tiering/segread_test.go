package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/mem"
	"github.com/stratalog/strata/tiering/segment"
)

var testTopic = [16]byte{0xab, 15: 7}

// testSeg is a segment object of one partition in a store: chunk i holds
// offsets first+10i .. first+10i+9 and bytes derived from the key and i.
type testSeg struct {
	span   Span
	obj    []byte
	chunks []segment.Chunk
}

func (s testSeg) chunkData(i int) []byte {
	c := s.chunks[i]
	return s.obj[c.Pos : c.Pos+c.Size]
}

func putSeg(t testing.TB, store objstore.Store, key string, first int64, nChunks, chunkSize int) testSeg {
	t.Helper()
	return putSegOf(t, store, key, 3, first, nChunks, chunkSize)
}

// putSegOf is putSeg for another partition than 3.
func putSegOf(t testing.TB, store objstore.Store, key string, partition int32, first int64, nChunks, chunkSize int) testSeg {
	t.Helper()
	b := segment.NewBuilder()
	for i := range nChunks {
		unit := fmt.Sprintf("%s/%d;", key, i)
		data := bytes.Repeat([]byte(unit), chunkSize/len(unit)+1)[:chunkSize]
		off := first + int64(i)*10
		b.Add(segment.ChunkMeta{TopicID: testTopic, Partition: partition, FirstOffset: off, LastOffset: off + 9,
			MinTimestamp: 1000 + off, MaxTimestamp: 1000 + off + 9, Batches: 1}, data)
	}
	obj, chunks := b.Finish()
	if err := store.Put(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	return testSeg{span: Span{Key: key, Size: int64(len(obj)), Segment: true, TopicID: testTopic, Partition: partition}, obj: obj, chunks: chunks}
}

// testReader is a Reader with a small block size (not valid for
// NewReaderConfig, so built directly) over a cache of cacheBytes.
func testReader(t *testing.T, store objstore.Store, cacheBytes int64, cfg ReaderConfig) (*Reader, *Cache) {
	t.Helper()
	cfg.EnsureDefaults()
	var c *Cache
	if cacheBytes > 0 {
		c = newCache(t, cacheBytes)
	}
	r := newReader(store, c, cfg)
	t.Cleanup(func() { r.Close() })
	return r, c
}

func TestSegmentFooterReadOnceAndCached(t *testing.T) {
	t.Parallel()
	store := mem.New()
	// 40 chunks of 4 KiB: a 160 KiB object whose footer is in its last
	// 64 KiB.
	seg := putSeg(t, store, "seg/a", 0, 40, 4<<10)
	r, _ := testReader(t, store, 4<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1})
	ctx := context.Background()
	for range 3 {
		got, err := r.Chunks(ctx, seg.span)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, seg.chunks) {
			t.Fatal("Chunks differ from what the builder wrote")
		}
	}
	if n := store.Calls(mem.OpGetRange); n != 1 {
		t.Fatalf("%d GETs for three footer lookups, want 1", n)
	}
	// The footer cache is what answered, not the disk cache.
	if n, _ := r.footers.stats(); n != 1 {
		t.Fatalf("footer cache holds %d footers, want 1", n)
	}
}

func TestSegmentFooterSizes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		chunks    int
		chunkSize int
		gets      int64
	}{
		{"object smaller than the tail read", 3, 100, 1},
		{"footer in the tail read", 64, 4 << 10, 1},
		// 1000 entries are 72,008 bytes: more than the 64 KiB tail.
		{"footer larger than the tail read", 1000, 10, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := mem.New()
			seg := putSeg(t, store, "seg", 100, tc.chunks, tc.chunkSize)
			r, _ := testReader(t, store, 4<<20, ReaderConfig{ReadAhead: -1})
			got, err := r.Chunks(context.Background(), seg.span)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, seg.chunks) {
				t.Fatal("Chunks differ from what the builder wrote")
			}
			if n := store.Calls(mem.OpGetRange); n != tc.gets {
				t.Fatalf("%d GETs, want %d", n, tc.gets)
			}
		})
	}
}

func TestSegmentFooterCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := mem.New()
	seg := putSeg(t, store, "good", 0, 5, 1000)
	bad := bytes.Clone(seg.obj)
	bad[len(bad)-20] ^= 1 // the footer length, in the trailer
	if err := store.Put(ctx, "badtrailer", bad); err != nil {
		t.Fatal(err)
	}
	other := seg.span
	other.Partition = 4
	short := seg.span
	short.Size--
	notWhole := seg.span
	notWhole.Pos = 10
	notWhole.Size -= 10
	badTrailer := seg.span
	badTrailer.Key = "badtrailer"
	for name, span := range map[string]Span{
		"bad trailer":        badTrailer,
		"wrong partition":    other,
		"size not object's":  short,
		"not a whole object": notWhole,
		"too small":          {Key: "good", Size: 31, Segment: true},
	} {
		r, _ := testReader(t, store, 4<<20, ReaderConfig{})
		if _, err := r.Chunks(ctx, span); !errors.Is(err, segment.ErrCorrupt) {
			t.Errorf("%s: err = %v, want segment.ErrCorrupt", name, err)
		}
		if _, err := r.Read(ctx, span, 0, 1); !errors.Is(err, segment.ErrCorrupt) {
			t.Errorf("%s: Read err = %v, want segment.ErrCorrupt", name, err)
		}
	}
	// Offsets must increase from chunk to chunk.
	b := segment.NewBuilder()
	b.Add(segment.ChunkMeta{TopicID: testTopic, Partition: 3, FirstOffset: 10, LastOffset: 19}, []byte("x"))
	b.Add(segment.ChunkMeta{TopicID: testTopic, Partition: 3, FirstOffset: 15, LastOffset: 29}, []byte("y"))
	obj, _ := b.Finish()
	if err := store.Put(ctx, "overlap", obj); err != nil {
		t.Fatal(err)
	}
	r, _ := testReader(t, store, 4<<20, ReaderConfig{})
	if _, err := r.Chunks(ctx, Span{Key: "overlap", Size: int64(len(obj)), Segment: true, TopicID: testTopic, Partition: 3}); !errors.Is(err, segment.ErrCorrupt) {
		t.Errorf("overlapping chunks: err = %v, want segment.ErrCorrupt", err)
	}
}

func TestFooterCacheBounded(t *testing.T) {
	t.Parallel()
	store := mem.New()
	var segs []testSeg
	for i := range 5 {
		segs = append(segs, putSeg(t, store, fmt.Sprintf("seg/%d", i), int64(i)*1000, 20, 100))
	}
	f, err := newFooter(segs[0].chunks, nil, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	budget := f.cost(segs[0].span.Key)*2 + 10 // two footers fit, not three
	r, _ := testReader(t, store, 4<<20, ReaderConfig{FooterCacheBytes: budget})
	ctx := context.Background()
	for round := range 2 {
		for _, s := range segs {
			if _, err := r.Chunks(ctx, s.span); err != nil {
				t.Fatal(err)
			}
			if n, size := r.footers.stats(); n > 2 || size > budget {
				t.Fatalf("round %d: footer cache holds %d footers, %d bytes; budget %d", round, n, size, budget)
			}
		}
	}
	// The two most recent stayed.
	if r.footers.get("seg/4") == nil || r.footers.get("seg/3") == nil || r.footers.get("seg/0") != nil {
		t.Fatal("footer cache did not keep the most recently used")
	}
}

func TestSegmentReadEveryChunk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cacheBytes int64
		gets       func(blocks int) int64 // GETs for one pass, footer included
	}{
		// Each block is fetched once, then its chunks come from the cache.
		{"blocks through the cache", 4 << 20, func(blocks int) int64 { return 1 + int64(blocks) }},
		// No cache: every chunk read is its own GET of the chunk alone.
		{"no cache", 0, func(int) int64 { return 1 + 2*40 }},
		// A cache too small for several blocks: chunks alone too, each
		// then cached.
		{"cache smaller than 8 blocks", 100 << 10, func(int) int64 { return 1 + 40 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := mem.New()
			seg := putSeg(t, store, "seg", 500, 40, 4<<10)
			r, _ := testReader(t, store, tc.cacheBytes, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1})
			ctx := context.Background()
			for i, c := range seg.chunks {
				for _, off := range []int64{c.FirstOffset, c.LastOffset} {
					got, err := r.Read(ctx, seg.span, off, 1)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, seg.chunkData(i)) {
						t.Fatalf("Read at %d: not chunk %d's bytes", off, i)
					}
				}
			}
			f := r.footers.get("seg")
			if n, want := store.Calls(mem.OpGetRange), tc.gets(len(f.blocks)); n != want {
				t.Fatalf("%d GETs over %d blocks, want %d", n, len(f.blocks), want)
			}
			if len(f.blocks) != 10 {
				t.Fatalf("%d blocks of 16 KiB in 160 KiB, want 10", len(f.blocks))
			}
		})
	}
}

func TestSegmentReadMaxBytes(t *testing.T) {
	t.Parallel()
	store := mem.New()
	seg := putSeg(t, store, "seg", 0, 40, 4<<10)
	r, _ := testReader(t, store, 4<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1})
	ctx := context.Background()
	// Blocks are 4 chunks: a read in chunk 5 wanting 3 chunks' bytes gets
	// chunks 5 and 6 and 7 ...
	got, err := r.Read(ctx, seg.span, seg.chunks[5].FirstOffset+3, 2*4<<10+1)
	if err != nil {
		t.Fatal(err)
	}
	if want := seg.obj[seg.chunks[5].Pos : seg.chunks[7].Pos+seg.chunks[7].Size]; !bytes.Equal(got, want) {
		t.Fatalf("Read returned %d bytes, want chunks 5-7 (%d)", len(got), len(want))
	}
	// ... but never past the block's end (chunk 7).
	got, err = r.Read(ctx, seg.span, seg.chunks[6].FirstOffset, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := seg.obj[seg.chunks[6].Pos : seg.chunks[7].Pos+seg.chunks[7].Size]; !bytes.Equal(got, want) {
		t.Fatalf("Read returned %d bytes, want chunks 6-7 (%d)", len(got), len(want))
	}
	if _, err := r.Read(ctx, seg.span, seg.chunks[39].LastOffset+1, 1); err == nil {
		t.Fatal("Read past the segment's last offset succeeded")
	}
}

func TestSegmentGone(t *testing.T) {
	t.Parallel()
	store := mem.New()
	old := putSeg(t, store, "seg/old", 0, 40, 4<<10)
	r, _ := testReader(t, store, 4<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1})
	ctx := context.Background()
	if _, err := r.Read(ctx, old.span, 0, 1); err != nil {
		t.Fatal(err)
	}
	// Compaction rewrote it and garbage collection deleted it.
	repl := putSeg(t, store, "seg/new", 0, 40, 4<<10)
	if err := store.Delete(ctx, "seg/old"); err != nil {
		t.Fatal(err)
	}
	// The cached block still serves (the same bytes, immutable) ...
	if _, err := r.Read(ctx, old.span, 0, 1); err != nil {
		t.Fatalf("read of a cached block of a deleted object: %v", err)
	}
	// ... the others are gone, and say so.
	_, err := r.Read(ctx, old.span, old.chunks[20].FirstOffset, 1)
	if !Gone(err) || !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("read of a deleted object: err = %v, want objstore.ErrNotExist", err)
	}
	if r.footers.get("seg/old") != nil {
		t.Fatal("footer of a deleted object still cached")
	}
	// Its footer is still in the disk cache; a reader without one finds
	// the object gone.
	bare, _ := testReader(t, store, 0, ReaderConfig{})
	if _, err := bare.Chunks(ctx, old.span); !Gone(err) {
		t.Fatalf("footer read of a deleted object: err = %v, want objstore.ErrNotExist", err)
	}
	// The replacement row's object reads.
	got, err := r.Read(ctx, repl.span, repl.chunks[20].FirstOffset, 1)
	if err != nil || !bytes.Equal(got, repl.chunkData(20)) {
		t.Fatalf("read of the replacement: %v", err)
	}
	// A flush span's object gone is reported the same way.
	if _, err := r.Read(ctx, Span{Key: "flush/gone", Pos: 0, Size: 10}, 0, 1); !Gone(err) {
		t.Fatalf("read of a deleted flush object: err = %v", err)
	}
}

func TestReadChunk(t *testing.T) {
	t.Parallel()
	store := mem.New()
	seg := putSeg(t, store, "seg", 0, 40, 4<<10)
	r, _ := testReader(t, store, 4<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1})
	ctx := context.Background()
	// A lookup of one chunk fetches only it (after the footer) ...
	got, err := r.ReadChunk(ctx, seg.span, 9)
	if err != nil || !bytes.Equal(got, seg.chunkData(9)) {
		t.Fatalf("ReadChunk: %v", err)
	}
	if n := store.Calls(mem.OpGetRange); n != 2 {
		t.Fatalf("%d GETs for footer and one chunk, want 2", n)
	}
	// ... and a chunk of a cached block comes from the block.
	if _, err := r.Read(ctx, seg.span, seg.chunks[20].FirstOffset, 1); err != nil {
		t.Fatal(err)
	}
	got, err = r.ReadChunk(ctx, seg.span, 21)
	if err != nil || !bytes.Equal(got, seg.chunkData(21)) {
		t.Fatalf("ReadChunk: %v", err)
	}
	if n := store.Calls(mem.OpGetRange); n != 3 {
		t.Fatalf("%d GETs, want 3 (footer, chunk 9, block of 20 and 21)", n)
	}
	if _, err := r.ReadChunk(ctx, seg.span, 40); err == nil {
		t.Fatal("ReadChunk past the last chunk succeeded")
	}
}

// holdStore is a store whose GetRange calls wait until released, counting
// the bytes of the calls in flight and their peak, except for ranges
// marked free.
type holdStore struct {
	objstore.Store
	mu       sync.Mutex
	cond     *sync.Cond
	held     bool
	free     map[string]bool // key@pos: never held
	inFlight int64
	peak     int64
	calls    []string
}

func newHoldStore(s objstore.Store) *holdStore {
	h := &holdStore{Store: s, free: map[string]bool{}}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *holdStore) hold(on bool) {
	h.mu.Lock()
	h.held = on
	h.mu.Unlock()
	h.cond.Broadcast()
}

func (h *holdStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	id := fmt.Sprintf("%s@%d", key, off)
	h.mu.Lock()
	h.calls = append(h.calls, id)
	h.inFlight += n
	h.peak = max(h.peak, h.inFlight)
	for h.held && !h.free[id] {
		h.cond.Wait()
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight -= n
		h.mu.Unlock()
	}()
	return h.Store.GetRange(ctx, key, off, n)
}

func (h *holdStore) stats() (inFlight, peak int64, calls int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight, h.peak, len(h.calls)
}

// TestReadAheadBudget: many sequential readers ask for read-ahead at once;
// the bytes of read-ahead GETs in flight never exceed the shared budget,
// and a read someone waits for still goes out at once and completes.
func TestReadAheadBudget(t *testing.T) {
	t.Parallel()
	base := mem.New()
	var segs []testSeg
	for i := range 6 {
		segs = append(segs, putSeg(t, base, fmt.Sprintf("seg/%d", i), 0, 40, 4<<10))
	}
	store := newHoldStore(base)
	const blockBytes, budget = 16 << 10, 64 << 10 // four blocks
	r, _ := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: blockBytes, ReadAhead: 8, ReadAheadBytes: budget})
	ctx := context.Background()
	for _, s := range segs {
		if _, err := r.Chunks(ctx, s.span); err != nil { // footers, outside the count
			t.Fatal(err)
		}
	}
	store.mu.Lock()
	store.peak = 0
	store.mu.Unlock()

	store.hold(true)
	for _, s := range segs {
		r.ReadAhead(s.span, 0, nil, true)
	}
	WaitFor(t, "read-ahead fills the budget", func() bool { in, _, _ := store.stats(); return in >= budget-blockBytes })
	for _, s := range segs {
		r.ReadAhead(s.span, 0, nil, true) // asking again starts nothing more
	}
	if in, peak, _ := store.stats(); peak > budget || in > budget {
		t.Fatalf("read-ahead in flight %d bytes (peak %d), budget %d", in, peak, budget)
	}
	if got := r.aheadInFlight(); got > budget {
		t.Fatalf("Reader counts %d bytes of read-ahead, budget %d", got, budget)
	}

	// A read of a block nobody reads ahead goes out and completes while
	// the budget is full and the read-aheads hang.
	last := segs[5]
	f := r.footers.get(last.span.Key)
	b := f.blocks[9]
	store.mu.Lock()
	store.free[fmt.Sprintf("%s@%d", last.span.Key, b.pos)] = true
	store.mu.Unlock()
	got, err := r.Read(ctx, last.span, last.chunks[b.first].FirstOffset, 1)
	if err != nil || !bytes.Equal(got, last.chunkData(b.first)) {
		t.Fatalf("read while read-ahead is held: %v", err)
	}

	store.hold(false)
	WaitFor(t, "read-ahead done", func() bool { return r.inFlight() == 0 })
	if _, peak, _ := store.stats(); peak > budget+b.size {
		t.Fatalf("peak in flight %d bytes; read-ahead budget %d plus one read of %d", peak, budget, b.size)
	}
	if r.aheadInFlight() != 0 {
		t.Fatalf("read-ahead bytes %d after all ended", r.aheadInFlight())
	}
	if hot := r.hotInMemory(); hot > budget {
		t.Fatalf("%d bytes of hot blocks, budget %d", hot, budget)
	}
}

func (r *Reader) footerAheadPending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.mu.footersAhead) > 0
}

func (r *Reader) hotInMemory() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.hotBytes
}

// TestHotBlocks: the chunks of a block just fetched come from memory, not
// the disk cache, within the shared budget; what Read returns is capped so
// an append cannot reach the block's other bytes.
func TestHotBlocks(t *testing.T) {
	t.Parallel()
	store := mem.New()
	seg := putSeg(t, store, "seg", 0, 40, 4<<10)
	const budget = 48 << 10 // three 16 KiB blocks
	r, cache := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1, ReadAheadBytes: budget})
	ctx := context.Background()
	for i := range seg.chunks {
		got, err := r.Read(ctx, seg.span, seg.chunks[i].FirstOffset, 1)
		if err != nil || !bytes.Equal(got, seg.chunkData(i)) {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if cap(got) != len(got) {
			t.Fatalf("chunk %d: cap %d beyond len %d", i, cap(got), len(got))
		}
		_ = append(got, 'x')
		if hot := r.hotInMemory(); hot > budget {
			t.Fatalf("%d bytes of hot blocks, budget %d", hot, budget)
		}
	}
	if hits := cache.Metrics().Hits(); hits != 0 {
		t.Fatalf("%d disk cache hits: chunks of hot blocks were read from disk", hits)
	}
	// Every block was read to the end while hot, so none was written to
	// disk: the last three are still hot, the first is gone (a GET
	// again).
	if tail := min(seg.span.Size, footerTailBytes); cache.Size() != tail || cache.Metrics().Skipped() != 7*16<<10 {
		t.Fatalf("disk cache holds %d bytes, %d skipped; want only the footer's %d and the 7 blocks evicted after they were read whole", cache.Size(), cache.Metrics().Skipped(), tail)
	}
	for i, want := range map[int]int64{0: 1, 39: 0} {
		before := store.Calls(mem.OpGetRange)
		got, err := r.Read(ctx, seg.span, seg.chunks[i].FirstOffset, 1)
		if err != nil || !bytes.Equal(got, seg.chunkData(i)) {
			t.Fatalf("chunk %d again: %v", i, err)
		}
		if n := store.Calls(mem.OpGetRange) - before; n != want {
			t.Fatalf("chunk %d again: %d GETs, want %d", i, n, want)
		}
	}
	if hits := cache.Metrics().Hits(); hits != 0 {
		t.Fatalf("%d disk cache hits", hits)
	}
	// ReadRange's result is the caller's own, even of a hot block's range.
	f := r.footers.get("seg")
	b := f.blocks[9]
	own, err := r.ReadRange(ctx, "seg", b.pos, b.size)
	if err != nil {
		t.Fatal(err)
	}
	own[0] ^= 0xff
	if got, _ := r.Read(ctx, seg.span, seg.chunks[b.first].FirstOffset, 1); !bytes.Equal(got, seg.chunkData(b.first)) {
		t.Fatal("a write to ReadRange's result reached a hot block")
	}
}

// TestHotBlockSpill: a block that leaves memory before it was read to the
// end is written to the disk cache, and its next read comes from there.
func TestHotBlockSpill(t *testing.T) {
	t.Parallel()
	store := mem.New()
	seg := putSeg(t, store, "seg", 0, 40, 4<<10)
	const budget = 32 << 10 // two 16 KiB blocks of 4 chunks
	r, cache := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1, ReadAheadBytes: budget})
	ctx := context.Background()
	// The first chunk of blocks 0, 1 and 2: block 0 leaves memory with
	// three chunks unread.
	for _, i := range []int{0, 4, 8} {
		if got, err := r.Read(ctx, seg.span, seg.chunks[i].FirstOffset, 1); err != nil || !bytes.Equal(got, seg.chunkData(i)) {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	tail := min(seg.span.Size, footerTailBytes) // the footer's range, cached too
	WaitFor(t, "block 0 on disk", func() bool { return cache.Size() == tail+16<<10 })
	before := store.Calls(mem.OpGetRange)
	for i := 1; i < 4; i++ {
		if got, err := r.Read(ctx, seg.span, seg.chunks[i].FirstOffset, 1); err != nil || !bytes.Equal(got, seg.chunkData(i)) {
			t.Fatalf("chunk %d again: %v", i, err)
		}
	}
	if n := store.Calls(mem.OpGetRange) - before; n != 0 {
		t.Fatalf("%d GETs for a block written to disk", n)
	}
	if hits := cache.Metrics().Hits(); hits != 3 {
		t.Fatalf("%d disk cache hits, want 3", hits)
	}
}

func TestHotBlockReadCoverage(t *testing.T) {
	t.Parallel()
	b := &hotBlock{data: make([]byte, 100)}
	for _, step := range []struct {
		off, n   int64
		consumed bool
	}{
		{40, 10, false}, // [40,50)
		{0, 10, false},  // behind, apart: not counted
		{70, 10, false}, // [40,80): the chunks between came with the read before
		{30, 10, false}, // [30,80)
		{0, 0, false},   // nothing
		{0, 35, false},  // [0,80)
		{90, 10, true},  // [0,100)
	} {
		b.note(step.off, step.n)
		if b.consumed() != step.consumed {
			t.Fatalf("after a read of [%d,+%d): [%d,%d) consumed %v, want %v", step.off, step.n, b.lo, b.hi, b.consumed(), step.consumed)
		}
	}
}

// TestReadAheadAcrossSegments: a sequential reader near a segment's end
// gets the next segment's footer and first blocks read ahead, so its
// reads there cost no GET; flush spans in next are read ahead whole.
func TestReadAheadAcrossSegments(t *testing.T) {
	t.Parallel()
	store := mem.New()
	a := putSeg(t, store, "seg/a", 0, 40, 4<<10)
	b := putSeg(t, store, "seg/b", 400, 40, 4<<10)
	flush := []byte("flush object bytes, of which a run of batches")
	if err := store.Put(context.Background(), "flush/x", flush); err != nil {
		t.Fatal(err)
	}
	r, _ := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: 4, ReadAheadBytes: 1 << 20})
	ctx := context.Background()
	// Chunk 36 is in a's last block (4 chunks a block). A sequential
	// reader's read-ahead starts one block deep and doubles with each
	// block it moves on to: coming through blocks 7 and 8, it reads 4
	// ahead from block 9.
	next := []Span{b.span, {Key: "flush/x", Pos: 6, Size: 20}}
	for _, c := range []int{28, 32, 36} {
		at := a.chunks[c].FirstOffset
		if _, err := r.Read(ctx, a.span, at, 1); err != nil {
			t.Fatal(err)
		}
		r.ReadAhead(a.span, at, next, true)
		WaitFor(t, "read-ahead done", func() bool { return r.inFlight() == 0 && !r.footerAheadPending() })
	}
	fb := r.footers.get("seg/b")
	if fb == nil {
		t.Fatal("b's footer not read ahead")
	}
	for i, blk := range fb.blocks[:4] {
		if !r.known("seg/b", blk.pos, blk.size) {
			t.Fatalf("b's block %d not read ahead", i)
		}
	}
	if r.known("seg/b", fb.blocks[4].pos, fb.blocks[4].size) {
		t.Fatal("b's block 4 read ahead: more than 4 blocks")
	}
	before := store.Calls(mem.OpGetRange)
	for i := range 16 { // b's first four blocks
		got, err := r.Read(ctx, b.span, b.chunks[i].FirstOffset, 1)
		if err != nil || !bytes.Equal(got, b.chunkData(i)) {
			t.Fatalf("read of b's chunk %d: %v", i, err)
		}
	}
	if n := store.Calls(mem.OpGetRange); n != before {
		t.Fatalf("%d GETs for read-ahead blocks", n-before)
	}

	// With b's footer known, read-ahead goes past b's 10 blocks into the
	// flush span.
	r.ReadAhead(b.span, b.chunks[32].FirstOffset, next[1:], true)
	WaitFor(t, "flush span read ahead", func() bool { return r.known("flush/x", 6, 20) && r.inFlight() == 0 })
	if n := store.Calls(mem.OpGetRange); n != before+2 {
		t.Fatalf("%d GETs reading ahead b's last block and the flush span, want 2", n-before)
	}

	// A reader not known to be sequential gets one block ahead.
	c := putSeg(t, store, "seg/c", 800, 40, 4<<10)
	if _, err := r.Read(ctx, c.span, c.chunks[0].FirstOffset, 1); err != nil {
		t.Fatal(err)
	}
	before = store.Calls(mem.OpGetRange)
	r.ReadAhead(c.span, c.chunks[0].FirstOffset, nil, false)
	WaitFor(t, "one block ahead", func() bool { return r.inFlight() == 0 && store.Calls(mem.OpGetRange) > before })
	if n := store.Calls(mem.OpGetRange); n != before+1 {
		t.Fatalf("%d GETs of read-ahead for a reader not known sequential, want 1", n-before)
	}

	// Read-ahead off: nothing.
	off, _ := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: 16 << 10, ReadAhead: -1})
	if _, err := off.Read(ctx, a.span, 0, 1); err != nil {
		t.Fatal(err)
	}
	off.ReadAhead(a.span, 0, next, true)
	if off.inFlight() != 0 {
		t.Fatal("read-ahead with ReadAhead -1 started a GET")
	}
}

// TestReadAheadWindowAndShare: a sequential reader's read-ahead starts
// one block deep and doubles with each block it moves on to, up to
// ReadAhead; partitions read at once share the budget equally, so with
// four of them in a budget of eight blocks each keeps its block and the
// next one, never more (the first reader used to take ReadAhead blocks
// and leave the others none).
func TestReadAheadWindowAndShare(t *testing.T) {
	t.Parallel()
	const blockBytes = 16 << 10 // 4 chunks a block
	store := mem.New()
	seg := func(p int32) testSeg { return putSegOf(t, store, fmt.Sprintf("seg/%d", p), p, 0, 40, 4<<10) }
	// readBlock reads block k of s chunk by chunk, reading ahead after
	// each read as partlog does, and waits for the read-ahead.
	readBlock := func(t *testing.T, r *Reader, s testSeg, k int) {
		t.Helper()
		for c := 4 * k; c < 4*k+4; c++ {
			at := s.chunks[c].FirstOffset
			got, err := r.Read(context.Background(), s.span, at, 1)
			if err != nil || !bytes.Equal(got, s.chunkData(c)) {
				t.Fatalf("read of chunk %d: %v", c, err)
			}
			r.ReadAhead(s.span, at, nil, true)
			WaitFor(t, "read-ahead done", func() bool { return r.inFlight() == 0 })
		}
	}
	// ahead returns the blocks of s after block k in memory or cached.
	ahead := func(r *Reader, s testSeg, k int) []int {
		f := r.footers.get(s.span.Key)
		var out []int
		for b := k + 1; b < len(f.blocks); b++ {
			if r.known(s.span.Key, f.blocks[b].pos, f.blocks[b].size) {
				out = append(out, b)
			}
		}
		return out
	}

	t.Run("window", func(t *testing.T) {
		r, _ := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: blockBytes, ReadAhead: 4, ReadAheadBytes: 8 * blockBytes})
		s := seg(1)
		for k, want := range [][]int{{1}, {2, 3}, {3, 4, 5, 6}, {4, 5, 6, 7}} {
			readBlock(t, r, s, k)
			if got := ahead(r, s, k); !slices.Equal(got, want) {
				t.Fatalf("reading block %d: blocks %v ahead, want %v", k, got, want)
			}
		}
	})

	t.Run("share", func(t *testing.T) {
		r, _ := testReader(t, store, 64<<20, ReaderConfig{BlockBytes: blockBytes, ReadAhead: 4, ReadAheadBytes: 8 * blockBytes})
		var segs []testSeg
		for p := range int32(4) {
			segs = append(segs, seg(10+p))
		}
		for k := range 4 {
			for _, s := range segs {
				readBlock(t, r, s, k)
			}
		}
		for i, s := range segs {
			if got := ahead(r, s, 3); !slices.Equal(got, []int{4}) {
				t.Fatalf("partition %d of 4 sharing 8 blocks: blocks %v ahead of block 3, want [4]", i, got)
			}
		}
	})
}

func TestReaderConfigValidate(t *testing.T) {
	t.Parallel()
	var cfg ReaderConfig
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if cfg.BlockBytes != DefaultBlockBytes || cfg.ReadAhead != DefaultReadAhead || cfg.ReadAheadBytes != DefaultReadAheadBytes || cfg.FooterCacheBytes != DefaultFooterCacheBytes {
		t.Fatalf("defaults = %+v", cfg)
	}
	for _, bad := range []ReaderConfig{
		{BlockBytes: 1000},
		{BlockBytes: 1 << 30},
		{ReadAhead: -2},
		{ReadAhead: 1000},
		{BlockBytes: 8 << 20, ReadAheadBytes: 8 << 20},
		{FooterCacheBytes: -1},
	} {
		bad.EnsureDefaults()
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", bad)
		}
		if _, err := NewReaderConfig(mem.New(), nil, bad); err == nil {
			t.Errorf("NewReaderConfig(%+v) succeeded", bad)
		}
	}
	ok := ReaderConfig{ReadAhead: -1, ReadAheadBytes: 1}
	ok.EnsureDefaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("read-ahead off with a small budget: %v", err)
	}
}
