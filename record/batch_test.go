package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/golang/snappy"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

const testLimit = 16 << 20

// sampleRecords covers null and empty keys and values, headers with null
// values, negative deltas and a large compressible value.
func sampleRecords() []Record {
	return []Record{
		{OffsetDelta: 0, TimestampDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{OffsetDelta: 1, TimestampDelta: 5, Key: nil, Value: []byte{}},
		{OffsetDelta: 2, TimestampDelta: -3, Key: []byte{}, Value: nil},
		{OffsetDelta: 3, TimestampDelta: 1 << 40, Key: []byte("k3"), Value: []byte(strings.Repeat("strata ", 2000)),
			Headers: []RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}}},
		{OffsetDelta: 4, Attributes: 0, Key: []byte("k4"), Value: []byte("v4")},
	}
}

func sampleHeader() Header {
	return Header{
		BaseOffset:           1000,
		PartitionLeaderEpoch: 7,
		FirstTimestamp:       1700000000000,
		MaxTimestamp:         1700000000005,
		ProducerID:           42,
		ProducerEpoch:        3,
		BaseSequence:         17,
	}
}

func mustBuild(t testing.TB, h Header, recs []Record, c Codec) []byte {
	t.Helper()
	b, err := Build(h, recs, c)
	if err != nil {
		t.Fatalf("Build(%v): %v", c, err)
	}
	return b
}

// fixCRC recomputes the CRC of b after a test edited a covered field.
func fixCRC(b []byte) { binary.BigEndian.PutUint32(b[offCRC:], checksum(b)) }

func TestRoundTripAllCodecs(t *testing.T) {
	t.Parallel()
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			recs := sampleRecords()
			b := mustBuild(t, sampleHeader(), recs, c)
			h, err := Validate(b)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			want := sampleHeader()
			want.Length = int32(len(b) - 12)
			want.Magic = 2
			want.CRC = h.CRC
			want.Attributes = int16(c)
			want.LastOffsetDelta = 4
			want.NumRecords = 5
			if h != want {
				t.Fatalf("header\n got %+v\nwant %+v", h, want)
			}
			if h.Codec() != c || h.Size() != len(b) || h.LastOffset() != 1004 {
				t.Fatalf("Codec %v Size %d LastOffset %d", h.Codec(), h.Size(), h.LastOffset())
			}
			if c != CodecNone && len(b) > 4000 {
				t.Errorf("%v batch is %d bytes; expected compression", c, len(b))
			}
			got, err := Records(b, testLimit)
			if err != nil {
				t.Fatalf("Records: %v", err)
			}
			if !reflect.DeepEqual(got, recs) {
				t.Fatalf("records differ\n got %+v\nwant %+v", got, recs)
			}
			// Null and empty must stay distinct.
			if got[1].Key != nil || got[1].Value == nil || got[2].Key == nil || got[2].Value != nil {
				t.Fatalf("null/empty confused: %#v %#v", got[1], got[2])
			}
		})
	}
}

func TestBuildEmptyAndAttributes(t *testing.T) {
	t.Parallel()
	h := sampleHeader()
	h.Attributes = attrTransactional | attrControl | int16(CodecGzip) // codec bits replaced
	h.LastOffsetDelta = 9                                             // kept: compaction leaves gaps
	b := mustBuild(t, h, []Record{{OffsetDelta: 2}}, CodecNone)
	got, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Transactional() || !got.Control() || got.LogAppendTime() || got.Codec() != CodecNone || got.LastOffsetDelta != 9 {
		t.Fatalf("attributes: %+v", got)
	}
	b = mustBuild(t, Header{LastOffsetDelta: -1}, nil, CodecZstd)
	if got, err = Validate(b); err != nil || got.NumRecords != 0 {
		t.Fatalf("empty batch: %+v %v", got, err)
	}
	if recs, err := Records(b, testLimit); err != nil || len(recs) != 0 {
		t.Fatalf("empty batch records: %v %v", recs, err)
	}
	if _, err := Build(Header{}, nil, Codec(5)); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Build codec 5: %v", err)
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	good := mustBuild(t, sampleHeader(), sampleRecords(), CodecLZ4)
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	setLen := func(n int32) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint32(b[offLength:], uint32(n)) }
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", good[:HeaderSize-1], ErrTruncated},
		{"truncated body", good[:len(good)-1], ErrTruncated},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrCorrupt},
		{"magic 1", edit(func(b []byte) { b[offMagic] = 1 }), ErrUnsupportedMagic},
		{"magic 1 short", edit(func(b []byte) { b[offMagic] = 1 })[:20], ErrUnsupportedMagic},
		{"bad crc header field", edit(func(b []byte) { b[offCRC] ^= 1 }), ErrBadCRC},
		{"bad crc body", edit(func(b []byte) { b[len(b)-1] ^= 0x80 }), ErrBadCRC},
		{"bad crc attributes", edit(func(b []byte) { b[offAttributes+1] ^= attrTransactional }), ErrBadCRC},
		{"length lies long", edit(setLen(int32(len(good)))), ErrTruncated},
		{"length lies short", edit(setLen(int32(len(good) - 13))), ErrCorrupt},
		{"length below header", edit(setLen(10)), ErrCorrupt},
		{"length negative", edit(setLen(-1)), ErrCorrupt},
		{"length max", edit(setLen(1<<31 - 1)), ErrTruncated},
		{"negative records", edit(func(b []byte) {
			binary.BigEndian.PutUint32(b[offNumRecords:], 0xffffffff)
			fixCRC(b)
		}), ErrCorrupt},
		{"last offset delta too small", edit(func(b []byte) {
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 2)
			fixCRC(b)
		}), ErrCorrupt},
		{"codec 5", edit(func(b []byte) {
			b[offAttributes+1] = b[offAttributes+1]&^7 | 5
			fixCRC(b)
		}), ErrUnknownCodec},
		{"codec 7", edit(func(b []byte) {
			b[offAttributes+1] |= 7
			fixCRC(b)
		}), ErrUnknownCodec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "record: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := Validate(good); err != nil {
		t.Fatalf("good batch was edited in place: %v", err)
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	var all []byte
	var want [][]byte
	for i, c := range allCodecs {
		h := sampleHeader()
		h.BaseOffset = int64(i * 10)
		b := mustBuild(t, h, sampleRecords(), c)
		want = append(want, b)
		all = append(all, b...)
	}
	rest := all
	for i := range want {
		var b []byte
		var err error
		b, rest, err = Next(rest)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if !bytes.Equal(b, want[i]) || cap(b) != len(b) {
			t.Fatalf("batch %d differs (len %d cap %d)", i, len(b), cap(b))
		}
		if _, err := Validate(b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}
	if _, _, err := Next(nil); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Next(nil) = %v", err)
	}
	// A fetch response cut short by max bytes ends in a partial batch.
	partial := all[:len(want[0])+30]
	_, rest, _ = Next(partial)
	if _, r, err := Next(rest); !errors.Is(err, ErrTruncated) || len(r) != 30 {
		t.Fatalf("partial: %v, rest %d", err, len(r))
	}
	short := bytes.Clone(want[0])
	binary.BigEndian.PutUint32(short[offLength:], 3)
	if _, _, err := Next(short); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short length: %v", err)
	}
	short[offMagic] = 0
	if _, _, err := Next(short); !errors.Is(err, ErrUnsupportedMagic) {
		t.Fatalf("magic 0: %v", err)
	}
}

func TestSetters(t *testing.T) {
	t.Parallel()
	for _, c := range allCodecs {
		b := mustBuild(t, sampleHeader(), sampleRecords(), c)
		SetBaseOffset(b, 1<<40)
		SetPartitionLeaderEpoch(b, 99)
		h, err := Validate(b)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 99 || h.LastOffset() != 1<<40+4 {
			t.Fatalf("%v: %+v", c, h)
		}

		SetLogAppendTime(b, 1800000000000)
		h2, err := Validate(b)
		if err != nil {
			t.Fatalf("%v after SetLogAppendTime: %v", c, err)
		}
		if !h2.LogAppendTime() || h2.MaxTimestamp != 1800000000000 || h2.FirstTimestamp != h.FirstTimestamp || h2.Codec() != c {
			t.Fatalf("%v: after SetLogAppendTime %+v", c, h2)
		}
		if h2.CRC == h.CRC {
			t.Fatalf("%v: CRC not recomputed", c)
		}
		if recs, err := Records(b, testLimit); err != nil || len(recs) != 5 {
			t.Fatalf("%v: records after SetLogAppendTime: %v", c, err)
		}
	}
}

func TestRecordsErrors(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	build := func(n int32, raw []byte) []byte {
		h := sampleHeader()
		h.Magic = Magic
		h.NumRecords = n
		h.LastOffsetDelta = max(n-1, 0)
		h.Length = int32(HeaderSize - 12 + len(raw))
		b := make([]byte, HeaderSize+len(raw))
		putHeader(b, h)
		copy(b[HeaderSize:], raw)
		fixCRC(b)
		return b
	}
	var raw []byte
	for i := range recs {
		raw = appendRecord(raw, &recs[i])
	}
	if _, err := Records(build(5, raw), testLimit); err != nil {
		t.Fatalf("hand-built batch: %v", err)
	}
	oneRec := appendRecord(nil, &Record{Key: []byte("k"), Value: []byte("v")})
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"fewer records than count", build(6, raw), ErrCorrupt},
		{"more records than count", build(4, raw), ErrCorrupt},
		{"count beyond data", build(1<<30, raw), ErrCorrupt},
		{"record length beyond data", build(1, append([]byte{0x7e}, oneRec[1:]...)), ErrCorrupt},
		{"negative record length", build(1, append([]byte{0x01}, oneRec[1:]...)), ErrCorrupt},
		{"record length too short", build(1, append([]byte{byte((len(oneRec) - 2) * 2)}, oneRec[1:]...)), ErrCorrupt},
		{"bad varint", build(1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), ErrCorrupt},
		{"too large", build(5, raw), ErrTooLarge},
		{"magic 0", func() []byte { b := build(5, raw); b[offMagic] = 0; return b }(), ErrUnsupportedMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := testLimit
			if tt.want == ErrTooLarge {
				limit = 100
			}
			if _, err := Records(tt.b, limit); !errors.Is(err, tt.want) {
				t.Fatalf("Records = %v, want %v", err, tt.want)
			}
		})
	}
	// A null header key is invalid in Kafka.
	// attrs, ts, offset, null key, value "v", one header: null key, empty value.
	nullKey := []byte{0, 0, 0, 1, 2, 'v', 2, 1, 0}
	body := append(binary.AppendVarint(nil, int64(len(nullKey))), nullKey...)
	if _, err := Records(build(1, body), testLimit); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("null header key: %v", err)
	}
}

func TestDecompressLimit(t *testing.T) {
	t.Parallel()
	src := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, very compressible
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			z, err := Compress(c, src)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Decompress(c, z, len(src))
			if err != nil || !bytes.Equal(out, src) {
				t.Fatalf("at exact limit: err %v, equal %v", err, bytes.Equal(out, src))
			}
			for _, limit := range []int{len(src) - 1, 1000, 0, -1} {
				if _, err := Decompress(c, z, limit); !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("limit %d: %v", limit, err)
				}
			}
			if c != CodecNone {
				if _, err := Decompress(c, z[:len(z)/2], len(src)); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated input: %v", err)
				}
			}
		})
	}
	if _, err := Decompress(Codec(6), nil, 10); !errors.Is(err, ErrUnknownCodec) {
		t.Fatal(err)
	}
	// A snappy block that claims a huge length is refused before any
	// allocation.
	liar := binary.AppendUvarint(nil, 1<<31)
	liar = append(liar, 0)
	if _, err := Decompress(CodecSnappy, liar, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("lying snappy length: %v", err)
	}
}

// xerialFrame builds the framing the Java client's SnappyOutputStream
// writes, by hand: magic, version 1, compatible version 1, then blocks of
// (big-endian int32 length, raw snappy block).
func xerialFrame(chunks ...[]byte) []byte {
	out := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	for _, c := range chunks {
		block := snappy.Encode(nil, c)
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
	}
	return out
}

func TestXerialSnappy(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	var raw []byte
	for i := range recs {
		raw = appendRecord(raw, &recs[i])
	}
	// Split the records across blocks, as snappy-java does at 32 KiB.
	frame := xerialFrame(raw[:100], raw[100:101], raw[101:])
	out, err := Decompress(CodecSnappy, frame, testLimit)
	if err != nil || !bytes.Equal(out, raw) {
		t.Fatalf("xerial decode: err %v equal %v", err, bytes.Equal(out, raw))
	}

	// A whole batch whose records are xerial-framed, as the Java client
	// produces it.
	h := sampleHeader()
	h.Magic = Magic
	h.Attributes = int16(CodecSnappy)
	h.NumRecords = int32(len(recs))
	h.LastOffsetDelta = h.NumRecords - 1
	h.Length = int32(HeaderSize - 12 + len(frame))
	b := make([]byte, HeaderSize+len(frame))
	putHeader(b, h)
	copy(b[HeaderSize:], frame)
	fixCRC(b)
	if _, err := Validate(b); err != nil {
		t.Fatal(err)
	}
	got, err := Records(b, testLimit)
	if err != nil || !reflect.DeepEqual(got, recs) {
		t.Fatalf("xerial batch records: %v", err)
	}

	empty := xerialFrame()
	if out, err := Decompress(CodecSnappy, empty, 10); err != nil || len(out) != 0 {
		t.Fatalf("empty xerial: %v %d", err, len(out))
	}
	bad := []struct {
		name  string
		frame []byte
		limit int
		want  error
	}{
		{"short header", frame[:12], testLimit, ErrCorrupt},
		{"short block length", append(bytes.Clone(empty), 0, 0), testLimit, ErrCorrupt},
		{"block length lies", binary.BigEndian.AppendUint32(bytes.Clone(empty), 1000), testLimit, ErrCorrupt},
		{"block length negative", binary.BigEndian.AppendUint32(bytes.Clone(empty), 0xffffffff), testLimit, ErrCorrupt},
		{"truncated block", frame[:len(frame)-1], testLimit, ErrCorrupt},
		{"over limit across blocks", frame, len(raw) - 1, ErrTooLarge},
	}
	for _, tt := range bad {
		if _, err := Decompress(CodecSnappy, tt.frame, tt.limit); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestCodecString(t *testing.T) {
	t.Parallel()
	var got []string
	for _, c := range append(allCodecs, 5) {
		got = append(got, c.String())
	}
	if want := "none gzip snappy lz4 zstd codec(5)"; strings.Join(got, " ") != want {
		t.Fatalf("got %q", got)
	}
}

func ExampleNext() {
	var data []byte
	for i := range 3 {
		b, _ := Build(Header{BaseOffset: int64(i)}, []Record{{Value: []byte("hello")}}, CodecNone)
		data = append(data, b...)
	}
	for len(data) > 0 {
		var b []byte
		var err error
		if b, data, err = Next(data); err != nil {
			fmt.Println(err)
			return
		}
		h, err := Validate(b)
		fmt.Println(h.BaseOffset, h.NumRecords, err)
	}
	// Output:
	// 0 1 <nil>
	// 1 1 <nil>
	// 2 1 <nil>
}
