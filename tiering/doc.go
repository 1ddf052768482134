// Package tiering moves data between agents and object storage: the
// object-store interface (objstore and its implementations), the segment
// object format (segment), and the read path of historical data: a
// byte-budgeted local read cache and a Reader over it.
//
// # Basics
//
// tiering knows nothing of Kafka requests: it stores and finds bytes. The
// metastore's log index says which object and byte range hold which
// offsets; this package writes and reads those ranges.
//
// A Reader serves historical reads. ReadRange(ctx, objectKey, pos, size)
// looks the range up in a Cache, and on a miss range-GETs it from the
// objstore.Store and caches it; concurrent misses of one range share a
// single GetRange. Read(ctx, span, offset, maxBytes) reads what one index
// row points at (a Span):
//
//   - a flush row (many partitions per object, rows of ~512 KiB): the
//     span's bytes, whole, through ReadRange;
//   - a segment row (a whole per-partition object written by compaction):
//     the footer is fetched once — one GET of the object's last 64 KiB,
//     a second if the footer is larger — bounds-checked (ParseTrailer,
//     ParseFooter, chunks back to back up to the footer, offsets rising,
//     every chunk the span's partition) and kept in memory
//     (FooterCacheBytes, least recently used dropped first). The chunks
//     (~1 MiB runs of whole batches) are grouped into read blocks of about
//     BlockBytes (groupBlocks: a pure function of footer and block size,
//     so every read of a block shares one cache key and one GET). A read
//     fetches the whole block holding its offset with one range GET, which
//     the disk cache keeps, and returns the chunk(s) it needs.
//
// Chunks(ctx, span) and ReadChunk serve timestamp lookups from the
// footer's per-chunk timestamps, fetching one chunk rather than a block
// unless the block is already at hand.
//
// # Read-ahead and memory
//
// ReadAhead(span, offset, next, sequential) keeps the blocks after the one
// being read in flight — ReadAhead of them for a sequential reader, one
// otherwise — continuing into the following index rows (next): flush rows
// whole, segments block by block, a segment whose footer is not in memory
// having its footer read in the background first. Read-ahead lands in the
// disk cache. The bytes of read-ahead GETs that nobody waits for yet, and
// of hot blocks (blocks just fetched, kept in memory too, so a sequential
// reader takes its chunks without a disk read or a copy), share one budget
// for the whole Reader (ReadAheadBytes, at most half the cache). A
// read-ahead that does not fit is dropped, not queued, and asked again by
// the next read; starting one evicts the least recently used hot blocks.
// A read someone waits for is never held back: it never waits for budget,
// it joins a read-ahead of its range (whose bytes then stop counting
// against the budget), and read-ahead in flight is at most half the cache,
// so it does not flush out what readers are reading.
//
// Blocks are read whole only when the cache can keep several (a block at
// most an eighth of the cache); otherwise, and without a cache, chunks are
// fetched alone and not read ahead (without a cache, nothing is).
//
// A read of an object that no longer exists (its index row was compacted
// or trimmed, and garbage collection deleted it) fails with an error
// wrapping objstore.ErrNotExist (Gone); its footer is forgotten. Callers
// ask the metastore again (package partlog does). Cached blocks of a
// deleted object still serve: their bytes never change.
//
// # Read cache
//
// A Cache keeps whole ranges, keyed by "<objectKey>@<pos>+<size>", as one
// file each in its directory, named by a sequence number (never reused, so
// a file is written once and only removed). An in-memory map and LRU list
// are the index; Size is the sum of entry sizes and never exceeds the
// budget. GetAt reads part of an entry (a chunk of a block). The directory
// is wiped by NewCache: the cache is only a copy of object-store bytes, so
// nothing is fsynced or recovered.
//
// # Caveats
//
//   - Ranges are cached as requested: two overlapping ranges are two
//     entries. Flush rows are read whole and segment blocks are cut the
//     same way every time, so in practice ranges repeat exactly.
//   - What Read and ReadChunk return for a segment may be shared with other
//     readers (a hot block, a flight's data): never modify it. ReadRange's
//     result is the caller's own.
//   - A fetch shared by several callers is cancelled only when all of them
//     have given up, or by Reader.Close.
//   - Locks: Reader.mu before Cache.mu (DESIGN.md); the footer cache's
//     mutex is a leaf, taken alone.
package tiering
