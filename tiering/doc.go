// Package tiering moves data between agents and object storage: the
// object-store interface (objstore and its implementations), the segment
// object format (segment), the Kafka v2 record batch format as stored
// (batch), and a byte-budgeted local read cache for historical reads.
//
// # Basics
//
// tiering knows nothing of Kafka requests: it stores and finds bytes. The
// metastore's log index says which object and byte range hold which
// offsets; this package writes and reads those ranges.
//
// A Reader serves historical reads: ReadRange(ctx, objectKey, pos, size)
// looks the range up in a Cache, and on a miss range-GETs it from the
// objstore.Store and caches it. Concurrent misses of one range share a
// single GetRange; Prefetch fetches the next range of a sequential
// catch-up read in the background (at most two at a time).
//
// # Read cache
//
// A Cache keeps whole ranges, keyed by "<objectKey>@<pos>+<size>", as one
// file each in its directory, named by a sequence number (never reused, so
// a file is written once and only removed). An in-memory map and LRU list
// are the index; Size is the sum of entry sizes and never exceeds the
// budget. The directory is wiped by NewCache: the cache is only a copy of
// object-store bytes, so nothing is fsynced or recovered.
//
// # Caveats
//
//   - Ranges are cached as requested: two overlapping ranges are two
//     entries. Fetch reads whole index rows (about 512 KiB of a
//     chunk each), so in practice ranges repeat exactly.
//   - A fetch shared by several callers is cancelled only when all of them
//     have given up, or by Reader.Close.
//   - Locks are taken in the order DESIGN.md writes down.
package tiering
