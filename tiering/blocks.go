package tiering

import (
	"fmt"
	"sort"
	"unsafe"

	"github.com/stratalog/strata/tiering/segment"
)

// block is a run of consecutive chunks of a segment object read with one
// range GET: chunks [first, end) at bytes [pos, pos+size).
type block struct {
	first, end int
	pos, size  int64
}

// groupBlocks groups a segment's chunks (back to back from 0, in footer
// order) into blocks of about target bytes. The body is cut into
// n = round(body/target) parts (at least 1) of equal size, each cut moved
// to the chunk boundary nearest it, so blocks come out between about half
// and one and a half times target and the last one is not a sliver (a
// sliver would cost a GET of its own per object). A cut that would leave a
// block empty is dropped, so a chunk larger than a block is one block. The
// result depends only on the chunks and target: every reader of an object
// cuts it the same way.
func groupBlocks(chunks []segment.Chunk, target int64) []block {
	if len(chunks) == 0 {
		return nil
	}
	last := chunks[len(chunks)-1]
	body := last.Pos + last.Size
	n := body / target
	if rem := body % target; rem >= target-rem { // round half up, without overflow
		n++
	}
	n = max(n, 1)
	n = min(n, int64(len(chunks)))
	var blocks []block
	first := 0
	for k := int64(1); k < n; k++ {
		goal := cutPoint(body, k, n)
		// The first boundary at or after goal is the end of chunk e-1.
		e := sort.Search(len(chunks), func(i int) bool { return chunks[i].Pos+chunks[i].Size >= goal }) + 1
		// The boundary before it may be nearer.
		if e-1 > first && goal-chunks[e-1].Pos < chunks[e-1].Pos+chunks[e-1].Size-goal {
			e--
		}
		if e <= first || e >= len(chunks) {
			continue
		}
		blocks = append(blocks, makeBlock(chunks, first, e))
		first = e
	}
	return append(blocks, makeBlock(chunks, first, len(chunks)))
}

// cutPoint returns body*k/n without overflowing.
func cutPoint(body, k, n int64) int64 {
	return body/n*k + body%n*k/n
}

func makeBlock(chunks []segment.Chunk, first, end int) block {
	pos := chunks[first].Pos
	last := chunks[end-1]
	return block{first: first, end: end, pos: pos, size: last.Pos + last.Size - pos}
}

// footer is a segment object's parsed footer and its blocks.
type footer struct {
	chunks []segment.Chunk
	blocks []block
}

// cost is the footer's memory, for the footer cache's budget.
func (f *footer) cost(key string) int64 {
	return int64(len(key)) + int64(len(f.chunks))*int64(unsafe.Sizeof(segment.Chunk{})) +
		int64(len(f.blocks))*int64(unsafe.Sizeof(block{})) + 64
}

// chunkFor returns the index of the first chunk whose last offset is at
// or after offset; ok is false if there is none.
func (f *footer) chunkFor(offset int64) (int, bool) {
	i := sort.Search(len(f.chunks), func(i int) bool { return f.chunks[i].LastOffset >= offset })
	return i, i < len(f.chunks)
}

// blockOf returns the index of the block holding chunk i.
func (f *footer) blockOf(i int) int {
	return sort.Search(len(f.blocks), func(b int) bool { return f.blocks[b].end > i })
}

// newFooter checks a parsed footer against what a per-partition segment
// must be, and groups its chunks into blocks. Offsets must increase from
// chunk to chunk (reads search them), and when topic/partition are given,
// every chunk must be theirs.
func newFooter(chunks []segment.Chunk, topic *[16]byte, partition int32, blockBytes int64) (*footer, error) {
	for i := range chunks {
		c := &chunks[i]
		if topic != nil && (c.TopicID != *topic || c.Partition != partition) {
			return nil, fmt.Errorf("%w: chunk %d is of partition %x/%d, not of %x/%d", segment.ErrCorrupt, i, c.TopicID, c.Partition, *topic, partition)
		}
		if i > 0 && c.FirstOffset <= chunks[i-1].LastOffset {
			return nil, fmt.Errorf("%w: chunk %d starts at offset %d, at or before the previous chunk's last offset %d", segment.ErrCorrupt, i, c.FirstOffset, chunks[i-1].LastOffset)
		}
	}
	return &footer{chunks: chunks, blocks: groupBlocks(chunks, blockBytes)}, nil
}
