package tiering

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stratalog/strata/tiering/segment"
)

// chunksOf lays out chunks of the given sizes back to back from 0.
func chunksOf(sizes ...int64) []segment.Chunk {
	var out []segment.Chunk
	var pos int64
	for i, s := range sizes {
		c := segment.Chunk{Pos: pos, Size: s}
		c.FirstOffset, c.LastOffset = int64(i)*10, int64(i)*10+9
		out = append(out, c)
		pos += s
	}
	return out
}

func repeat(n int, size int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = size
	}
	return out
}

// ends returns each block's end chunk index: the cut points.
func ends(blocks []block) []int {
	var out []int
	for _, b := range blocks {
		out = append(out, b.end)
	}
	return out
}

func TestGroupBlocks(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	for _, tc := range []struct {
		name   string
		sizes  []int64
		target int64
		ends   []int
	}{
		{"no chunks", nil, 8 * mib, nil},
		{"one chunk", []int64{100}, 8 * mib, []int{1}},
		{"one chunk larger than a block", []int64{40 * mib}, 8 * mib, []int{1}},
		{"64 x 1 MiB by 8 MiB", repeat(64, mib), 8 * mib, []int{8, 16, 24, 32, 40, 48, 56, 64}},
		{"64 x 1 MiB by 16 MiB", repeat(64, mib), 16 * mib, []int{16, 32, 48, 64}},
		// A little over 64 MiB is still four blocks, not a fifth sliver.
		{"64 x 1.01 MiB by 16 MiB", repeat(64, mib+mib/100), 16 * mib, []int{16, 32, 48, 64}},
		{"65 x 1 MiB by 8 MiB: 8 blocks, none a sliver", repeat(65, mib), 8 * mib, []int{8, 16, 24, 33, 41, 49, 57, 65}},
		{"9 MiB by 8 MiB: one block", repeat(9, mib), 8 * mib, []int{9}},
		{"12 MiB by 8 MiB: rounds up to two", repeat(12, mib), 8 * mib, []int{6, 12}},
		{"a huge chunk is a block of its own", []int64{mib, mib, 20 * mib, mib, mib}, 8 * mib, []int{2, 3, 5}},
		{"more blocks wanted than chunks", repeat(3, 10*mib), mib, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks := chunksOf(tc.sizes...)
			blocks := groupBlocks(chunks, tc.target)
			checkBlocks(t, chunks, blocks)
			if got := ends(blocks); !slices.Equal(got, tc.ends) {
				t.Fatalf("block ends %v, want %v", got, tc.ends)
			}
		})
	}
}

// checkBlocks checks that blocks tile the chunks in order, each non-empty,
// with the right positions and sizes.
func checkBlocks(t *testing.T, chunks []segment.Chunk, blocks []block) {
	t.Helper()
	next := 0
	for i, b := range blocks {
		if b.first != next || b.end <= b.first || b.end > len(chunks) {
			t.Fatalf("block %d covers chunks [%d,%d), want a non-empty run from %d", i, b.first, b.end, next)
		}
		last := chunks[b.end-1]
		if b.pos != chunks[b.first].Pos || b.size != last.Pos+last.Size-b.pos {
			t.Fatalf("block %d at [%d,+%d), chunks say [%d,+%d)", i, b.pos, b.size, chunks[b.first].Pos, last.Pos+last.Size-chunks[b.first].Pos)
		}
		next = b.end
	}
	if next != len(chunks) {
		t.Fatalf("blocks cover %d of %d chunks", next, len(chunks))
	}
}

// TestGroupBlocksSizes: on random chunk sizes, blocks tile the chunks, are
// cut the same way every time, and stay within half to one and a half
// times the target, give or take one chunk.
func TestGroupBlocksSizes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		maxChunk := 1 + rng.Int64N(2<<20)
		sizes := make([]int64, 1+rng.IntN(200))
		for i := range sizes {
			sizes[i] = 1 + rng.Int64N(maxChunk)
		}
		target := int64(64<<10) + rng.Int64N(32<<20)
		chunks := chunksOf(sizes...)
		blocks := groupBlocks(chunks, target)
		checkBlocks(t, chunks, blocks)
		if again := groupBlocks(chunks, target); !slices.Equal(again, blocks) {
			t.Fatal("two groupings of the same chunks differ")
		}
		if len(blocks) < 2 {
			continue
		}
		for i, b := range blocks {
			if b.size > target*3/2+2*maxChunk || b.size < target/2-2*maxChunk {
				t.Fatalf("block %d of %d is %d bytes for a target of %d (chunks up to %d)", i, len(blocks), b.size, target, maxChunk)
			}
		}
	}
}
