package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// RecordHeader is one header of a record. Header keys cannot be null; a
// nil Value is a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one record of a v2 batch, with its offset and timestamp as
// deltas from the batch's BaseOffset and FirstTimestamp. A nil Key or Value
// is null; an empty non-nil one is empty.
type Record struct {
	Attributes     int8 // unused by Kafka so far; kept as written
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte
	Headers        []RecordHeader
}

// minRecordSize is the smallest encoding of a record: one byte each for
// the length, attributes, timestamp delta, offset delta, key length, value
// length and header count. It bounds preallocation by the data actually
// present rather than by counts the data claims.
const minRecordSize = 7

// Records decompresses and decodes the records of the batch b. It checks
// the header and length as Validate does, but not the CRC: validate
// untrusted input first. Decompression stops with ErrTooLarge past
// maxDecompressed bytes. The count of decoded records must equal
// NumRecords and the records must fill the (decompressed) data exactly.
//
// Keys, values and header values alias the decompressed buffer, or b itself
// for an uncompressed batch: copy them before reusing b.
func Records(b []byte, maxDecompressed int) ([]Record, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if err := checkLength(h, len(b)); err != nil {
		return nil, err
	}
	if h.NumRecords < 0 {
		return nil, fmt.Errorf("%w: negative record count %d", ErrCorrupt, h.NumRecords)
	}
	data, err := Decompress(h.Codec(), b[HeaderSize:], maxDecompressed)
	if err != nil {
		return nil, err
	}
	n := int(h.NumRecords)
	if n > len(data)/minRecordSize {
		return nil, fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, n, len(data))
	}
	recs := make([]Record, 0, n)
	for i := 0; i < n; i++ {
		var r Record
		if data, err = decodeRecord(data, &r); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		recs = append(recs, r)
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(data))
	}
	return recs, nil
}

// EachRecord calls fn with the offset delta, timestamp delta, key and
// value of every record of the batch b, in order, decoding no headers
// and allocating nothing per record (only the decompressed data of a
// compressed batch): a scan for the key cleaner. It checks lengths as
// Records does, but not the CRC; key and value alias b or the
// decompressed data. An error from fn ends the scan and is returned.
func EachRecord(b []byte, maxDecompressed int, fn func(offsetDelta int32, timestampDelta int64, key, value []byte) error) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if err := checkLength(h, len(b)); err != nil {
		return err
	}
	if h.NumRecords < 0 {
		return fmt.Errorf("%w: negative record count %d", ErrCorrupt, h.NumRecords)
	}
	data, err := Decompress(h.Codec(), b[HeaderSize:], maxDecompressed)
	if err != nil {
		return err
	}
	n := int(h.NumRecords)
	if n > len(data)/minRecordSize {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, n, len(data))
	}
	for i := 0; i < n; i++ {
		d := decoder{p: data}
		length := d.varint()
		if d.err != nil {
			return fmt.Errorf("record %d: %w", i, d.err)
		}
		if length < 0 || int(length) > len(d.p) {
			return fmt.Errorf("record %d: %w: record length %d, %d bytes left", i, ErrCorrupt, length, len(d.p))
		}
		data = d.p[length:]
		d.p = d.p[:length]
		d.int8()
		ts := d.varlong()
		od := d.varint()
		k := d.bytes("key")
		v := d.bytes("value")
		if d.err != nil {
			return fmt.Errorf("record %d: %w", i, d.err)
		}
		if err := fn(od, ts, k, v); err != nil {
			return err
		}
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(data))
	}
	return nil
}

// decoder reads varint-encoded fields; the first error sticks and later
// reads return zero values.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) varlong() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int32 {
	v := d.varlong()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("varint %d out of int32 range", v)
		return 0
	}
	return int32(v)
}

func (d *decoder) int8() int8 {
	if d.err != nil {
		return 0
	}
	if len(d.p) < 1 {
		d.fail("short record")
		return 0
	}
	v := int8(d.p[0])
	d.p = d.p[1:]
	return v
}

// bytes reads a varint length and that many bytes; -1 is null (nil).
func (d *decoder) bytes(what string) []byte {
	n := d.varint()
	if d.err != nil {
		return nil
	}
	switch {
	case n == -1:
		return nil
	case n < -1:
		d.fail("%s length %d", what, n)
		return nil
	case int(n) > len(d.p):
		d.fail("%s length %d, %d bytes left", what, n, len(d.p))
		return nil
	}
	v := d.p[:n:n]
	d.p = d.p[n:]
	return v
}

// decodeRecord decodes the record at the start of p into r and returns the
// rest of p.
func decodeRecord(p []byte, r *Record) ([]byte, error) {
	d := decoder{p: p}
	length := d.varint()
	if d.err != nil {
		return nil, d.err
	}
	if length < 0 || int(length) > len(d.p) {
		return nil, fmt.Errorf("%w: record length %d, %d bytes left", ErrCorrupt, length, len(d.p))
	}
	rest := d.p[length:]
	d.p = d.p[:length]

	r.Attributes = d.int8()
	r.TimestampDelta = d.varlong()
	r.OffsetDelta = d.varint()
	r.Key = d.bytes("key")
	r.Value = d.bytes("value")
	nh := d.varint()
	if d.err != nil {
		return nil, d.err
	}
	// Each header takes at least two bytes (two lengths).
	if nh < 0 || int(nh) > len(d.p)/2 {
		return nil, fmt.Errorf("%w: %d headers in %d bytes", ErrCorrupt, nh, len(d.p))
	}
	if nh > 0 {
		r.Headers = make([]RecordHeader, nh)
		for i := range r.Headers {
			k := d.bytes("header key")
			if d.err == nil && k == nil {
				d.fail("null header key")
			}
			r.Headers[i] = RecordHeader{Key: string(k), Value: d.bytes("header value")}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes left inside record", ErrCorrupt, len(d.p))
	}
	return rest, nil
}

// appendRecord appends the wire encoding of r, length prefix included.
func appendRecord(dst []byte, r *Record) []byte {
	body := bodySize(r)
	dst = binary.AppendVarint(dst, int64(body))
	dst = append(dst, byte(r.Attributes))
	dst = binary.AppendVarint(dst, r.TimestampDelta)
	dst = binary.AppendVarint(dst, int64(r.OffsetDelta))
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func varintSize(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}

func bytesSize(b []byte) int {
	if b == nil {
		return varintSize(-1)
	}
	return varintSize(int64(len(b))) + len(b)
}

// bodySize is the encoded size of r after its length prefix.
func bodySize(r *Record) int {
	n := 1 + varintSize(r.TimestampDelta) + varintSize(int64(r.OffsetDelta)) +
		bytesSize(r.Key) + bytesSize(r.Value) + varintSize(int64(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintSize(int64(len(h.Key))) + len(h.Key) + bytesSize(h.Value)
	}
	return n
}

// Build encodes recs into a v2 batch compressed with codec. From h it takes
// BaseOffset, PartitionLeaderEpoch, the attribute bits other than the codec,
// FirstTimestamp, MaxTimestamp, the producer fields and LastOffsetDelta; it
// sets Magic, Length, NumRecords and CRC, and raises LastOffsetDelta to the
// largest record OffsetDelta if it is smaller. (Compaction keeps a larger
// LastOffsetDelta than its surviving records need, as Kafka does, so the
// batch still accounts for the offsets it once held.)
func Build(h Header, recs []Record, codec Codec) ([]byte, error) {
	if !codec.known() {
		return nil, fmt.Errorf("%w %d", ErrUnknownCodec, codec)
	}
	if len(recs) > math.MaxInt32 {
		return nil, fmt.Errorf("record: %d records is too many", len(recs))
	}
	var raw []byte
	for i := range recs {
		raw = appendRecord(raw, &recs[i])
		if recs[i].OffsetDelta > h.LastOffsetDelta {
			h.LastOffsetDelta = recs[i].OffsetDelta
		}
	}
	data, err := Compress(codec, raw)
	if err != nil {
		return nil, err
	}
	if len(data) > math.MaxInt32-HeaderSize {
		return nil, fmt.Errorf("record: %d bytes of records is too large", len(data))
	}
	h.Magic = Magic
	h.Attributes = h.Attributes&^attrCodecMask | int16(codec)
	h.NumRecords = int32(len(recs))
	h.Length = int32(HeaderSize - lengthOverhead + len(data))
	b := make([]byte, HeaderSize+len(data))
	putHeader(b, h)
	copy(b[HeaderSize:], data)
	binary.BigEndian.PutUint32(b[offCRC:], checksum(b))
	return b, nil
}
