package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stratalog/strata/tiering/objstore"
)

// Run runs the conformance suite against stores made by newStore, one per
// subtest.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Empty", testEmpty},
		{"Overwrite", testOverwrite},
		{"GetRange", testGetRange},
		{"NotExist", testNotExist},
		{"Delete", testDelete},
		{"List", testList},
		{"InvalidKeys", testInvalidKeys},
		{"NoAliasing", testNoAliasing},
		{"Large", testLarge},
		{"ConcurrentDistinctKeys", testConcurrentDistinct},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"CancelledContext", testCancelled},
		{"DeleteBatch", testDeleteBatch},
		{"DeleteKeys", testDeleteKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

func put(t *testing.T, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return got
}

func testRoundTrip(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	data := []byte("hello, segment")
	put(t, s, "a/b/c.seg", data)
	if got := mustGet(t, s, "a/b/c.seg"); !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, want %q", got, data)
	}
	info, err := s.Stat(ctx, "a/b/c.seg")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != "a/b/c.seg" || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, want key a/b/c.seg size %d", info, len(data))
	}
	if info.Modified.IsZero() {
		t.Errorf("Stat: Modified is zero")
	}
}

func testEmpty(t *testing.T, s objstore.Store) {
	put(t, s, "empty", nil)
	if got := mustGet(t, s, "empty"); len(got) != 0 {
		t.Fatalf("Get = %q, want empty", got)
	}
	info, err := s.Stat(context.Background(), "empty")
	if err != nil || info.Size != 0 {
		t.Fatalf("Stat = %+v, %v; want size 0", info, err)
	}
	got, err := s.GetRange(context.Background(), "empty", 0, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("GetRange(0,0) = %q, %v; want empty, nil", got, err)
	}
}

func testOverwrite(t *testing.T, s objstore.Store) {
	put(t, s, "k", []byte("first, longer value"))
	put(t, s, "k", []byte("second"))
	if got := mustGet(t, s, "k"); string(got) != "second" {
		t.Fatalf("Get = %q, want %q", got, "second")
	}
	info, err := s.Stat(context.Background(), "k")
	if err != nil || info.Size != 6 {
		t.Fatalf("Stat = %+v, %v; want size 6", info, err)
	}
}

func testGetRange(t *testing.T, s objstore.Store) {
	data := []byte("0123456789")
	put(t, s, "r", data)
	tests := []struct {
		name    string
		off, n  int64
		want    string
		wantErr error
	}{
		{"start", 0, 3, "012", nil},
		{"middle", 4, 3, "456", nil},
		{"end", 7, 3, "789", nil},
		{"whole", 0, 10, "0123456789", nil},
		{"zero at start", 0, 0, "", nil},
		{"zero at end", 10, 0, "", nil},
		{"past end", 8, 3, "", objstore.ErrInvalidRange},
		{"start past end", 11, 0, "", objstore.ErrInvalidRange},
		{"negative offset", -1, 2, "", objstore.ErrInvalidRange},
		{"negative length", 2, -1, "", objstore.ErrInvalidRange},
		{"overflow", 5, 1<<63 - 1, "", objstore.ErrInvalidRange},
	}
	for _, tt := range tests {
		got, err := s.GetRange(context.Background(), "r", tt.off, tt.n)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: GetRange(%d,%d) err = %v, want %v", tt.name, tt.off, tt.n, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: GetRange(%d,%d) = %q, %v; want %q", tt.name, tt.off, tt.n, got, err, tt.want)
		}
	}
}

func testNotExist(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	put(t, s, "dir/present", []byte("x"))
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/present/below"} {
		if _, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("Get(%q) err = %v, want ErrNotExist", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 0); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("GetRange(%q) err = %v, want ErrNotExist", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("Stat(%q) err = %v, want ErrNotExist", key, err)
		}
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	put(t, s, "d/1", []byte("one"))
	put(t, s, "d/2", []byte("two"))
	if err := s.Delete(ctx, "d/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, "d/1"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Get after Delete err = %v, want ErrNotExist", err)
	}
	if got := mustGet(t, s, "d/2"); string(got) != "two" {
		t.Fatalf("Get(d/2) = %q after deleting d/1", got)
	}
	if err := s.Delete(ctx, "d/1"); err != nil {
		t.Fatalf("Delete again: %v, want nil", err)
	}
	if err := s.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("Delete missing: %v, want nil", err)
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 || list[0].Key != "d/2" {
		t.Fatalf("List after Delete = %v, want only d/2", list)
	}
}

func testList(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	// Insert out of order; "a-c" sorts before "a/b" ('-' < '/') although a
	// directory walk visits "a" first.
	objects := map[string]int{
		"a/b":     1,
		"a-c":     22,
		"a/bc/d":  333,
		"a/b1":    4,
		"b/x/y/z": 5,
		"a0":      6,
		"ab/c":    7,
	}
	for k, n := range objects {
		put(t, s, k, bytes.Repeat([]byte{'x'}, n))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-c", "a/b", "a/b1", "a/bc/d", "a0", "ab/c", "b/x/y/z"}},
		{"a", []string{"a-c", "a/b", "a/b1", "a/bc/d", "a0", "ab/c"}},
		{"a/", []string{"a/b", "a/b1", "a/bc/d"}},
		{"a/b", []string{"a/b", "a/b1", "a/bc/d"}},
		{"a/bc", []string{"a/bc/d"}},
		{"a/bc/", []string{"a/bc/d"}},
		{"b/x/", []string{"b/x/y/z"}},
		{"b/x/y/z", []string{"b/x/y/z"}},
		{"b/x/y/z/", nil},
		{"nothing", nil},
		{"no/such/dir/", nil},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.prefix)
		if err != nil {
			t.Errorf("List(%q): %v", tt.prefix, err)
			continue
		}
		var keys []string
		for _, info := range got {
			keys = append(keys, info.Key)
			if want := int64(objects[info.Key]); info.Size != want {
				t.Errorf("List(%q): %s size %d, want %d", tt.prefix, info.Key, info.Size, want)
			}
		}
		if !slices.Equal(keys, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, keys, tt.want)
		}
	}
}

func testInvalidKeys(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "a/../b", "..", "a/..", `a\b`, "a\x00b", "a//b", "trailing/"} {
		if err := s.Put(ctx, key, []byte("x")); err == nil {
			t.Errorf("Put(%q) = nil, want an error", key)
		}
		if _, err := s.Get(ctx, key); err == nil {
			t.Errorf("Get(%q) = nil error, want an error", key)
		}
		if _, err := s.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) = nil error, want an error", key)
		}
		if err := s.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) = nil, want an error", key)
		}
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 0 {
		t.Fatalf("List after invalid Puts = %v, want nothing", list)
	}
}

func testNoAliasing(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	data := []byte("original")
	put(t, s, "alias", data)
	data[0] = 'X' // the caller reuses its buffer
	got := mustGet(t, s, "alias")
	if string(got) != "original" {
		t.Fatalf("Get = %q after caller changed its buffer, want %q", got, "original")
	}
	got[0] = 'Y'
	part, err := s.GetRange(ctx, "alias", 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	part[1] = 'Z'
	if got := mustGet(t, s, "alias"); string(got) != "original" {
		t.Fatalf("Get = %q after caller changed returned buffers, want %q", got, "original")
	}
}

func testLarge(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	const size = 20 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	put(t, s, "large/object", data)
	if got := mustGet(t, s, "large/object"); !bytes.Equal(got, data) {
		t.Fatalf("Get of %d bytes returned %d bytes, or different bytes", size, len(got))
	}
	info, err := s.Stat(ctx, "large/object")
	if err != nil || info.Size != size {
		t.Fatalf("Stat = %+v, %v; want size %d", info, err, size)
	}
	off, n := int64(size-(3<<20)-17), int64(3<<20)
	got, err := s.GetRange(ctx, "large/object", off, n)
	if err != nil {
		t.Fatalf("GetRange: %v", err)
	}
	if !bytes.Equal(got, data[off:off+n]) {
		t.Fatalf("GetRange(%d,%d) returned wrong bytes", off, n)
	}
}

func testConcurrentDistinct(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("c/%02d/obj", i)
			if err := s.Put(ctx, key, bytes.Repeat([]byte{byte(i)}, 1000+i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Put: %v", err)
	}
	list, err := s.List(ctx, "c/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != writers {
		t.Fatalf("List = %d objects, want %d", len(list), writers)
	}
	for i := range writers {
		key := fmt.Sprintf("c/%02d/obj", i)
		if want := bytes.Repeat([]byte{byte(i)}, 1000+i); !bytes.Equal(mustGet(t, s, key), want) {
			t.Errorf("Get(%q) is not what its writer wrote", key)
		}
	}
}

// uniform reports whether data is non-empty and every byte is the same.
func uniform(data []byte) bool {
	return len(data) > 0 && bytes.Count(data, data[:1]) == len(data)
}

func testConcurrentSameKey(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	const (
		writers = 8
		rounds  = 4
		size    = 256 << 10
	)
	put(t, s, "same", bytes.Repeat([]byte{0xff}, size))
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.Get(ctx, "same")
				if err != nil {
					t.Errorf("Get during Puts: %v", err)
					return
				}
				if len(got) != size || !uniform(got) {
					t.Errorf("Get during Puts saw a torn object (%d bytes)", len(got))
					return
				}
			}
		})
	}
	var writersWG sync.WaitGroup
	for i := range writers {
		writersWG.Go(func() {
			for range rounds {
				if err := s.Put(ctx, "same", bytes.Repeat([]byte{byte(i)}, size)); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	readers.Wait()
	got := mustGet(t, s, "same")
	if len(got) != size || !uniform(got) || got[0] >= writers {
		t.Fatalf("final object is not exactly one written value (%d bytes, first byte %d)", len(got), got[0])
	}
}

func testCancelled(t *testing.T, s objstore.Store) {
	put(t, s, "present", []byte("data"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	check("Put", s.Put(ctx, "new", []byte("x")))
	_, err := s.Get(ctx, "present")
	check("Get", err)
	_, err = s.GetRange(ctx, "present", 0, 1)
	check("GetRange", err)
	_, err = s.Stat(ctx, "present")
	check("Stat", err)
	_, err = s.List(ctx, "")
	check("List", err)
	check("Delete", s.Delete(ctx, "present"))

	if _, err := s.Stat(context.Background(), "new"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Stat(new) after cancelled Put: err = %v, want ErrNotExist", err)
	}
	if got := mustGet(t, s, "present"); string(got) != "data" {
		t.Errorf("Get(present) after cancelled Delete = %q, want %q", got, "data")
	}
}

// keys lists the store's keys under prefix.
func keys(t *testing.T, s objstore.Store, prefix string) []string {
	t.Helper()
	list, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	var out []string
	for _, o := range list {
		out = append(out, o.Key)
	}
	return out
}

// testDeleteBatch checks DeleteBatch where the store has it: present,
// missing and repeated keys, an invalid key failing alone, the size
// limit, and a cancelled context deleting nothing.
func testDeleteBatch(t *testing.T, s objstore.Store) {
	bd, ok := s.(objstore.BatchDeleter)
	if !ok {
		t.Skip("not a BatchDeleter")
	}
	ctx := context.Background()
	for _, k := range []string{"b/1", "b/2", "b/3", "b/4", "keep/1"} {
		put(t, s, k, []byte(k))
	}
	if err := bd.DeleteBatch(ctx, nil); err != nil {
		t.Fatalf("DeleteBatch(nil): %v", err)
	}
	if err := bd.DeleteBatch(ctx, []string{"b/1", "never/was", "b/2", "b/1", "b"}); err != nil {
		t.Fatalf("DeleteBatch(present, missing, repeated): %v", err)
	}
	if got, want := keys(t, s, ""), []string{"b/3", "b/4", "keep/1"}; !slices.Equal(got, want) {
		t.Fatalf("List after DeleteBatch = %q, want %q", got, want)
	}

	// An invalid key fails by itself, named; the valid keys go.
	err := bd.DeleteBatch(ctx, []string{"b/3", "a/../b", "b/4"})
	var ke *objstore.KeyError
	if !errors.As(err, &ke) || ke.Key != "a/../b" {
		t.Fatalf("DeleteBatch with an invalid key: err = %v, want a KeyError for it", err)
	}
	if got, want := keys(t, s, ""), []string{"keep/1"}; !slices.Equal(got, want) {
		t.Fatalf("List after DeleteBatch with an invalid key = %q, want %q", got, want)
	}

	if err := bd.DeleteBatch(ctx, make([]string, objstore.MaxBatchDelete+1)); err == nil {
		t.Errorf("DeleteBatch of %d keys = nil, want an error", objstore.MaxBatchDelete+1)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := bd.DeleteBatch(cctx, []string{"keep/1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteBatch with cancelled context: err = %v, want context.Canceled", err)
	}
	if got := mustGet(t, s, "keep/1"); string(got) != "keep/1" {
		t.Errorf("Get(keep/1) after cancelled DeleteBatch = %q", got)
	}
}

// testDeleteKeys deletes more keys than one batch takes, missing ones
// among them, through DeleteKeys (batched or not, as the store allows).
func testDeleteKeys(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	const n = objstore.MaxBatchDelete + 50
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 16)
		errs = make(chan error, n)
		del  []string
	)
	for i := range n {
		k := fmt.Sprintf("many/%02d/%04d", i%7, i)
		del = append(del, k)
		if i%10 == 9 {
			// Every tenth key was never written.
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.Put(ctx, k, []byte{byte(i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Put: %v", err)
	}
	put(t, s, "many-keep", []byte("x"))
	put(t, s, "many/keep", []byte("y"))
	if got := len(keys(t, s, "many/")); got != n-n/10+1 {
		t.Fatalf("List(many/) = %d keys before DeleteKeys, want %d", got, n-n/10+1)
	}
	if err := objstore.DeleteKeys(ctx, s, del); err != nil {
		t.Fatalf("DeleteKeys(%d keys): %v", len(del), err)
	}
	if got, want := keys(t, s, "many"), []string{"many-keep", "many/keep"}; !slices.Equal(got, want) {
		if len(got) > 5 {
			got = append(got[:5], "...")
		}
		t.Fatalf("List after DeleteKeys = %q, want %q", got, want)
	}
	if err := objstore.DeleteKeys(ctx, s, del); err != nil {
		t.Fatalf("DeleteKeys again (all missing): %v", err)
	}
}
