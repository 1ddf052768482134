package partlog

import (
	"sort"
	"sync"
)

// tailChunk is one flushed chunk of a partition kept in memory so that
// tail consumers are served without object-store reads. Its data is
// immutable (a slice of the uploaded object).
type tailChunk struct {
	base, last int64
	data       []byte
	objectKey  string
	pos        int64
}

// tailChunks is one partition's in-memory tail, ordered by offset.
type tailChunks struct {
	mu     sync.Mutex
	chunks []*tailChunk
}

// tailBudget bounds the memory of all partitions' tails; the oldest chunk
// across the agent is evicted first (lock order: DESIGN.md).
type tailBudget struct {
	mu     sync.Mutex
	budget int64
	used   int64
	fifo   []tailRef
	head   int
}

type tailRef struct {
	t *tailChunks
	c *tailChunk
}

func (t *tailChunks) add(b *tailBudget, c *tailChunk) {
	size := int64(len(c.data))
	if size > b.budget {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t.mu.Lock()
	t.chunks = append(t.chunks, c)
	t.mu.Unlock()
	b.fifo = append(b.fifo, tailRef{t, c})
	b.used += size
	for b.used > b.budget && b.head < len(b.fifo) {
		r := b.fifo[b.head]
		b.fifo[b.head] = tailRef{}
		b.head++
		if r.t.remove(r.c) {
			b.used -= int64(len(r.c.data))
		}
	}
	if b.head > 1024 && b.head*2 > len(b.fifo) {
		b.fifo = append(b.fifo[:0], b.fifo[b.head:]...)
		b.head = 0
	}
}

// remove drops c if present and reports whether it was.
func (t *tailChunks) remove(c *tailChunk) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.chunks {
		if x == c {
			t.chunks = append(t.chunks[:i], t.chunks[i+1:]...)
			return true
		}
	}
	return false
}

// drop removes every chunk of the partition (topic deleted).
func (t *tailChunks) drop(b *tailBudget) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.mu.Lock()
	for _, c := range t.chunks {
		b.used -= int64(len(c.data))
	}
	t.chunks = nil
	t.mu.Unlock()
}

// find returns the chunk holding offset, or nil.
func (t *tailChunks) find(offset int64) *tailChunk {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := sort.Search(len(t.chunks), func(i int) bool { return t.chunks[i].last >= offset })
	if i < len(t.chunks) && t.chunks[i].base <= offset {
		return t.chunks[i]
	}
	return nil
}

// findObject returns the chunk stored at objectKey/pos, or nil.
func (t *tailChunks) findObject(objectKey string, pos int64) *tailChunk {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.chunks {
		if c.objectKey == objectKey && c.pos == pos {
			return c
		}
	}
	return nil
}
