package tiering

import (
	"container/list"
	"sync"
)

// footerCache keeps parsed segment footers in memory, least recently used
// dropped first to stay within a byte budget. Its mutex is a leaf: taken
// alone, never while holding Reader.mu.
type footerCache struct {
	budget int64

	mu struct {
		sync.Mutex
		entries map[string]*list.Element // of *footerEntry
		lru     list.List                // front = most recently used
		size    int64
	}
}

type footerEntry struct {
	key  string
	f    *footer
	cost int64
}

func newFooterCache(budget int64) *footerCache {
	c := &footerCache{budget: budget}
	c.mu.entries = make(map[string]*list.Element)
	return c
}

func (c *footerCache) get(key string) *footer {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.mu.entries[key]
	if !ok {
		return nil
	}
	c.mu.lru.MoveToFront(el)
	return el.Value.(*footerEntry).f
}

func (c *footerCache) put(key string, f *footer) {
	cost := f.cost(key)
	if cost > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.mu.entries[key]; ok {
		c.removeLocked(old)
	}
	c.mu.entries[key] = c.mu.lru.PushFront(&footerEntry{key: key, f: f, cost: cost})
	c.mu.size += cost
	for c.mu.size > c.budget {
		c.removeLocked(c.mu.lru.Back())
	}
}

// drop forgets key's footer (its object is gone).
func (c *footerCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mu.entries[key]; ok {
		c.removeLocked(el)
	}
}

func (c *footerCache) removeLocked(el *list.Element) {
	e := el.Value.(*footerEntry)
	c.mu.lru.Remove(el)
	delete(c.mu.entries, e.key)
	c.mu.size -= e.cost
}

// stats returns the number of footers held and their cost.
func (c *footerCache) stats() (n int, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.entries), c.mu.size
}
