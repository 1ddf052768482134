package tiering

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/segment"
)

// footerTailBytes is how much of a segment object's end one GET fetches
// to find its trailer and footer: a 64 MiB segment of 1 MiB chunks has a
// footer of about 4.6 KiB; a footer larger than what this holds (over 900
// chunks) costs a second GET.
const footerTailBytes = 64 << 10

// Span is what one index row points at: Size bytes at Pos of the object
// Key.
type Span struct {
	Key       string
	Pos, Size int64
	// Segment marks a whole per-partition segment object written by
	// compaction (metastore.RowSegment): Pos is 0, Size the object's size,
	// and reads go through the object's footer. Otherwise the span is a
	// run of whole batches in a flush object (metastore.RowFlush), read
	// whole.
	Segment bool
	// TopicID and Partition are the span's partition: a segment whose
	// footer lists a chunk of another partition is corrupt.
	TopicID   [16]byte
	Partition int32
}

// Gone reports whether err says the object read no longer exists: the
// index row that named it was replaced (compaction) or trimmed
// (retention) and garbage collection deleted the object. The caller asks
// the metastore again.
func Gone(err error) bool { return errors.Is(err, objstore.ErrNotExist) }

// Read returns stored record batches holding offset. For a flush span that
// is the span's whole bytes; for a segment span, the chunk holding offset
// (the first whose last offset is at or after it) and the chunks after it
// in the same block until they hold maxBytes. A segment read
// fetches the footer once (then kept in memory) and the whole block holding
// the chunk as one range GET, which memory keeps for the next reads of the
// block (hot blocks share the read-ahead budget) and the disk cache once it
// leaves memory, unless it was read to the end by then (a sequential
// reader is done with it); without a cache that can hold blocks, just the
// chunks. The
// returned slice of a flush span belongs to the caller; that of a segment
// span may be shared with other readers and must not be modified.
func (r *Reader) Read(ctx context.Context, s Span, offset int64, maxBytes int) ([]byte, error) {
	if !s.Segment {
		return r.ReadRange(ctx, s.Key, s.Pos, s.Size)
	}
	f, err := r.footer(ctx, s)
	if err != nil {
		return nil, err
	}
	i, ok := f.chunkFor(offset)
	if !ok {
		return nil, fmt.Errorf("tiering: segment %q ends before offset %d (last offset %d)", s.Key, offset, f.chunks[len(f.chunks)-1].LastOffset)
	}
	b := f.blocks[f.blockOf(i)]
	c := f.chunks[i]
	// Enough chunks to hold maxBytes past the chunk's start, if the block
	// has them, so a reader that starts inside the chunk still finds
	// maxBytes in one slice: no copying them together.
	n := c.Size
	for j := i + 1; j < b.end && n < int64(maxBytes); j++ {
		n += f.chunks[j].Size
	}
	return r.readInBlock(ctx, s.Key, b, c.Pos, n, c.Size, false)
}

// Chunks returns the chunks of a segment span, from its footer: a sparse
// index of the object's offsets and timestamps. The slice is shared; do
// not modify it.
func (r *Reader) Chunks(ctx context.Context, s Span) ([]segment.Chunk, error) {
	f, err := r.footer(ctx, s)
	if err != nil {
		return nil, err
	}
	return f.chunks, nil
}

// ReadChunk returns the bytes of chunk i of a segment span (an index into
// Chunks): from its block if that is in memory, cached or being fetched,
// else with a range GET of the chunk alone. It serves lookups (by
// timestamp) that need one chunk, not a sequential read. The slice may be
// shared; do not modify it.
func (r *Reader) ReadChunk(ctx context.Context, s Span, i int) ([]byte, error) {
	f, err := r.footer(ctx, s)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(f.chunks) {
		return nil, fmt.Errorf("tiering: segment %q has no chunk %d", s.Key, i)
	}
	c := f.chunks[i]
	return r.readInBlock(ctx, s.Key, f.blocks[f.blockOf(i)], c.Pos, c.Size, c.Size, true)
}

// readInBlock returns n bytes at pos, which lie in block b of the object
// and begin with a chunk of chunk bytes:
// through the whole block when the cache can hold blocks (unless
// onlyIfShared and the block is neither cached nor being fetched), else
// with a GET of just those bytes.
func (r *Reader) readInBlock(ctx context.Context, key string, b block, pos, n, chunk int64, onlyIfShared bool) ([]byte, error) {
	var data []byte
	var err error
	if r.blockReads(b.size) && (!onlyIfShared || r.known(key, b.pos, b.size)) {
		data, err = r.read(ctx, key, b.pos, b.size, pos-b.pos, n, sharedBlock)
		if err == nil {
			// The read's first chunk (chunk bytes at pos) counts
			// towards the block being read to the end; the chunks
			// after it in data may not be used yet.
			r.noteRead(cacheKey(key, b.pos, b.size), pos-b.pos, chunk)
		}
	} else {
		data, err = r.read(ctx, key, pos, n, 0, n, sharedRange)
	}
	if Gone(err) {
		r.footers.drop(key)
	}
	return data, err
}

// blockReads reports whether blocks of size are read whole: only when the
// cache keeps them with room for several (a block the cache cannot keep
// would be fetched again for each of its chunks).
func (r *Reader) blockReads(size int64) bool {
	return r.cache != nil && size <= r.cache.budget/8
}

// known reports whether the range is in memory, cached or being fetched.
func (r *Reader) known(key string, pos, size int64) bool {
	ck := cacheKey(key, pos, size)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.hot[ck] != nil || r.mu.flights[ck] != nil || r.cache.contains(ck)
}

// footer returns the parsed footer of a segment span, from memory or with
// one range GET of the object's last footerTailBytes (two if the footer is
// larger), through the cache like any range.
func (r *Reader) footer(ctx context.Context, s Span) (*footer, error) {
	if f := r.footers.get(s.Key); f != nil {
		return f, nil
	}
	if s.Pos != 0 || s.Size < segment.TrailerSize {
		return nil, fmt.Errorf("tiering: segment %q: span [%d,+%d) is not a whole segment object: %w", s.Key, s.Pos, s.Size, segment.ErrCorrupt)
	}
	tailLen := min(s.Size, footerTailBytes)
	tail, err := r.ReadRange(ctx, s.Key, s.Size-tailLen, tailLen)
	if err != nil {
		return nil, err
	}
	footerOff, footerLen, err := segment.ParseTrailer(tail)
	if err != nil {
		return nil, fmt.Errorf("tiering: segment %q: %w", s.Key, err)
	}
	if footerOff+footerLen+segment.TrailerSize != s.Size {
		return nil, fmt.Errorf("tiering: segment %q: footer at %d, %d bytes, does not end at the trailer of a %d-byte object: %w", s.Key, footerOff, footerLen, s.Size, segment.ErrCorrupt)
	}
	var fb []byte
	if footerLen+segment.TrailerSize <= tailLen {
		end := tailLen - segment.TrailerSize
		fb = tail[end-footerLen : end]
	} else if fb, err = r.ReadRange(ctx, s.Key, footerOff, footerLen); err != nil {
		return nil, err
	}
	chunks, err := segment.ParseFooter(fb)
	if err != nil {
		return nil, fmt.Errorf("tiering: segment %q: %w", s.Key, err)
	}
	if len(chunks) == 0 {
		return nil, fmt.Errorf("tiering: segment %q has no chunks: %w", s.Key, segment.ErrCorrupt)
	}
	if last := chunks[len(chunks)-1]; last.Pos+last.Size != footerOff {
		return nil, fmt.Errorf("tiering: segment %q: chunks end at %d, footer starts at %d: %w", s.Key, last.Pos+last.Size, footerOff, segment.ErrCorrupt)
	}
	f, err := newFooter(chunks, &s.TopicID, s.Partition, r.cfg.BlockBytes)
	if err != nil {
		return nil, fmt.Errorf("tiering: segment %q: %w", s.Key, err)
	}
	r.footers.put(s.Key, f)
	return f, nil
}

// ReadAhead starts background reads of what a reader at offset of s will
// read next: the blocks after the one holding offset, then the spans in
// next (the index rows after s, in order: a flush span counts as one
// block, a segment span as its blocks). It keeps up to ReadAhead of them
// in flight or cached for a sequential reader, one for any other, nearest
// first, within the read-ahead budget; what does not fit is dropped, to be
// asked again by the next read.
//
// Several partitions read at once (a consumer catching up on all of a
// topic's) share the budget, and the bucket, fairly: each partition read
// sequentially within the last streamIdle may hold its block being read
// and what it reads ahead within an equal share of the budget (always at
// least one item ahead), and its read-ahead starts one item deep and
// doubles each time the reader moves on to the next block, up to
// ReadAhead. So every partition has its next block coming before any has
// a second, and the first blocks of the last partitions to start are not
// queued behind the deep read-ahead of the first ones (one reader taking
// four blocks ahead had left the others none: their reads waited for GETs
// queued behind it). A segment in next whose footer is not in memory has
// its footer read in the background first. Read-ahead lands in the cache:
// without one there is none.
func (r *Reader) ReadAhead(s Span, offset int64, next []Span, sequential bool) {
	if r.cfg.ReadAhead < 0 || r.aheadBudget() == 0 {
		return
	}
	var f *footer
	b := 0
	current := s.Size
	if s.Segment {
		if f = r.footers.get(s.Key); f == nil {
			return // Read had it; evicted since. The next read asks again.
		}
		i, ok := f.chunkFor(offset)
		if !ok {
			return
		}
		b = f.blockOf(i)
		current = f.blocks[b].size
	}
	q := aheadQuota{n: 1, bytes: math.MaxInt64}
	if sequential {
		q.n, q.bytes = r.streamAhead(s, b)
	}
	q.bytes -= current
	if f != nil && !r.prefetchBlocks(s.Key, f, b+1, &q) {
		return
	}
	for _, ns := range next {
		if !ns.Segment {
			if !q.take(ns.Size) || !r.Prefetch(ns.Key, ns.Pos, ns.Size) {
				return
			}
			continue
		}
		f := r.footers.get(ns.Key)
		if f == nil {
			r.footerAhead(ns, q)
			return
		}
		if !r.prefetchBlocks(ns.Key, f, 0, &q) {
			return
		}
	}
}

// aheadQuota is what one ReadAhead call may still start: n items, within
// bytes (the first item goes even if larger).
type aheadQuota struct {
	n     int
	bytes int64
	taken int
}

// take reports whether an item of size fits the quota, and counts it.
func (q *aheadQuota) take(size int64) bool {
	if q.n <= 0 || (q.taken > 0 && size > q.bytes) {
		return false
	}
	q.n--
	q.bytes -= size
	q.taken++
	return true
}

// prefetchBlocks prefetches the object's blocks from block from on while
// the quota lasts, and reports whether read-ahead may go on after them:
// not if the quota or the budget ran out (or blocks are not read whole).
func (r *Reader) prefetchBlocks(key string, f *footer, from int, q *aheadQuota) bool {
	for b := from; b < len(f.blocks); b++ {
		blk := f.blocks[b]
		if !r.blockReads(blk.size) || !q.take(blk.size) || !r.prefetch(key, blk.pos, blk.size, true) {
			return false
		}
	}
	return true
}

// streamIdle is how long after its last sequential read a partition still
// counts as a reader sharing the read-ahead budget.
const streamIdle = time.Second

// streamKey is a partition read sequentially.
type streamKey struct {
	topic     [16]byte
	partition int32
}

// stream is a partition's sequential reading, for its read-ahead.
type stream struct {
	last time.Time // of the last sequential read
	// key, pos and block: the block (or flush span) it was in.
	key    string
	pos    int64
	block  int
	window int // items to read ahead: 1 at first, doubling per block moved on
}

// streamAhead notes a sequential read of s's partition in block b of s
// (0 for a flush span) and returns how many items it may read ahead and
// its share of the read-ahead budget: the budget divided by the
// partitions read sequentially within the last streamIdle (counted again
// at most every tenth of it, or when a partition starts).
func (r *Reader) streamAhead(s Span, b int) (int, int64) {
	now := time.Now()
	k := streamKey{s.TopicID, s.Partition}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.mu.streams[k]
	if st == nil {
		st = &stream{window: 1}
		r.mu.streams[k] = st
	} else if st.key != s.Key || st.pos != s.Pos || st.block != b {
		st.window = min(2*st.window, r.cfg.ReadAhead)
	}
	st.key, st.pos, st.block = s.Key, s.Pos, b
	fresh := st.last.IsZero()
	st.last = now
	if fresh || now.Sub(r.mu.streamsCounted) > streamIdle/10 {
		for k, o := range r.mu.streams {
			if now.Sub(o.last) > streamIdle {
				delete(r.mu.streams, k)
			}
		}
		r.mu.streamsCounted = now
	}
	return st.window, r.aheadBudget() / int64(len(r.mu.streams))
}

// footerAhead reads a segment's footer in the background, then prefetches
// its first blocks within the quota. One at a time per object.
func (r *Reader) footerAhead(s Span, q aheadQuota) {
	r.mu.Lock()
	if r.mu.closed || r.mu.footersAhead[s.Key] {
		r.mu.Unlock()
		return
	}
	r.mu.footersAhead[s.Key] = true
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		f, err := r.footer(r.base, s)
		r.mu.Lock()
		delete(r.mu.footersAhead, s.Key)
		r.mu.Unlock()
		if err == nil {
			r.prefetchBlocks(s.Key, f, 0, &q)
		}
	}()
}
