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
)

// fixture is a Reader over a mem store holding one 1000-byte object "obj".
type fixture struct {
	store  *mem.Store
	cache  *Cache
	reader *Reader
	data   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: mem.New(), cache: newCache(t, 1<<20)}
	f.data = make([]byte, 1000)
	for i := range f.data {
		f.data[i] = byte(i)
	}
	if err := f.store.Put(context.Background(), "obj", f.data); err != nil {
		t.Fatal(err)
	}
	f.reader = NewReader(f.store, f.cache)
	t.Cleanup(func() { f.reader.Close() })
	return f
}

// gate makes the store's GetRange calls block until release is called.
func (f *fixture) gate() (release func()) {
	ch := make(chan struct{})
	f.store.SetFault(func(op, key string) error {
		if op == mem.OpGetRange {
			<-ch
		}
		return nil
	})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (r *Reader) waiters(objectKey string, pos, size int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.mu.flights[cacheKey(objectKey, pos, size)]; f != nil {
		return f.waiters
	}
	return 0
}

// inFlight counts the GETs in flight: flights not done (a done flight
// still listed is having its bytes written to the disk cache).
func (r *Reader) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.mu.flights {
		select {
		case <-f.done:
		default:
			n++
		}
	}
	return n
}

func TestReadRangeMissThenHit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i := range 2 {
		got, err := f.reader.ReadRange(ctx, "obj", 100, 50)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.data[100:150]) {
			t.Fatalf("read %d returned wrong bytes", i)
		}
		got[0] ^= 0xff // the caller owns it; must not reach the cache
	}
	if n := f.store.Calls(mem.OpGetRange); n != 1 {
		t.Fatalf("getrange calls = %d, want 1", n)
	}
	m := f.cache.Metrics()
	if m.Hits() != 1 || m.Misses() != 1 {
		t.Fatalf("hits, misses = %d, %d; want 1, 1", m.Hits(), m.Misses())
	}
	got, _ := f.reader.ReadRange(ctx, "obj", 100, 50)
	if !bytes.Equal(got, f.data[100:150]) {
		t.Fatal("cache was changed through a returned slice")
	}
}

func TestReadRangeSingleflight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	release := f.gate()
	defer release()
	const callers = 10
	results := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			results[i], errs[i] = f.reader.ReadRange(context.Background(), "obj", 200, 300)
		})
	}
	WaitFor(t, "10 callers on one flight", func() bool { return f.reader.waiters("obj", 200, 300) == callers })
	release()
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || !bytes.Equal(results[i], f.data[200:500]) {
			t.Fatalf("caller %d: %v, or wrong bytes", i, errs[i])
		}
	}
	results[0][0] ^= 0xff
	if results[1][0] != f.data[200] {
		t.Fatal("callers share one result slice")
	}
	if n := f.store.Calls(mem.OpGetRange); n != 1 {
		t.Fatalf("getrange calls = %d for %d concurrent misses, want 1", n, callers)
	}
	if _, err := f.reader.ReadRange(context.Background(), "obj", 200, 300); err != nil {
		t.Fatal(err)
	}
	if n := f.store.Calls(mem.OpGetRange); n != 1 {
		t.Fatalf("getrange calls = %d after a cached read, want 1", n)
	}
}

func TestReadRangeWaiterCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	release := f.gate()
	defer release()

	// One of two waiters gives up: the other still gets the data.
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() {
		_, err := f.reader.ReadRange(ctx1, "obj", 0, 10)
		done1 <- err
	}()
	done2 := make(chan error, 1)
	go func() {
		_, err := f.reader.ReadRange(context.Background(), "obj", 0, 10)
		done2 <- err
	}()
	WaitFor(t, "two waiters", func() bool { return f.reader.waiters("obj", 0, 10) == 2 })
	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter err = %v, want context.Canceled", err)
	}
	release()
	if err := <-done2; err != nil {
		t.Fatalf("remaining waiter err = %v", err)
	}
}

func TestReadRangeLastWaiterCancelsFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The first GetRange hangs like a stuck store until its context ends.
	stuck := &hangFirst{Store: f.store, cancelled: make(chan struct{})}
	r := NewReader(stuck, f.cache)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadRange(ctx, "obj", 0, 10)
		done <- err
	}()
	WaitFor(t, "a waiter", func() bool { return r.waiters("obj", 0, 10) == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	<-stuck.cancelled // the fetch itself was cancelled, not left running

	// The abandoned flight is forgotten: a new read starts afresh.
	got, err := r.ReadRange(context.Background(), "obj", 0, 10)
	if err != nil || !bytes.Equal(got, f.data[:10]) {
		t.Fatalf("read after abandoned flight = %v", err)
	}
}

// hangFirst is a store whose first GetRange blocks until its context ends,
// then closes cancelled.
type hangFirst struct {
	objstore.Store
	once      sync.Once
	cancelled chan struct{}
}

func (h *hangFirst) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	first := false
	h.once.Do(func() { first = true })
	if !first {
		return h.Store.GetRange(ctx, key, off, n)
	}
	<-ctx.Done()
	close(h.cancelled)
	return nil, ctx.Err()
}

func TestReadRangeErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.reader.ReadRange(ctx, "missing", 0, 1); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("missing object err = %v, want ErrNotExist", err)
	}
	if _, err := f.reader.ReadRange(ctx, "obj", 990, 20); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("range past end err = %v, want ErrInvalidRange", err)
	}
	if _, err := f.reader.ReadRange(ctx, "obj", -1, 2); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("negative pos err = %v, want ErrInvalidRange", err)
	}

	// A failed fetch is not cached: the next read retries.
	down := errors.New("injected outage")
	f.store.SetFault(func(op, key string) error { return down })
	if _, err := f.reader.ReadRange(ctx, "obj", 0, 10); !errors.Is(err, down) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	f.store.SetFault(nil)
	if got, err := f.reader.ReadRange(ctx, "obj", 0, 10); err != nil || !bytes.Equal(got, f.data[:10]) {
		t.Fatalf("read after outage = %v", err)
	}
}

func TestPrefetchThenReadIsHit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.reader.Prefetch("obj", 500, 100)
	WaitFor(t, "prefetch cached", func() bool { return f.cache.contains(cacheKey("obj", 500, 100)) })
	got, err := f.reader.ReadRange(context.Background(), "obj", 500, 100)
	if err != nil || !bytes.Equal(got, f.data[500:600]) {
		t.Fatalf("ReadRange = %v, or wrong bytes", err)
	}
	m := f.cache.Metrics()
	if m.Hits() != 1 || m.Misses() != 0 {
		t.Fatalf("hits, misses = %d, %d; want 1, 0", m.Hits(), m.Misses())
	}
	if n := f.store.Calls(mem.OpGetRange); n != 1 {
		t.Fatalf("getrange calls = %d, want 1", n)
	}
	// Prefetching a cached range does nothing.
	f.reader.Prefetch("obj", 500, 100)
	if n := f.reader.inFlight(); n != 0 {
		t.Fatalf("prefetch of a cached range started %d flights", n)
	}
}

func TestPrefetchBudgetAndJoin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	release := f.gate()
	defer release()
	// A budget of 250 bytes holds two 100-byte read-aheads.
	cfg := ReaderConfig{ReadAheadBytes: 250}
	cfg.EnsureDefaults()
	r := newReader(f.store, f.cache, cfg)
	defer r.Close()
	var started []bool
	for i := range 4 {
		started = append(started, r.Prefetch("obj", int64(i*100), 100))
	}
	if want := []bool{true, true, false, false}; !slices.Equal(started, want) {
		t.Fatalf("Prefetch started %v, want %v", started, want)
	}
	if !r.Prefetch("obj", 0, 100) { // in flight already: reported, not started again
		t.Fatal("Prefetch of a range in flight = false")
	}
	WaitFor(t, "2 prefetch GETs", func() bool { return f.store.Calls(mem.OpGetRange) == 2 })
	if n := r.inFlight(); n != 2 {
		t.Fatalf("%d flights, want 2", n)
	}

	// A read of a range being prefetched joins it, and its bytes no
	// longer count as read-ahead: a third read-ahead fits.
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadRange(context.Background(), "obj", 0, 100)
		done <- err
	}()
	WaitFor(t, "read joins prefetch", func() bool { return r.waiters("obj", 0, 100) == 2 })
	if r.aheadInFlight() != 100 {
		t.Fatalf("read-ahead bytes in flight = %d, want 100", r.aheadInFlight())
	}
	if !r.Prefetch("obj", 200, 100) {
		t.Fatal("read-ahead refused with budget free")
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "prefetches done", func() bool { return r.inFlight() == 0 })
	if n := f.store.Calls(mem.OpGetRange); n != 3 {
		t.Fatalf("getrange calls = %d, want 3", n)
	}
	if r.aheadInFlight() != 0 {
		t.Fatalf("read-ahead bytes in flight = %d after all ended", r.aheadInFlight())
	}
	// The budget is free again.
	r.Prefetch("obj", 300, 100)
	WaitFor(t, "fourth prefetch cached", func() bool { return f.cache.contains(cacheKey("obj", 300, 100)) })
}

func (r *Reader) aheadInFlight() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.aheadBytes
}

func TestCloseStopsPrefetches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// GetRange hangs until its context is cancelled.
	hung := objstoreHang{Store: f.store}
	r := NewReader(hung, f.cache)
	r.Prefetch("obj", 0, 10)
	r.Prefetch("obj", 10, 10)
	WaitFor(t, "two prefetches", func() bool { return r.inFlight() == 2 })
	r.Close() // must return: cancels and waits
	if n := r.inFlight(); n != 0 {
		t.Fatalf("%d flights after Close", n)
	}
	if _, err := r.ReadRange(context.Background(), "obj", 0, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadRange after Close err = %v, want ErrClosed", err)
	}
	r.Prefetch("obj", 20, 10)
	if n := r.inFlight(); n != 0 {
		t.Fatal("Prefetch after Close started a flight")
	}
	r.Close() // idempotent
}

// objstoreHang is a store whose GetRange blocks until ctx ends.
type objstoreHang struct{ objstore.Store }

func (objstoreHang) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("hang: %w", ctx.Err())
}

func TestReaderWithoutCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := NewReader(f.store, nil)
	defer r.Close()
	for range 2 {
		if got, err := r.ReadRange(context.Background(), "obj", 1, 2); err != nil || !bytes.Equal(got, f.data[1:3]) {
			t.Fatalf("ReadRange = %v", err)
		}
	}
	r.Prefetch("obj", 0, 1) // no cache: no-op
	if n := r.inFlight(); n != 0 {
		t.Fatal("Prefetch without a cache started a flight")
	}
}
