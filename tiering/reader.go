package tiering

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
)

// ErrClosed is returned by ReadRange after Close.
var ErrClosed = errors.New("tiering: reader closed")

// Reader reads byte ranges of objects through a Cache, making one GetRange
// for any number of concurrent misses of the same range, reads segment
// objects block by block through their footers (segread.go), and reads
// ahead in the background for sequential readers. It is safe for
// concurrent use.
type Reader struct {
	store   objstore.Store
	cache   *Cache // may be nil: no caching, no read-ahead
	cfg     ReaderConfig
	footers *footerCache
	// cacheEveryBlock is the way blocks were kept before they were spilled
	// to disk only when they leave memory unread: every block written to
	// the disk cache as soon as it is fetched, hot blocks evicted in LRU
	// order whether read to the end or not, read-ahead displacing any of
	// them. BenchmarkSequentialRead's baseline.
	cacheEveryBlock bool

	// base is cancelled by Close; every fetch stops when it is.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetch and footer read-ahead goroutines

	mu struct {
		sync.Mutex
		closed  bool
		flights map[string]*flight // by cache key
		// aheadBytes is the size of the read-ahead flights in flight
		// that nobody waits for yet; at most aheadBudget().
		aheadBytes int64
		// footersAhead are the objects whose footers are being read
		// ahead (footerAhead), so each is read once.
		footersAhead map[string]bool
		// streams are the partitions read sequentially lately
		// (streamAhead), counted at streamsCounted.
		streams        map[streamKey]*stream
		streamsCounted time.Time
		// hot holds the blocks fetched last in memory, least recently
		// used evicted first, so a sequential reader takes its chunks
		// without a disk read or a copy. Their bytes count in the
		// read-ahead budget with aheadBytes: hotBytes + aheadBytes <=
		// aheadBudget(). A hot block is not in the disk cache: it is
		// written there when it leaves memory, unless it was read to
		// the end (a sequential reader has consumed it, and writing
		// 16 MiB to disk that nobody reads again was the largest cost
		// of a cold catch-up).
		hot      map[string]*list.Element // of *hotBlock, by cache key
		hotLRU   list.List                // front = most recently used
		hotBytes int64
	}
}

// hotBlock is a block's bytes held in memory; never modified.
type hotBlock struct {
	ck   string
	data []byte
	// [lo, hi) spans the chunks reads started in so far: from the first
	// such chunk to the end of the furthest (a chunk skipped between two
	// came whole with the read before it). lo == hi: none.
	lo, hi int64
}

// consumed reports whether the block was read to the end: reads started
// in its first chunk and, at last, in its last one.
func (b *hotBlock) consumed() bool { return b.lo == 0 && b.hi == int64(len(b.data)) }

// note counts a read that started in the chunk at [off, off+n) of the
// block. A read behind the first one counted starts the span there only if
// it touches it.
func (b *hotBlock) note(off, n int64) {
	switch {
	case n <= 0:
	case b.lo == b.hi:
		b.lo, b.hi = off, off+n
	case off >= b.lo:
		b.hi = max(b.hi, off+n)
	case off+n >= b.lo:
		b.lo = off
	}
}

// flight is one GetRange, shared by every caller that wants its range.
type flight struct {
	done   chan struct{} // closed when data and err are set
	data   []byte
	err    error
	cancel context.CancelFunc

	// Under Reader.mu.
	waiters int // callers waiting; a read-ahead counts as one that never leaves
	// ahead is the flight's size while it counts in Reader.mu.aheadBytes:
	// a read-ahead nobody waits for. A read that joins it sets it to 0, so
	// a read someone waits for never holds read-ahead budget.
	ahead int64
	// block: the range is a segment's read block, kept hot once fetched;
	// set before the fetch starts, never changed.
	block bool
}

// NewReader returns a Reader of store's objects that caches in cache, which
// may be nil, with the default ReaderConfig.
func NewReader(store objstore.Store, cache *Cache) *Reader {
	cfg := ReaderConfig{}
	cfg.EnsureDefaults()
	return newReader(store, cache, cfg)
}

// NewReaderConfig returns a Reader of store's objects that caches in
// cache, which may be nil, configured by cfg (zero fields are defaults).
func NewReaderConfig(store objstore.Store, cache *Cache, cfg ReaderConfig) (*Reader, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tiering: reader config: %w", err)
	}
	return newReader(store, cache, cfg), nil
}

func newReader(store objstore.Store, cache *Cache, cfg ReaderConfig) *Reader {
	r := &Reader{store: store, cache: cache, cfg: cfg, footers: newFooterCache(cfg.FooterCacheBytes)}
	r.base, r.cancel = context.WithCancel(context.Background())
	r.mu.flights = make(map[string]*flight)
	r.mu.footersAhead = make(map[string]bool)
	r.mu.streams = make(map[streamKey]*stream)
	r.mu.hot = make(map[string]*list.Element)
	return r
}

// Config returns the Reader's configuration, defaults filled in.
func (r *Reader) Config() ReaderConfig { return r.cfg }

func cacheKey(objectKey string, pos, size int64) string {
	// Numbers hold no '@' or '+', so the key parses from the right and two
	// ranges never share one.
	return objectKey + "@" + strconv.FormatInt(pos, 10) + "+" + strconv.FormatInt(size, 10)
}

// ReadRange returns size bytes of the object objectKey starting at pos,
// from the cache if it holds them, else from the store (then caching them).
// Concurrent misses of the same range share one GetRange; a caller whose ctx
// ends stops waiting, and the GetRange is cancelled once no caller waits.
// The returned slice belongs to the caller.
func (r *Reader) ReadRange(ctx context.Context, objectKey string, pos, size int64) ([]byte, error) {
	return r.read(ctx, objectKey, pos, size, 0, size, ownCopy)
}

// readMode says who owns what read returns, and whether the range is a
// block to keep hot.
type readMode uint8

const (
	ownCopy     readMode = iota // the caller's own copy
	sharedRange                 // may be shared with other readers: never modify it
	sharedBlock                 // sharedRange, of a segment's read block
)

// read returns n bytes at off of the range [pos, pos+size) of objectKey,
// fetching and caching the whole range on a miss: the range is the unit of
// caching and sharing (a block), the part at off is what the caller needs
// (a chunk of it). A shared result may be a slice of bytes others read
// too (a hot block, a flight's data), capped at its length.
func (r *Reader) read(ctx context.Context, objectKey string, pos, size, off, n int64, mode readMode) ([]byte, error) {
	shared := mode != ownCopy
	if pos < 0 || size < 0 || off < 0 || n < 0 || off > size-n {
		return nil, fmt.Errorf("tiering: read %q [%d,+%d) at +%d,%d: %w", objectKey, pos, size, off, n, objstore.ErrInvalidRange)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tiering: read %q: %w", objectKey, err)
	}
	ck := cacheKey(objectKey, pos, size)
	if shared {
		if data := r.hotGet(ck); data != nil {
			return data[off : off+n : off+n], nil
		}
	}
	lookup := func() ([]byte, bool) {
		if off == 0 && n == size {
			return r.cache.Get(ck)
		}
		return r.cache.GetAt(ck, off, n)
	}
	if r.cache != nil {
		if data, ok := lookup(); ok {
			return data, nil
		}
	}
	for {
		r.mu.Lock()
		if r.mu.closed {
			r.mu.Unlock()
			return nil, ErrClosed
		}
		f := r.mu.flights[ck]
		if f == nil {
			// A flight may have finished and cached the range since the
			// lookup above; do not fetch it twice.
			if r.cache != nil && r.cache.contains(ck) {
				r.mu.Unlock()
				if data, ok := lookup(); ok {
					return data, nil
				}
				continue // evicted in between
			}
			f = r.startLocked(context.WithoutCancel(ctx), ck, objectKey, pos, size, false, mode == sharedBlock)
		} else if f.ahead > 0 {
			// Someone waits for this read-ahead now: it is a read, and
			// its budget goes back to read-ahead.
			r.mu.aheadBytes -= f.ahead
			f.ahead = 0
		}
		f.waiters++
		r.mu.Unlock()

		select {
		case <-f.done:
			if f.err != nil {
				return nil, f.err
			}
			if shared {
				return f.data[off : off+n : off+n], nil
			}
			// Each caller gets its own copy; the flight's stays unshared.
			return slices.Clone(f.data[off : off+n]), nil
		case <-ctx.Done():
			r.mu.Lock()
			f.waiters--
			if f.waiters == 0 {
				// Nobody wants it any more. Forget it now, so a later
				// caller starts afresh instead of joining a cancelled one.
				f.cancel()
				if r.mu.flights[ck] == f {
					delete(r.mu.flights, ck)
				}
			}
			r.mu.Unlock()
			return nil, fmt.Errorf("tiering: read %q: %w", objectKey, ctx.Err())
		}
	}
}

// startLocked starts a flight fetching the range; r.mu must be held and the
// reader open. parent supplies context values only: the fetch is cancelled
// by Close or when its last waiter leaves.
func (r *Reader) startLocked(parent context.Context, ck, objectKey string, pos, size int64, ahead, block bool) *flight {
	fctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(r.base, cancel)
	f := &flight{done: make(chan struct{}), cancel: cancel, block: block}
	r.mu.flights[ck] = f
	if ahead {
		f.ahead = size
		r.mu.aheadBytes += size
		f.waiters = 1
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		defer stop()
		data, err := r.store.GetRange(fctx, objectKey, pos, size)
		if err == nil && int64(len(data)) != size {
			err = fmt.Errorf("store returned %d bytes", len(data))
		}
		// A block is kept hot and written to the disk cache only when it
		// leaves memory, if it was not read to the end by then
		// (spillLocked); any other range is cached now.
		hot := err == nil && f.block && r.cache != nil
		if err != nil {
			err = fmt.Errorf("tiering: read %q [%d,+%d): %w", objectKey, pos, size, err)
			data = nil
		} else if r.cache != nil && (!hot || r.cacheEveryBlock) {
			r.cache.Put(ck, data)
		}
		f.data, f.err = data, err

		r.mu.Lock()
		if r.mu.flights[ck] == f {
			delete(r.mu.flights, ck)
		}
		r.mu.aheadBytes -= f.ahead
		f.ahead = 0
		if hot {
			r.hotPutLocked(ck, data)
		}
		r.mu.Unlock()
		close(f.done)
	}()
	return f
}

// spillLocked writes a block leaving memory to the disk cache in the
// background, unless it was read to the end; r.mu must be held. Until it
// is written, a done flight of its bytes serves whoever asks for it.
func (r *Reader) spillLocked(b *hotBlock) {
	if r.cacheEveryBlock {
		return // written when fetched
	}
	if b.consumed() || r.mu.closed || r.mu.flights[b.ck] != nil {
		if b.consumed() {
			r.cache.metrics.notCached(int64(len(b.data)))
		}
		return
	}
	done := make(chan struct{})
	close(done)
	f := &flight{done: done, data: b.data, cancel: func() {}}
	r.mu.flights[b.ck] = f
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.cache.Put(b.ck, b.data)
		r.mu.Lock()
		if r.mu.flights[b.ck] == f {
			delete(r.mu.flights, b.ck)
		}
		r.mu.Unlock()
	}()
}

// aheadBudget is the most bytes of read-ahead in flight and hot blocks
// together: ReadAheadBytes, but at most half the cache, which is where
// read-ahead lands (so it does not evict itself before it is read).
func (r *Reader) aheadBudget() int64 {
	if r.cache == nil {
		return 0
	}
	return min(r.cfg.ReadAheadBytes, r.cache.budget/2)
}

// Prefetch starts fetching a range into the cache in the background, for a
// read expected soon, and reports whether the range is cached or being
// fetched now. It starts nothing if the range is cached or already being
// fetched, if the read-ahead in flight would then exceed its budget
// (ReadAheadBytes, at most half the cache: read-ahead is a hint, and
// dropping it is cheaper than queueing it behind slow GETs), if the Reader
// has no cache, or after Close. Errors are dropped: the read that follows
// will retry and report them.
func (r *Reader) Prefetch(objectKey string, pos, size int64) bool {
	return r.prefetch(objectKey, pos, size, false)
}

// prefetch is Prefetch; a block is kept hot once fetched.
func (r *Reader) prefetch(objectKey string, pos, size int64, block bool) bool {
	if r.cache == nil || pos < 0 || size < 0 {
		return false
	}
	ck := cacheKey(objectKey, pos, size)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.mu.closed:
		return false
	case r.mu.hot[ck] != nil || r.mu.flights[ck] != nil || r.cache.contains(ck):
		return true
	case r.mu.aheadBytes+size+r.unreadHotLocked() > r.aheadBudget():
		// Read-ahead displaces only blocks read to the end: one being
		// read (by another reader, in the middle of it) would have to
		// be written to disk and read back.
		return false
	}
	r.startLocked(r.base, ck, objectKey, pos, size, true, block)
	r.hotTrimLocked()
	return true
}

// unreadHotLocked is the bytes of hot blocks not yet read to the end.
func (r *Reader) unreadHotLocked() int64 {
	if r.cacheEveryBlock {
		return 0
	}
	var n int64
	for el := r.mu.hotLRU.Front(); el != nil; el = el.Next() {
		if b := el.Value.(*hotBlock); !b.consumed() {
			n += int64(len(b.data))
		}
	}
	return n
}

// hotGet returns the bytes of a hot block and marks it most recently
// used, or nil.
func (r *Reader) hotGet(ck string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.mu.hot[ck]
	if !ok {
		return nil
	}
	r.mu.hotLRU.MoveToFront(el)
	return el.Value.(*hotBlock).data
}

// noteRead counts a read of [off, off+n) of the block ck if it is hot.
func (r *Reader) noteRead(ck string, off, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.mu.hot[ck]; ok {
		el.Value.(*hotBlock).note(off, n)
	}
}

// hotPutLocked keeps a fetched block in memory, evicting the least
// recently used hot blocks to stay within the read-ahead budget (the
// block itself, if read-ahead in flight leaves no room).
func (r *Reader) hotPutLocked(ck string, data []byte) {
	if _, ok := r.mu.hot[ck]; ok {
		return
	}
	r.mu.hot[ck] = r.mu.hotLRU.PushFront(&hotBlock{ck: ck, data: data})
	r.mu.hotBytes += int64(len(data))
	r.hotTrimLocked()
}

// hotTrimLocked evicts hot blocks until they and the read-ahead in
// flight fit the budget: read-ahead, which will be read, displaces blocks
// that were. Blocks read to the end go first, least recently used first
// (they cost nothing to drop), then the others, least recently used first
// (each is written to the disk cache: several readers at once, each in
// the middle of its block, can hold more than the budget).
func (r *Reader) hotTrimLocked() {
	over := func() bool { return r.mu.hotBytes > 0 && r.mu.hotBytes+r.mu.aheadBytes > r.aheadBudget() }
	for el := r.mu.hotLRU.Back(); el != nil && over() && !r.cacheEveryBlock; {
		prev := el.Prev()
		if b := el.Value.(*hotBlock); b.consumed() {
			r.hotRemoveLocked(el)
		}
		el = prev
	}
	for over() {
		r.hotRemoveLocked(r.mu.hotLRU.Back())
	}
}

// hotRemoveLocked drops a hot block from memory, spilling it to the disk
// cache unless it was read to the end.
func (r *Reader) hotRemoveLocked(el *list.Element) {
	b := el.Value.(*hotBlock)
	r.mu.hotLRU.Remove(el)
	delete(r.mu.hot, b.ck)
	r.mu.hotBytes -= int64(len(b.data))
	r.spillLocked(b)
}

// Close cancels every fetch in flight, read-ahead included, and waits for
// them to end. ReadRange then returns ErrClosed and Prefetch does nothing.
func (r *Reader) Close() error {
	r.mu.Lock()
	r.mu.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}
