package tiering

import (
	"container/list"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Cache is a byte-budgeted read cache on local disk: one file per entry,
// least recently used entries evicted first so the total stays within the
// budget. Its contents are only ever a copy of object-store bytes, so it is
// wiped at start and nothing is fsynced. It is safe for concurrent use.
type Cache struct {
	dir     string
	budget  int64
	metrics *CacheMetrics
	seq     atomic.Uint64 // names entry files; never reused, so a file is written once

	mu struct {
		sync.Mutex
		entries map[string]*list.Element // of *cacheEntry
		lru     list.List                // front = most recently used
		size    int64                    // sum of entry sizes
	}
}

type cacheEntry struct {
	key  string
	file string
	size int64
}

// NewCache returns an empty Cache keeping at most budget bytes in files
// under dir. It removes everything in dir first: leftovers of an earlier
// run are not trusted. m may be nil (unregistered metrics).
func NewCache(dir string, budget int64, m *CacheMetrics) (*Cache, error) {
	if budget < 0 {
		return nil, fmt.Errorf("tiering: cache budget %d < 0", budget)
	}
	if dir == "" || filepath.Clean(dir) == string(filepath.Separator) {
		return nil, fmt.Errorf("tiering: refusing to use %q as cache directory: it is wiped", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("tiering: wipe cache directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tiering: create cache directory: %w", err)
	}
	if m == nil {
		m = NewCacheMetrics(nil)
	}
	c := &Cache{dir: dir, budget: budget, metrics: m}
	c.mu.entries = make(map[string]*list.Element)
	return c, nil
}

// Metrics returns the cache's metrics.
func (c *Cache) Metrics() *CacheMetrics { return c.metrics }

// Size returns the bytes the cache holds.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.size
}

// Get returns the bytes cached under key, reading them from disk, and marks
// the entry most recently used. An entry whose file cannot be read whole is
// dropped and reported as a miss.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	el, ok := c.mu.entries[key]
	if !ok {
		c.mu.Unlock()
		c.metrics.miss()
		return nil, false
	}
	c.mu.lru.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	c.mu.Unlock()

	// Read without the lock. If the entry is evicted or replaced meanwhile,
	// its file is removed and the read fails: a miss.
	data, err := os.ReadFile(e.file)
	if err != nil || int64(len(data)) != e.size {
		c.drop(el)
		c.metrics.miss()
		return nil, false
	}
	c.metrics.hit()
	return data, true
}

// GetAt returns n bytes at off of the entry cached under key, reading
// only them from disk, and marks the entry most recently used: a read of
// one chunk of a cached block. A range outside the entry, or an entry
// whose file cannot be read, is a miss (an unreadable entry is dropped).
func (c *Cache) GetAt(key string, off, n int64) ([]byte, bool) {
	c.mu.Lock()
	el, ok := c.mu.entries[key]
	if !ok {
		c.mu.Unlock()
		c.metrics.miss()
		return nil, false
	}
	c.mu.lru.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	c.mu.Unlock()
	if off < 0 || n < 0 || off > e.size-n {
		c.metrics.miss()
		return nil, false
	}

	// As in Get: an entry evicted meanwhile has lost its file, a miss. A
	// file removed after Open stays readable through f.
	f, err := os.Open(e.file)
	if err != nil {
		c.drop(el)
		c.metrics.miss()
		return nil, false
	}
	defer f.Close()
	data := make([]byte, n)
	if m, _ := f.ReadAt(data, off); int64(m) != n {
		c.drop(el)
		c.metrics.miss()
		return nil, false
	}
	c.metrics.hit()
	return data, true
}

// contains reports whether key is cached, without counting a hit or miss
// or touching its recency.
func (c *Cache) contains(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.mu.entries[key]
	return ok
}

// drop removes el if it is still in the cache.
func (c *Cache) drop(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.mu.Lock()
	cur, ok := c.mu.entries[e.key]
	if ok && cur == el {
		c.removeLocked(el)
	}
	c.mu.Unlock()
	if ok && cur == el {
		os.Remove(e.file)
	}
}

func (c *Cache) removeLocked(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.mu.lru.Remove(el)
	delete(c.mu.entries, e.key)
	c.mu.size -= e.size
	c.metrics.addBytes(-e.size)
}

// Put caches a copy of data under key, replacing any entry for key, and
// evicts least recently used entries until the total is within the budget.
// Data larger than the whole budget is not cached (and an older entry for
// key is dropped). A failure to write the file only means the data is not
// cached.
func (c *Cache) Put(key string, data []byte) {
	size := int64(len(data))
	if size > c.budget {
		c.mu.Lock()
		el, ok := c.mu.entries[key]
		c.mu.Unlock()
		if ok {
			c.drop(el)
		}
		return
	}
	file := filepath.Join(c.dir, fmt.Sprintf("%016x", c.seq.Add(1)))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		os.Remove(file)
		return
	}

	var remove []string
	c.mu.Lock()
	if old, ok := c.mu.entries[key]; ok {
		remove = append(remove, old.Value.(*cacheEntry).file)
		c.removeLocked(old)
	}
	c.mu.entries[key] = c.mu.lru.PushFront(&cacheEntry{key: key, file: file, size: size})
	c.mu.size += size
	c.metrics.addBytes(size)
	evicted := 0
	for c.mu.size > c.budget {
		el := c.mu.lru.Back()
		remove = append(remove, el.Value.(*cacheEntry).file)
		c.removeLocked(el)
		evicted++
	}
	c.mu.Unlock()

	if evicted > 0 {
		c.metrics.evicted(evicted)
	}
	for _, f := range remove {
		// A file that cannot be removed outlives its entry until the wipe
		// at next start; it is no longer counted or read.
		os.Remove(f)
	}
}
