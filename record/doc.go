// Package record reads, checks and writes Kafka record batches in the v2
// format (magic 2), the unit Strata stores: agents append batches to the
// write-ahead buffer and segment objects hold them byte for byte as
// produced, with only the base offset (and partition leader epoch, and for
// LogAppendTime topics the max timestamp) rewritten.
//
// # Basics
//
// A batch is a fixed 61-byte header followed by its records, compressed as
// a whole:
//
//	offset  size  field
//	 0      8     BaseOffset             not covered by the CRC
//	 8      4     Length                 bytes after this field (batch size - 12)
//	12      4     PartitionLeaderEpoch   not covered by the CRC
//	16      1     Magic                  2
//	17      4     CRC                    CRC-32C (Castagnoli) of bytes 21..end
//	21      2     Attributes             bits 0-2 codec, 3 LogAppendTime, 4 transactional, 5 control
//	23      4     LastOffsetDelta
//	27      8     FirstTimestamp
//	35      8     MaxTimestamp
//	43      8     ProducerID
//	51      2     ProducerEpoch
//	53      4     BaseSequence
//	57      4     NumRecords
//	61      ...   records (compressed per the codec)
//
// All integers are big-endian. Each record is a zigzag varint length, then
// an int8 attributes, varint timestamp delta, varint offset delta, varint
// key length (-1 for null) and key, value likewise, a varint header count
// and headers (varint key length and key, varint value length and value).
//
// ParseHeader decodes a header; Validate checks that a byte slice is
// exactly one well-formed batch (length, magic, CRC, counts, codec); Next
// splits concatenated batches; Records decompresses and decodes records;
// Build encodes them (for tests, fuzz seeds and compaction). Set* rewrite
// header fields in place, recomputing the CRC when the field is covered.
//
// Codecs are gzip, snappy, LZ4 (the LZ4 frame format, as Kafka uses for
// magic 2) and zstd. Snappy input may be a raw snappy block (what franz-go
// and librdkafka write, and what Compress writes) or the xerial framing the
// Java client writes.
//
// # Caveats
//
// Records does not check the CRC, so that fuzzing reaches the decoder and
// callers that already ran Validate do not pay twice; validate untrusted
// input first. The records it returns alias the decompressed buffer, or the
// batch itself when uncompressed.
//
// Decompression is always bounded by a caller-given limit, counted on the
// output (uncompressed batches count too): a small batch cannot make the
// agent allocate much more than that limit. zstd is the exception in one
// direction: frames declaring a window over max(limit, 8 MiB) are refused
// (Java producers at the ultra levels 20-22 need a limit that large), and
// the decoder may allocate up to that bound, rounded up to a power of two,
// before it notices a frame is too large.
//
// Only magic 2 is supported: v0/v1 message sets are refused with
// ErrUnsupportedMagic. Every client Strata supports writes v2 when the
// broker advertises Produce v3 or later.
package record
