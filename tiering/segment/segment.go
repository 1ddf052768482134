package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// ErrCorrupt is returned (wrapped, with the reason) for bytes that are not a
// well-formed segment object, footer or trailer.
var ErrCorrupt = errors.New("segment: corrupt object")

// ErrVersion is returned (wrapped) for a trailer whose format version this
// code does not know; the object may be fine, written by newer code.
var ErrVersion = errors.New("segment: unsupported format version")

const (
	// TrailerSize is the size of the fixed trailer at the end of an object.
	TrailerSize = 32

	// FormatVersion is the format version Builder writes and Parse reads.
	FormatVersion = 1

	// MaxFooterSize bounds the footer length a trailer may claim, so a
	// reader never fetches or allocates more on the word of corrupt bytes.
	// 64 MiB is about 930,000 chunks.
	MaxFooterSize = 64 << 20

	magic          = "STSG"
	entrySize      = 72
	footerOverhead = 8 // count + CRC
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ChunkMeta describes the record batches of one partition in one chunk.
type ChunkMeta struct {
	TopicID      [16]byte
	Partition    int32
	FirstOffset  int64 // base offset of the first batch
	LastOffset   int64 // last offset of the last batch
	MinTimestamp int64 // ms
	MaxTimestamp int64 // ms
	Batches      int32 // number of record batches
}

// Chunk is a ChunkMeta and where its bytes are in the object.
type Chunk struct {
	ChunkMeta
	Pos, Size int64
}

// check reports why meta cannot be stored, or "".
func (m *ChunkMeta) check() string {
	switch {
	case m.Partition < 0:
		return fmt.Sprintf("partition %d < 0", m.Partition)
	case m.Batches < 0:
		return fmt.Sprintf("batches %d < 0", m.Batches)
	case m.FirstOffset < 0:
		return fmt.Sprintf("first offset %d < 0", m.FirstOffset)
	case m.LastOffset < m.FirstOffset:
		return fmt.Sprintf("last offset %d < first offset %d", m.LastOffset, m.FirstOffset)
	case m.MaxTimestamp < m.MinTimestamp:
		return fmt.Sprintf("max timestamp %d < min timestamp %d", m.MaxTimestamp, m.MinTimestamp)
	}
	return ""
}

// Builder assembles one segment object in memory. The zero value is not
// usable; call NewBuilder or NewBuilderSize.
//
// A chunk is added whole with Add, or built in place: Append its bytes
// (batch by batch, with no buffer of the caller's in between), then Cut it
// with its meta. Either way the bytes are copied once, into the object.
type Builder struct {
	buf    []byte // body so far; footer and trailer are appended by Finish
	chunks []Chunk
	open   int // bytes at the end of buf appended since the last chunk was cut
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{}
}

// NewBuilderSize returns an empty Builder with room for bodyBytes of chunk
// bytes in about chunks chunks, footer and trailer included, so that an
// object of that size is built without growing (and copying) its buffer
// as it goes. The hint only sizes memory: more bytes or chunks still fit,
// at the cost of growing the buffer.
func NewBuilderSize(bodyBytes, chunks int) *Builder {
	bodyBytes, chunks = max(bodyBytes, 0), max(chunks, 0)
	return &Builder{
		buf:    make([]byte, 0, bodyBytes+footerOverhead+entrySize*chunks+TrailerSize),
		chunks: make([]Chunk, 0, chunks),
	}
}

// Add appends one chunk holding a copy of data. It panics if meta breaks
// the format's invariants (negative partition or offsets, last offset before
// first, max timestamp before min): callers derive meta from batches they
// have already validated, so a bad meta is a bug, and writing it would make
// an object Parse rejects. It also panics if bytes were appended since the
// last chunk and not cut.
func (b *Builder) Add(meta ChunkMeta, data []byte) {
	if b.open != 0 {
		panic("segment: Builder.Add: appended bytes not cut into a chunk")
	}
	if reason := meta.check(); reason != "" {
		panic("segment: Builder.Add: " + reason)
	}
	b.Append(data)
	b.cut(meta)
}

// Append appends a copy of data to the chunk being built, which the next
// Cut ends.
func (b *Builder) Append(data []byte) {
	b.buf = append(b.buf, data...)
	b.open += len(data)
}

// Pending returns the bytes appended since the last chunk was cut (or
// added): the size of the chunk the next Cut makes.
func (b *Builder) Pending() int { return b.open }

// Cut ends the chunk being built: the bytes appended since the last chunk
// (none makes an empty chunk, as Add of no data does) become a chunk with
// meta. It panics on a bad meta, as Add does.
func (b *Builder) Cut(meta ChunkMeta) {
	if reason := meta.check(); reason != "" {
		panic("segment: Builder.Cut: " + reason)
	}
	b.cut(meta)
}

func (b *Builder) cut(meta ChunkMeta) {
	pos := len(b.buf) - b.open
	b.chunks = append(b.chunks, Chunk{ChunkMeta: meta, Pos: int64(pos), Size: int64(b.open)})
	b.open = 0
}

// Len returns the size in bytes the object would have if Finish were called
// now: body (bytes not yet cut included), footer and trailer.
func (b *Builder) Len() int {
	return len(b.buf) + footerOverhead + entrySize*len(b.chunks) + TrailerSize
}

// Finish returns the object and its chunks, in Add order, with their
// positions. The Builder is then empty and may be reused; it keeps no
// reference to the returned slices. It panics if bytes were appended and
// not cut into a chunk.
func (b *Builder) Finish() (obj []byte, chunks []Chunk) {
	if b.open != 0 {
		panic("segment: Builder.Finish: appended bytes not cut into a chunk")
	}
	obj, chunks = b.buf, b.chunks
	b.buf, b.chunks = nil, nil
	if len(chunks) > math.MaxUint32 {
		panic("segment: Builder.Finish: too many chunks")
	}
	// Footer and trailer in one growth at most, not entry by entry.
	obj = slices.Grow(obj, footerOverhead+entrySize*len(chunks)+TrailerSize)

	footerOff := len(obj)
	obj = binary.BigEndian.AppendUint32(obj, uint32(len(chunks)))
	for i := range chunks {
		obj = appendEntry(obj, &chunks[i])
	}
	obj = binary.BigEndian.AppendUint32(obj, crc32.Checksum(obj[footerOff:], castagnoli))
	footer := obj[footerOff:]

	tr := len(obj)
	obj = append(obj, magic...)
	obj = binary.BigEndian.AppendUint16(obj, FormatVersion)
	obj = binary.BigEndian.AppendUint16(obj, 0)
	obj = binary.BigEndian.AppendUint64(obj, uint64(footerOff))
	obj = binary.BigEndian.AppendUint64(obj, uint64(len(footer)))
	obj = binary.BigEndian.AppendUint32(obj, crc32.Checksum(footer, castagnoli))
	obj = binary.BigEndian.AppendUint32(obj, crc32.Checksum(obj[tr:], castagnoli))
	return obj, chunks
}

func appendEntry(buf []byte, c *Chunk) []byte {
	buf = append(buf, c.TopicID[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(c.Partition))
	buf = binary.BigEndian.AppendUint32(buf, uint32(c.Batches))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.FirstOffset))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.LastOffset))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.MinTimestamp))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.MaxTimestamp))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Pos))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Size))
	return buf
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// ParseTrailer decodes the trailer in the last TrailerSize bytes of tail and
// returns where the footer is. It checks the trailer's magic, checksum and
// version, and that the footer length is plausible (at most MaxFooterSize,
// a whole number of entries); the caller must check footerOff+footerLen+
// TrailerSize against the object's size.
func ParseTrailer(tail []byte) (footerOff, footerLen int64, err error) {
	if len(tail) < TrailerSize {
		return 0, 0, corrupt("trailer: %d bytes, want %d", len(tail), TrailerSize)
	}
	t := tail[len(tail)-TrailerSize:]
	if string(t[:4]) != magic {
		return 0, 0, corrupt("trailer: bad magic %q", t[:4])
	}
	if got, want := crc32.Checksum(t[:28], castagnoli), binary.BigEndian.Uint32(t[28:]); got != want {
		return 0, 0, corrupt("trailer: checksum %08x, want %08x", got, want)
	}
	if v := binary.BigEndian.Uint16(t[4:]); v != FormatVersion {
		return 0, 0, fmt.Errorf("%w %d (this code reads %d)", ErrVersion, v, FormatVersion)
	}
	if r := binary.BigEndian.Uint16(t[6:]); r != 0 {
		return 0, 0, corrupt("trailer: reserved field %#x, want 0", r)
	}
	off, n := binary.BigEndian.Uint64(t[8:]), binary.BigEndian.Uint64(t[16:])
	if n < footerOverhead || n > MaxFooterSize || (n-footerOverhead)%entrySize != 0 {
		return 0, 0, corrupt("trailer: footer length %d is not 8 + 72*count, at most %d", n, MaxFooterSize)
	}
	if off > math.MaxInt64-n-TrailerSize {
		return 0, 0, corrupt("trailer: footer offset %d too large", off)
	}
	return int64(off), int64(n), nil
}

// ParseFooter decodes a footer (bytes [footerOff, footerOff+footerLen) of
// an object) and checks its own CRC, each entry, and that the chunks tile
// the body from 0; the body must then end exactly at footerOff, which the
// caller checks against the last chunk's Pos+Size (Parse does).
func ParseFooter(footer []byte) ([]Chunk, error) {
	if len(footer) < footerOverhead || len(footer) > MaxFooterSize || (len(footer)-footerOverhead)%entrySize != 0 {
		return nil, corrupt("footer: length %d is not 8 + 72*count, at most %d", len(footer), MaxFooterSize)
	}
	body := footer[:len(footer)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(footer[len(body):]); got != want {
		return nil, corrupt("footer: checksum %08x, want %08x", got, want)
	}
	// count is bounded by the footer length before it sizes anything.
	count := binary.BigEndian.Uint32(body)
	if want := (len(footer) - footerOverhead) / entrySize; uint64(count) != uint64(want) {
		return nil, corrupt("footer: count %d, but length %d holds %d entries", count, len(footer), want)
	}
	chunks := make([]Chunk, count)
	var end int64
	for i := range chunks {
		e := body[4+i*entrySize:][:entrySize]
		c := &chunks[i]
		copy(c.TopicID[:], e[:16])
		c.Partition = int32(binary.BigEndian.Uint32(e[16:]))
		c.Batches = int32(binary.BigEndian.Uint32(e[20:]))
		c.FirstOffset = int64(binary.BigEndian.Uint64(e[24:]))
		c.LastOffset = int64(binary.BigEndian.Uint64(e[32:]))
		c.MinTimestamp = int64(binary.BigEndian.Uint64(e[40:]))
		c.MaxTimestamp = int64(binary.BigEndian.Uint64(e[48:]))
		c.Pos = int64(binary.BigEndian.Uint64(e[56:]))
		c.Size = int64(binary.BigEndian.Uint64(e[64:]))
		if reason := c.check(); reason != "" {
			return nil, corrupt("footer: chunk %d: %s", i, reason)
		}
		if c.Pos != end {
			return nil, corrupt("footer: chunk %d at %d, want %d (chunks must be back to back)", i, c.Pos, end)
		}
		if c.Size < 0 || c.Size > math.MaxInt64-c.Pos {
			return nil, corrupt("footer: chunk %d: size %d out of range", i, c.Size)
		}
		end = c.Pos + c.Size
	}
	return chunks, nil
}

// bodyEnd returns where the chunks end.
func bodyEnd(chunks []Chunk) int64 {
	if len(chunks) == 0 {
		return 0
	}
	last := chunks[len(chunks)-1]
	return last.Pos + last.Size
}

// Parse decodes a whole object: it checks the trailer, the footer's
// position and checksum, and that every chunk lies within the body.
func Parse(obj []byte) ([]Chunk, error) {
	footerOff, footerLen, err := ParseTrailer(obj)
	if err != nil {
		return nil, err
	}
	if footerOff+footerLen+TrailerSize != int64(len(obj)) {
		return nil, corrupt("footer at %d, %d bytes, does not end at trailer of %d-byte object", footerOff, footerLen, len(obj))
	}
	footer := obj[footerOff : footerOff+footerLen]
	t := obj[len(obj)-TrailerSize:]
	if got, want := crc32.Checksum(footer, castagnoli), binary.BigEndian.Uint32(t[24:]); got != want {
		return nil, corrupt("footer checksum %08x, trailer says %08x", got, want)
	}
	chunks, err := ParseFooter(footer)
	if err != nil {
		return nil, err
	}
	if end := bodyEnd(chunks); end != footerOff {
		return nil, corrupt("chunks end at %d, footer starts at %d", end, footerOff)
	}
	return chunks, nil
}
