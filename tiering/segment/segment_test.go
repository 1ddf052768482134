package segment

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/tiering/objstore/mem"
)

type testChunk struct {
	meta ChunkMeta
	data []byte
}

func sampleChunks() []testChunk {
	topic := [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 1}
	return []testChunk{
		{ChunkMeta{TopicID: topic, Partition: 0, FirstOffset: 0, LastOffset: 9, MinTimestamp: 1000, MaxTimestamp: 1009, Batches: 2}, bytes.Repeat([]byte("a"), 100)},
		{ChunkMeta{TopicID: topic, Partition: 7, FirstOffset: 500, LastOffset: 500, MinTimestamp: -1, MaxTimestamp: -1, Batches: 1}, []byte("b")},
		{ChunkMeta{TopicID: [16]byte{2}, Partition: 3, FirstOffset: 42, LastOffset: 99, MinTimestamp: 5, MaxTimestamp: 50, Batches: 3}, bytes.Repeat([]byte("c"), 3000)},
	}
}

func build(chunks []testChunk) ([]byte, []Chunk) {
	b := NewBuilder()
	for _, c := range chunks {
		b.Add(c.meta, c.data)
	}
	return b.Finish()
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 3} {
		in := sampleChunks()[:n]
		b := NewBuilder()
		for _, c := range in {
			b.Add(c.meta, c.data)
		}
		wantLen := b.Len()
		obj, built := b.Finish()
		if len(obj) != wantLen {
			t.Errorf("%d chunks: Len() = %d before Finish, object is %d bytes", n, wantLen, len(obj))
		}
		got, err := Parse(obj)
		if err != nil {
			t.Fatalf("%d chunks: Parse: %v", n, err)
		}
		if !slices.Equal(got, built) {
			t.Fatalf("%d chunks: Parse = %+v, Finish said %+v", n, got, built)
		}
		if len(got) != n {
			t.Fatalf("%d chunks: Parse returned %d", n, len(got))
		}
		for i, c := range got {
			if c.ChunkMeta != in[i].meta {
				t.Errorf("chunk %d meta = %+v, want %+v", i, c.ChunkMeta, in[i].meta)
			}
			if !bytes.Equal(obj[c.Pos:c.Pos+c.Size], in[i].data) {
				t.Errorf("chunk %d bytes differ", i)
			}
		}

		// The piecewise path a range reader takes agrees with Parse.
		off, length, err := ParseTrailer(obj[len(obj)-TrailerSize:])
		if err != nil {
			t.Fatal(err)
		}
		if off+length+TrailerSize != int64(len(obj)) {
			t.Fatalf("trailer: footer [%d,+%d) in %d-byte object", off, length, len(obj))
		}
		fromFooter, err := ParseFooter(obj[off : off+length])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fromFooter, built) {
			t.Fatalf("ParseFooter = %+v, want %+v", fromFooter, built)
		}
	}
}

func TestBuilderReuseAndNoAliasing(t *testing.T) {
	t.Parallel()
	b := NewBuilder()
	data := []byte("payload")
	b.Add(ChunkMeta{LastOffset: 1}, data)
	data[0] = 'X' // caller reuses its buffer
	obj1, _ := b.Finish()
	if b.Len() != footerOverhead+TrailerSize {
		t.Fatalf("Len after Finish = %d, want an empty object's", b.Len())
	}
	b.Add(ChunkMeta{Partition: 1}, []byte("other"))
	obj2, _ := b.Finish()
	c1, err := Parse(obj1)
	if err != nil {
		t.Fatal(err)
	}
	if got := obj1[c1[0].Pos : c1[0].Pos+c1[0].Size]; string(got) != "payload" {
		t.Fatalf("first object's chunk = %q, want %q", got, "payload")
	}
	if _, err := Parse(obj2); err != nil {
		t.Fatal(err)
	}
}

func TestAddPanicsOnBadMeta(t *testing.T) {
	t.Parallel()
	for _, m := range []ChunkMeta{
		{Partition: -1},
		{FirstOffset: 5, LastOffset: 4},
		{FirstOffset: -1, LastOffset: 0},
		{MinTimestamp: 10, MaxTimestamp: 9},
		{Batches: -1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%+v) did not panic", m)
				}
			}()
			NewBuilder().Add(m, nil)
		}()
	}
}

// reseal recomputes the footer's own CRC, the trailer's footer CRC and the
// trailer CRC, so a test can corrupt one field and reach the check behind
// the checksums. It trusts the trailer's offset and length.
func reseal(obj []byte) []byte {
	tr := obj[len(obj)-TrailerSize:]
	off := int(binary.BigEndian.Uint64(tr[8:]))
	n := int(binary.BigEndian.Uint64(tr[16:]))
	if off >= 0 && n >= 4 && off+n <= len(obj)-TrailerSize {
		f := obj[off : off+n]
		binary.BigEndian.PutUint32(f[n-4:], crc32.Checksum(f[:n-4], castagnoli))
		binary.BigEndian.PutUint32(tr[24:], crc32.Checksum(f, castagnoli))
	}
	binary.BigEndian.PutUint32(tr[28:], crc32.Checksum(tr[:28], castagnoli))
	return obj
}

func TestCorruption(t *testing.T) {
	t.Parallel()
	valid, chunks := build(sampleChunks())
	footerOff := chunks[2].Pos + chunks[2].Size
	entry := func(i int) int { return int(footerOff) + 4 + i*entrySize }
	trailer := len(valid) - TrailerSize

	tests := []struct {
		name    string
		mutate  func(obj []byte) []byte
		wantErr error
		wantMsg string
	}{
		{"empty", func([]byte) []byte { return nil }, ErrCorrupt, "trailer: 0 bytes"},
		{"truncated trailer", func(o []byte) []byte { return o[:TrailerSize-1] }, ErrCorrupt, "31 bytes"},
		{"truncated object", func(o []byte) []byte { return o[10:] }, ErrCorrupt, "does not end at trailer"},
		{"extra bytes appended", func(o []byte) []byte { return append(o, 0) }, ErrCorrupt, "bad magic"},
		{"extra bytes prepended", func(o []byte) []byte { return append([]byte{0}, o...) }, ErrCorrupt, "does not end at trailer"},
		{"bad magic", func(o []byte) []byte { o[trailer] = 'X'; return o }, ErrCorrupt, "bad magic"},
		{"trailer checksum", func(o []byte) []byte { o[trailer+9] ^= 1; return o }, ErrCorrupt, "trailer: checksum"},
		{"unknown version", func(o []byte) []byte {
			binary.BigEndian.PutUint16(o[trailer+4:], 2)
			return reseal(o)
		}, ErrVersion, "version 2"},
		{"reserved set", func(o []byte) []byte { o[trailer+7] = 1; return reseal(o) }, ErrCorrupt, "reserved"},
		{"footer length huge", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[trailer+16:], 1<<62)
			return reseal(o)
		}, ErrCorrupt, "footer length"},
		{"footer length not whole entries", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[trailer+16:], footerOverhead+entrySize+1)
			return reseal(o)
		}, ErrCorrupt, "footer length"},
		{"footer offset huge", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[trailer+8:], math.MaxUint64-10)
			return reseal(o)
		}, ErrCorrupt, "footer offset"},
		{"footer offset shifted", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[trailer+8:], uint64(footerOff-1))
			return reseal(o)
		}, ErrCorrupt, "does not end at trailer"},
		{"footer byte flipped", func(o []byte) []byte { o[entry(1)+20] ^= 0x40; return o }, ErrCorrupt, "footer checksum"},
		{"footer own checksum", func(o []byte) []byte {
			o[entry(1)+20] ^= 0x40
			// Fix only the trailer's CRC of the footer: ParseFooter's own
			// check must still catch it.
			f := o[footerOff:trailer]
			binary.BigEndian.PutUint32(o[trailer+24:], crc32.Checksum(f, castagnoli))
			binary.BigEndian.PutUint32(o[trailer+28:], crc32.Checksum(o[trailer:trailer+28], castagnoli))
			return o
		}, ErrCorrupt, "footer: checksum"},
		{"count disagrees with length", func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[footerOff:], 1<<30)
			return reseal(o)
		}, ErrCorrupt, "count 1073741824"},
		{"chunk past body", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[entry(2)+64:], uint64(chunks[2].Size+1))
			return reseal(o)
		}, ErrCorrupt, "chunks end at"},
		{"chunk size huge", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[entry(2)+64:], math.MaxInt64)
			return reseal(o)
		}, ErrCorrupt, "out of range"},
		{"chunk size negative", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[entry(0)+64:], math.MaxUint64)
			return reseal(o)
		}, ErrCorrupt, "out of range"},
		{"chunks overlap", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[entry(1)+56:], uint64(chunks[1].Pos-1))
			return reseal(o)
		}, ErrCorrupt, "back to back"},
		{"offsets reversed", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[entry(0)+24:], 100)
			return reseal(o)
		}, ErrCorrupt, "last offset 9 < first offset 100"},
		{"negative partition", func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[entry(0)+16:], math.MaxUint32)
			return reseal(o)
		}, ErrCorrupt, "partition -1"},
		{"timestamps reversed", func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[entry(2)+48:], 0)
			return reseal(o)
		}, ErrCorrupt, "max timestamp 0 < min timestamp 5"},
	}
	for _, tt := range tests {
		obj := tt.mutate(slices.Clone(valid))
		_, err := Parse(obj)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Parse err = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: Parse err = %q, want it to mention %q", tt.name, err, tt.wantMsg)
		}
		if !strings.HasPrefix(err.Error(), "segment: ") {
			t.Errorf("%s: error %q lacks the package prefix", tt.name, err)
		}
	}
}

func TestParseFooterBounds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 4, 7, 9, 8 + entrySize - 1, MaxFooterSize + 8} {
		if _, err := ParseFooter(make([]byte, n)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseFooter(%d zero bytes) err = %v, want ErrCorrupt", n, err)
		}
	}
}

func TestObjectKey(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	got := ObjectKey("agent-1", 42, at)
	const wantSuffix = "/seg/agent-1/20240506T060809.123Z-000000000000002a.seg"
	if len(got) != 4+len(wantSuffix) || !strings.HasSuffix(got, wantSuffix) {
		t.Fatalf("ObjectKey = %q, want <hhhh>%s", got, wantSuffix)
	}
	if got != ObjectKey("agent-1", 42, at) {
		t.Fatal("ObjectKey is not deterministic")
	}

	// Consecutive objects spread over prefixes.
	prefixes := map[string]bool{}
	for seq := range uint64(64) {
		prefixes[ObjectKey("agent-1", seq, at)[:4]] = true
	}
	if len(prefixes) < 32 {
		t.Errorf("64 consecutive keys used only %d prefixes", len(prefixes))
	}

	// Any agent ID gives a key every store accepts, and distinct IDs give
	// distinct directories.
	s := mem.New()
	dirs := map[string]string{}
	for _, id := range []string{"", ".", "..", "a/b", "../../etc", `a\b`, "a b", "a%2F", "a\x00", "ünï", "agent.us-east-1"} {
		key := ObjectKey(id, 1, at)
		if err := s.Put(context.Background(), key, nil); err != nil {
			t.Errorf("ObjectKey(%q) = %q is not a valid key: %v", id, key, err)
		}
		dir := strings.Split(key, "/")[2]
		if other, ok := dirs[dir]; ok {
			t.Errorf("agents %q and %q share directory %q", id, other, dir)
		}
		dirs[dir] = id
	}
}
