package tiering

import (
	"errors"
	"fmt"
)

// ReaderConfig configures a Reader's reads of compacted segment objects
// and its read-ahead. The zero value of a field means its default.
type ReaderConfig struct {
	// BlockBytes is the size read blocks of a segment object aim at: the
	// object's chunks are grouped, back to back, into blocks of about this
	// size (from half to one and a half times it; a chunk larger than that
	// is a block of its own), and a read fetches the whole block holding
	// its offset with one range GET, which memory then keeps (and the disk
	// cache, if it leaves memory before it was read to the end). The
	// grouping depends only on the object's footer and BlockBytes, so every
	// read of the same block shares one cache entry and one GET. Default
	// 16 MiB: with the footer's GET, a 64 MiB segment then costs 5 GETs,
	// 80 per GiB (8 MiB blocks: 9 per segment, 144 per GiB; BenchmarkCatchUp
	// in package partlog measures both).
	BlockBytes int64
	// ReadAhead is how many blocks (or flush index rows) after the one
	// being read a sequential reader may keep in flight, across the end of
	// a segment into the next index row's object: it starts at one and
	// doubles each time the reader moves on to the next block, within the
	// reader's share of ReadAheadBytes. A reader not seen to be sequential
	// gets one. -1 turns read-ahead off. Default 4.
	ReadAhead int
	// ReadAheadBytes bounds the memory of read-ahead — GETs in flight that
	// nobody waits for yet, and blocks just fetched kept in memory for the
	// reads of their chunks — shared by every reader of the Reader (that
	// is, by the agent), and at most half the disk cache. The partitions
	// read sequentially within the last second share it equally: each may
	// hold its block being read and what it reads ahead within its share
	// (always one block ahead). A read-ahead that does not fit is dropped,
	// never queued, and never holds up a read someone waits for. Default
	// 256 MiB: a consumer catching up on 6 partitions keeps, for each, its
	// block and the next one (6 x 2 x 16 MiB = 192 MiB) with room to
	// spare, and fewer partitions read further ahead. At 128 MiB only two
	// of the six had their next block coming, the other four waited for a
	// GET at every block (BenchmarkCatchUpFetch in package partlog: 0.61x
	// against 0.84x the raw GET rate; cold catch-up of 2 GiB in
	// bench/run.sh: see bench/README.md). At least twice BlockBytes.
	ReadAheadBytes int64
	// FooterCacheBytes bounds the memory of parsed segment footers kept
	// (least recently used dropped first); about 6 KiB per 64 MiB segment.
	// Default 16 MiB.
	FooterCacheBytes int64
}

// Defaults and bounds of ReaderConfig.
const (
	DefaultBlockBytes       = 16 << 20
	DefaultReadAhead        = 4
	DefaultReadAheadBytes   = 256 << 20
	DefaultFooterCacheBytes = 16 << 20

	minBlockBytes = 64 << 10
	maxBlockBytes = 256 << 20
	maxReadAhead  = 64
)

// EnsureDefaults fills every zero field with its default.
func (c *ReaderConfig) EnsureDefaults() {
	if c.BlockBytes == 0 {
		c.BlockBytes = DefaultBlockBytes
	}
	if c.ReadAhead == 0 {
		c.ReadAhead = DefaultReadAhead
	}
	if c.ReadAheadBytes == 0 {
		c.ReadAheadBytes = DefaultReadAheadBytes
	}
	if c.FooterCacheBytes == 0 {
		c.FooterCacheBytes = DefaultFooterCacheBytes
	}
}

// Validate reports every invalid setting of a config whose defaults are
// filled in.
func (c *ReaderConfig) Validate() error {
	var errs []error
	if c.BlockBytes < minBlockBytes || c.BlockBytes > maxBlockBytes {
		errs = append(errs, fmt.Errorf("read block bytes %d: must be from %d to %d", c.BlockBytes, minBlockBytes, maxBlockBytes))
	}
	if c.ReadAhead < -1 || c.ReadAhead > maxReadAhead {
		errs = append(errs, fmt.Errorf("read-ahead %d: must be from 1 to %d blocks, or -1 for none", c.ReadAhead, maxReadAhead))
	}
	if c.ReadAhead > 0 && c.ReadAheadBytes < 2*c.BlockBytes {
		errs = append(errs, fmt.Errorf("read-ahead bytes %d: must be at least twice the read block bytes %d", c.ReadAheadBytes, c.BlockBytes))
	}
	if c.FooterCacheBytes < 0 {
		errs = append(errs, errors.New("footer cache bytes must not be negative"))
	}
	return errors.Join(errs...)
}
