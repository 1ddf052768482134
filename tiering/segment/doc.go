// Package segment is the segment object format: the bytes a flush (or a
// compaction) writes to object storage. An object holds the Kafka record
// batches of many partitions, grouped into one chunk per partition, an index
// footer saying where each chunk is, and a fixed-size trailer saying where
// the footer is. A fetch reads the trailer and footer once (the metastore's
// log index usually makes even that unnecessary), then range-GETs only
// its partition's chunk.
//
// # Basics
//
// Build an object with a Builder: Add one chunk per partition, then Finish.
// Read it back with Parse (whole object in memory), or in pieces:
// ParseTrailer on the last TrailerSize bytes, then ParseFooter on the
// footer range it names. Chunk contents are opaque here: concatenated Kafka
// v2 record batches, which carry their own CRC32C (see package batch).
//
// # Layout
//
// All integers are big-endian, as in the Kafka protocol. An object of N
// bytes is
//
//	[0, F)          body: chunk 0, chunk 1, ... back to back, in footer order
//	[F, F+L)        footer
//	[F+L, N)        trailer, TrailerSize = 32 bytes, so N = F + L + 32
//
// The footer (L = 8 + 72*count bytes):
//
//	0   uint32   count of entries
//	4   entries, 72 bytes each:
//	      0   [16]byte  topic ID
//	      16  int32     partition (>= 0)
//	      20  int32     batches   (>= 0)
//	      24  int64     first offset (>= 0)
//	      32  int64     last offset  (>= first offset)
//	      40  int64     min timestamp, ms
//	      48  int64     max timestamp, ms (>= min timestamp)
//	      56  int64     pos:  byte offset of the chunk in the object
//	      64  int64     size: byte length of the chunk
//	L-4 uint32   CRC32C (Castagnoli) of footer bytes [0, L-4)
//
// The trailer:
//
//	0   [4]byte  magic "STSG"
//	4   uint16   format version, 1
//	6   uint16   reserved, 0
//	8   uint64   footer offset F
//	16  uint64   footer length L
//	24  uint32   CRC32C of the footer, bytes [F, F+L)
//	28  uint32   CRC32C of trailer bytes [0, 28)
//
// Chunks tile the body: the first starts at 0, each next one where the
// previous ended, and the last ends at F. The footer carries its own CRC as
// well as the trailer's so that ParseFooter can check a footer fetched on
// its own; the trailer's CRC over its own fields catches a corrupt footer
// offset or length before a reader acts on them.
//
// # Caveats
//
//   - Every length read from input is bounded before anything is allocated:
//     L by MaxFooterSize and by the object's size, the entry count by L.
//   - Version 1 has no sparse offset/time index inside a chunk; the
//     per-partition segments written by compaction will need a new version.
//   - ParseTrailer cannot know the object's size; a caller that fetched only
//     the tail must check F+L+TrailerSize against the size itself (Parse
//     does).
package segment
