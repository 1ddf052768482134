package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of a v2 record batch header, from the base offset
// through the record count.
const HeaderSize = 61

// Byte offsets of the header fields.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // the CRC covers everything from here to the end
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// lengthOverhead is the part of a batch that its Length field does not
	// count: the base offset and the length itself.
	lengthOverhead = 12
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
	// attrDeleteHorizon (KIP-534): the log cleaner has set the batch's
	// delete horizon; FirstTimestamp then holds it, and the records'
	// timestamp deltas are relative to it.
	attrDeleteHorizon = 0x40
)

// Magic is the only record batch format version this package reads and
// writes.
const Magic = 2

// Errors returned by this package. Wrapped errors add detail; test with
// errors.Is.
var (
	ErrTruncated        = errors.New("record: truncated")
	ErrCorrupt          = errors.New("record: corrupt")
	ErrUnsupportedMagic = errors.New("record: unsupported magic")
	ErrBadCRC           = errors.New("record: bad crc")
	ErrUnknownCodec     = errors.New("record: unknown compression codec")
	// ErrTooLarge is returned when decompressed data would exceed the
	// caller's limit. It wraps ErrCorrupt, so errors.Is(err, ErrCorrupt)
	// holds for it too.
	ErrTooLarge = fmt.Errorf("%w: decompressed size exceeds limit", ErrCorrupt)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the fixed 61-byte header of a v2 record batch. Field names
// follow the Kafka protocol documentation (BaseSequence is kmsg's
// FirstSequence).
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field: Size()-12
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // CRC-32C of attributes through the end of the batch
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the compression codec from the attributes.
func (h Header) Codec() Codec { return Codec(h.Attributes & attrCodecMask) }

// LogAppendTime reports whether the timestamp-type bit is set: the broker's
// append time (MaxTimestamp) is the timestamp of every record.
func (h Header) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h Header) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports whether the batch holds a control record (transaction
// commit or abort marker) rather than user data.
func (h Header) Control() bool { return h.Attributes&attrControl != 0 }

// DeleteHorizon returns the batch's delete horizon (ms) and true if the
// log cleaner has set one (KIP-534): its tombstones and transaction
// markers may be removed once the horizon has passed. FirstTimestamp then
// holds the horizon, not the first record's timestamp.
func (h Header) DeleteHorizon() (int64, bool) {
	if h.Attributes&attrDeleteHorizon == 0 {
		return 0, false
	}
	return h.FirstTimestamp, true
}

// WithDeleteHorizon returns h with the delete-horizon attribute set and
// FirstTimestamp = ms; the records' timestamp deltas must be made
// relative to it.
func (h Header) WithDeleteHorizon(ms int64) Header {
	h.Attributes |= attrDeleteHorizon
	h.FirstTimestamp = ms
	return h
}

// WithoutDeleteHorizon returns h with the delete-horizon attribute
// cleared (FirstTimestamp is left as it is).
func (h Header) WithoutDeleteHorizon() Header {
	h.Attributes &^= attrDeleteHorizon
	return h
}

// LastOffset returns the offset of the batch's last record:
// BaseOffset+LastOffsetDelta.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size returns the size in bytes of the whole batch, Length+12.
func (h Header) Size() int { return int(h.Length) + lengthOverhead }

// ParseHeader decodes the header at the start of b. It checks only that b
// holds a whole header and that the magic is 2; it does not check the CRC
// or the length (see Validate).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		if len(b) > offMagic && b[offMagic] != Magic {
			return Header{}, fmt.Errorf("%w %d", ErrUnsupportedMagic, int8(b[offMagic]))
		}
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	be := binary.BigEndian
	h := Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
	if h.Magic != Magic {
		return Header{}, fmt.Errorf("%w %d", ErrUnsupportedMagic, h.Magic)
	}
	return h, nil
}

// putHeader writes h into b[:HeaderSize], CRC field included as given.
func putHeader(b []byte, h Header) {
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	be.PutUint32(b[offLength:], uint32(h.Length))
	be.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = byte(h.Magic)
	be.PutUint32(b[offCRC:], h.CRC)
	be.PutUint16(b[offAttributes:], uint16(h.Attributes))
	be.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[offFirstTimestamp:], uint64(h.FirstTimestamp))
	be.PutUint64(b[offMaxTimestamp:], uint64(h.MaxTimestamp))
	be.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(b[offNumRecords:], uint32(h.NumRecords))
}

// checksum returns the CRC-32C a batch should carry.
func checksum(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], castagnoli) }

// Validate checks that b is exactly one well-formed v2 batch: a whole
// header, magic 2, Length+12 == len(b), a matching CRC-32C, a known codec,
// NumRecords >= 0 and LastOffsetDelta >= NumRecords-1. It does not
// decompress or decode the records (see Records).
func Validate(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if err := checkLength(h, len(b)); err != nil {
		return h, err
	}
	if got := checksum(b); got != h.CRC {
		return h, fmt.Errorf("%w: header says %#08x, data has %#08x", ErrBadCRC, h.CRC, got)
	}
	if h.NumRecords < 0 {
		return h, fmt.Errorf("%w: negative record count %d", ErrCorrupt, h.NumRecords)
	}
	if int64(h.LastOffsetDelta) < int64(h.NumRecords)-1 {
		return h, fmt.Errorf("%w: last offset delta %d with %d records", ErrCorrupt, h.LastOffsetDelta, h.NumRecords)
	}
	if !h.Codec().known() {
		return h, fmt.Errorf("%w %d", ErrUnknownCodec, h.Codec())
	}
	return h, nil
}

// checkLength checks that h.Length describes exactly n bytes.
func checkLength(h Header, n int) error {
	if h.Length < HeaderSize-lengthOverhead {
		return fmt.Errorf("%w: length %d is shorter than a header", ErrCorrupt, h.Length)
	}
	size := int64(h.Length) + lengthOverhead
	switch {
	case size > int64(n):
		return fmt.Errorf("%w: length says %d bytes, have %d", ErrTruncated, size, n)
	case size < int64(n):
		return fmt.Errorf("%w: length says %d bytes, have %d", ErrCorrupt, size, n)
	}
	return nil
}

// Next splits the first whole batch off data, a concatenation of batches
// such as a Produce request's records or a segment's partition range. It
// checks the length and magic only; call Validate on the batch.
//
// It returns ErrTruncated if data does not hold a whole batch, including
// when data is empty, so a fetch response cut short by a byte limit ends
// with ErrTruncated rather than a partial batch. The returned batch has its
// capacity capped, so appending to it cannot overwrite rest.
func Next(data []byte) (batch, rest []byte, err error) {
	if len(data) <= offMagic {
		return nil, data, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(data), HeaderSize)
	}
	if data[offMagic] != Magic {
		return nil, data, fmt.Errorf("%w %d", ErrUnsupportedMagic, int8(data[offMagic]))
	}
	length := int32(binary.BigEndian.Uint32(data[offLength:]))
	if length < HeaderSize-lengthOverhead {
		return nil, data, fmt.Errorf("%w: length %d is shorter than a header", ErrCorrupt, length)
	}
	size := int64(length) + lengthOverhead
	if size > int64(len(data)) {
		return nil, data, fmt.Errorf("%w: length says %d bytes, have %d", ErrTruncated, size, len(data))
	}
	return data[:size:size], data[size:], nil
}

// SetBaseOffset rewrites the base offset of the batch b, as the owner does
// when it assigns offsets. The base offset is not covered by the CRC, so
// the batch stays valid. It panics if b is shorter than a header.
func SetBaseOffset(b []byte, off int64) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch of the batch
// b. It is not covered by the CRC. It panics if b is shorter than a header.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime stamps the whole batch b with the broker's append time,
// as Kafka does for topics with message.timestamp.type=LogAppendTime: it
// sets the timestamp-type attribute bit and MaxTimestamp to ts, leaves
// FirstTimestamp and the records as produced, and recomputes the CRC.
// Readers then report ts as every record's timestamp. It panics if b is
// shorter than a header; b should have passed Validate.
func SetLogAppendTime(b []byte, ts int64) {
	_ = b[HeaderSize-1]
	be := binary.BigEndian
	attrs := be.Uint16(b[offAttributes:]) | attrLogAppendTime
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], checksum(b))
}
