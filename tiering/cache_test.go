package tiering

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test after 10s.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newCache(t *testing.T, budget int64) *Cache {
	t.Helper()
	c, err := NewCache(filepath.Join(t.TempDir(), "cache"), budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// diskBytes returns the number and total size of files in the cache dir.
func diskBytes(t *testing.T, c *Cache) (files int, size int64) {
	t.Helper()
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	return len(entries), size
}

func TestCacheEvictionOrder(t *testing.T) {
	t.Parallel()
	c := newCache(t, 30)
	val := func(b byte) []byte { return bytes.Repeat([]byte{b}, 10) }
	c.Put("a", val('a'))
	c.Put("b", val('b'))
	c.Put("c", val('c'))
	if _, ok := c.Get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.Put("d", val('d')) // evicts b, the least recently used

	if _, ok := c.Get("b"); ok {
		t.Error("b survived; want it evicted as least recently used")
	}
	for _, k := range []string{"a", "c", "d"} {
		got, ok := c.Get(k)
		if !ok || !bytes.Equal(got, val(k[0])) {
			t.Errorf("Get(%q) = %q, %v; want it cached", k, got, ok)
		}
	}
	if got := c.Metrics().Evictions(); got != 1 {
		t.Errorf("Evictions = %d, want 1", got)
	}
	// Recency is now d, c, a (most recent first); 25 more bytes of a 30-byte
	// budget evict all three.
	c.Put("e", make([]byte, 25))
	for k, want := range map[string]bool{"a": false, "c": false, "d": false, "e": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("after big Put: Get(%q) cached = %v, want %v", k, ok, want)
		}
	}
	if c.Size() != 25 {
		t.Errorf("Size = %d, want 25", c.Size())
	}
	if files, size := diskBytes(t, c); files != 1 || size != 25 {
		t.Errorf("disk holds %d files, %d bytes; want 1, 25", files, size)
	}
}

func TestCacheOversizeNotCached(t *testing.T) {
	t.Parallel()
	c := newCache(t, 100)
	c.Put("k", []byte("small"))
	c.Put("k", make([]byte, 101)) // too big: not cached, and the stale entry goes
	if _, ok := c.Get("k"); ok {
		t.Fatal("Get after oversized Put found an entry")
	}
	if c.Size() != 0 {
		t.Fatalf("Size = %d, want 0", c.Size())
	}
	c.Put("fits", make([]byte, 100)) // exactly the budget is fine
	if _, ok := c.Get("fits"); !ok {
		t.Fatal("entry of exactly the budget not cached")
	}
	zero := newCache(t, 0)
	zero.Put("k", []byte("x"))
	if _, ok := zero.Get("k"); ok || zero.Size() != 0 {
		t.Fatal("zero-budget cache cached something")
	}
}

func TestCacheReplace(t *testing.T) {
	t.Parallel()
	c := newCache(t, 100)
	c.Put("k", []byte("first"))
	c.Put("k", []byte("second!"))
	got, ok := c.Get("k")
	if !ok || string(got) != "second!" {
		t.Fatalf("Get = %q, %v", got, ok)
	}
	if c.Size() != 7 {
		t.Fatalf("Size = %d, want 7", c.Size())
	}
	if files, _ := diskBytes(t, c); files != 1 {
		t.Fatalf("%d files on disk, want 1", files)
	}
}

func TestCacheBudgetRespected(t *testing.T) {
	t.Parallel()
	const budget = 10_000
	c := newCache(t, budget)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		c.Put(fmt.Sprintf("k%d", rng.IntN(100)), make([]byte, rng.IntN(3000)))
		if s := c.Size(); s > budget {
			t.Fatalf("after Put %d: Size = %d > budget %d", i, s, budget)
		}
	}
	_, size := diskBytes(t, c)
	if size != c.Size() {
		t.Fatalf("disk holds %d bytes, Size says %d", size, c.Size())
	}
}

func TestCacheMissingFileIsMiss(t *testing.T) {
	t.Parallel()
	c := newCache(t, 100)
	c.Put("k", []byte("data"))
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		os.Remove(filepath.Join(c.dir, e.Name()))
	}
	if _, ok := c.Get("k"); ok {
		t.Fatal("Get found an entry whose file is gone")
	}
	if c.Size() != 0 {
		t.Fatalf("Size = %d after dropping the broken entry, want 0", c.Size())
	}
}

func TestNewCacheWipesDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale")
	if err := os.WriteFile(stale, []byte("old run"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCache(dir, 10, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale file survived NewCache: %v", err)
	}
	for _, bad := range []string{"", "/"} {
		if _, err := NewCache(bad, 10, nil); err == nil {
			t.Errorf("NewCache(%q) = nil error", bad)
		}
	}
	if _, err := NewCache(t.TempDir(), -1, nil); err == nil {
		t.Error("NewCache with negative budget = nil error")
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	const budget = 5000
	c := newCache(t, budget)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := fmt.Sprintf("k%d", (g*7+i)%20)
				want := bytes.Repeat([]byte{byte(len(k))}, 100+len(k))
				c.Put(k, want)
				if got, ok := c.Get(k); ok && len(got) != len(want) {
					t.Errorf("Get(%q) = %d bytes, want %d", k, len(got), len(want))
				}
			}
		})
	}
	wg.Wait()
	if c.Size() > budget {
		t.Fatalf("Size = %d > budget", c.Size())
	}
	_, size := diskBytes(t, c)
	if size != c.Size() {
		t.Fatalf("disk holds %d bytes, Size says %d", size, c.Size())
	}
}
