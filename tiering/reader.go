package tiering

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/stratalog/strata/tiering/objstore"
)

// ErrClosed is returned by ReadRange after Close.
var ErrClosed = errors.New("tiering: reader closed")

// maxPrefetches bounds the prefetches in flight per Reader, so read-ahead
// cannot crowd out the reads a consumer is waiting for.
const maxPrefetches = 2

// Reader reads byte ranges of objects through a Cache, making one GetRange
// for any number of concurrent misses of the same range, and prefetches
// ranges in the background. It is safe for concurrent use.
type Reader struct {
	store objstore.Store
	cache *Cache // may be nil: no caching, no prefetch

	// base is cancelled by Close; every fetch stops when it is.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetch goroutines

	mu struct {
		sync.Mutex
		closed     bool
		flights    map[string]*flight // by cache key
		prefetches int                // flights started by Prefetch, not done
	}
}

// flight is one GetRange, shared by every caller that wants its range.
type flight struct {
	done   chan struct{} // closed when data and err are set
	data   []byte
	err    error
	cancel context.CancelFunc

	// Under Reader.mu.
	waiters  int // callers waiting; a prefetch counts as one that never leaves
	prefetch bool
}

// NewReader returns a Reader of store's objects that caches in cache, which
// may be nil.
func NewReader(store objstore.Store, cache *Cache) *Reader {
	r := &Reader{store: store, cache: cache}
	r.base, r.cancel = context.WithCancel(context.Background())
	r.mu.flights = make(map[string]*flight)
	return r
}

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
	if pos < 0 || size < 0 {
		return nil, fmt.Errorf("tiering: read %q [%d,+%d): %w", objectKey, pos, size, objstore.ErrInvalidRange)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tiering: read %q: %w", objectKey, err)
	}
	ck := cacheKey(objectKey, pos, size)
	if r.cache != nil {
		if data, ok := r.cache.Get(ck); ok {
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
				if data, ok := r.cache.Get(ck); ok {
					return data, nil
				}
				continue // evicted in between
			}
			f = r.startLocked(context.WithoutCancel(ctx), ck, objectKey, pos, size, false)
		}
		f.waiters++
		r.mu.Unlock()

		select {
		case <-f.done:
			if f.err != nil {
				return nil, f.err
			}
			// Each caller gets its own copy; the flight's stays unshared.
			return slices.Clone(f.data), nil
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
func (r *Reader) startLocked(parent context.Context, ck, objectKey string, pos, size int64, prefetch bool) *flight {
	fctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(r.base, cancel)
	f := &flight{done: make(chan struct{}), cancel: cancel, prefetch: prefetch}
	r.mu.flights[ck] = f
	if prefetch {
		r.mu.prefetches++
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
		if err != nil {
			err = fmt.Errorf("tiering: read %q [%d,+%d): %w", objectKey, pos, size, err)
			data = nil
		} else if r.cache != nil {
			r.cache.Put(ck, data)
		}
		f.data, f.err = data, err

		r.mu.Lock()
		if r.mu.flights[ck] == f {
			delete(r.mu.flights, ck)
		}
		if f.prefetch {
			r.mu.prefetches--
		}
		r.mu.Unlock()
		close(f.done)
	}()
	return f
}

// Prefetch starts fetching a range into the cache in the background, for a
// read expected soon. It does nothing if the range is cached or already
// being fetched, if maxPrefetches (2) prefetches are in flight (read-ahead
// is a hint: dropping it is cheaper than queueing it behind slow GETs), if
// the Reader has no cache, or after Close. Errors are dropped: the read
// that follows will retry and report them.
func (r *Reader) Prefetch(objectKey string, pos, size int64) {
	if r.cache == nil || pos < 0 || size < 0 {
		return
	}
	ck := cacheKey(objectKey, pos, size)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.closed || r.mu.prefetches >= maxPrefetches || r.mu.flights[ck] != nil || r.cache.contains(ck) {
		return
	}
	r.startLocked(r.base, ck, objectKey, pos, size, true)
}

// Close cancels every fetch in flight, prefetches included, and waits for
// them to end. ReadRange then returns ErrClosed and Prefetch does nothing.
func (r *Reader) Close() error {
	r.mu.Lock()
	r.mu.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}
