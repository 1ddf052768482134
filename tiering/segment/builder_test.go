package segment

import (
	"bytes"
	"fmt"
	"testing"
)

// buildInPlace builds chunks with Append (in pieces of at most piece
// bytes) and Cut, on a Builder sized by hint.
func buildInPlace(chunks []testChunk, piece int, sized bool) ([]byte, []Chunk) {
	b := NewBuilder()
	if sized {
		var n int
		for _, c := range chunks {
			n += len(c.data)
		}
		b = NewBuilderSize(n, len(chunks))
	}
	for _, c := range chunks {
		for d := c.data; len(d) > 0; {
			k := min(piece, len(d))
			b.Append(d[:k])
			d = d[k:]
		}
		b.Cut(c.meta)
	}
	return b.Finish()
}

func TestAppendCutSameBytesAsAdd(t *testing.T) {
	t.Parallel()
	want, wantChunks := build(sampleChunks())
	for _, piece := range []int{1, 7, 100, 1 << 20} {
		for _, sized := range []bool{false, true} {
			got, gotChunks := buildInPlace(sampleChunks(), piece, sized)
			if !bytes.Equal(got, want) {
				t.Errorf("piece %d sized %v: object differs from Add's:\n got  %x\n want %x", piece, sized, got, want)
			}
			if fmt.Sprint(gotChunks) != fmt.Sprint(wantChunks) {
				t.Errorf("piece %d sized %v: chunks %+v, want %+v", piece, sized, gotChunks, wantChunks)
			}
		}
	}
}

func TestBuilderSizeHint(t *testing.T) {
	t.Parallel()
	chunks := sampleChunks()
	var n int
	for _, c := range chunks {
		n += len(c.data)
	}
	b := NewBuilderSize(n, len(chunks))
	for _, c := range chunks {
		b.Add(c.meta, c.data)
	}
	if got, want := cap(b.buf), b.Len(); got != want {
		t.Errorf("a Builder sized for the object has room for %d bytes, want exactly %d", got, want)
	}
	before := &b.buf[:1][0]
	obj, _ := b.Finish()
	if &obj[0] != before {
		t.Error("Finish grew the buffer of a Builder sized for the object")
	}
	want, _ := build(chunks)
	if !bytes.Equal(obj, want) {
		t.Fatal("sized Builder made different bytes")
	}
	// A hint too small, or none at all, still builds the same object.
	b = NewBuilderSize(1, 0)
	for _, c := range chunks {
		b.Add(c.meta, c.data)
	}
	if obj, _ := b.Finish(); !bytes.Equal(obj, want) {
		t.Fatal("undersized Builder made different bytes")
	}
	if obj, _ := NewBuilderSize(-5, -1).Finish(); len(obj) != footerOverhead+TrailerSize {
		t.Fatalf("empty object of %d bytes", len(obj))
	}
}

func TestPendingAndUncutBytes(t *testing.T) {
	t.Parallel()
	b := NewBuilder()
	b.Append([]byte("abc"))
	b.Append([]byte("de"))
	if b.Pending() != 5 {
		t.Fatalf("Pending = %d, want 5", b.Pending())
	}
	mustPanic(t, "Add after uncut Append", func() { b.Add(ChunkMeta{}, []byte("x")) })
	mustPanic(t, "Finish after uncut Append", func() { b.Finish() })
	mustPanic(t, "Cut with a bad meta", func() { b.Cut(ChunkMeta{Partition: -1}) })
	if b.Pending() != 5 {
		t.Fatalf("Pending after refused Cut = %d, want 5", b.Pending())
	}
	b.Cut(ChunkMeta{LastOffset: 3})
	if b.Pending() != 0 {
		t.Fatalf("Pending after Cut = %d, want 0", b.Pending())
	}
	b.Cut(ChunkMeta{FirstOffset: 4, LastOffset: 4}) // an empty chunk, as Add(meta, nil)
	obj, chunks := b.Finish()
	parsed, err := Parse(obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 2 || parsed[0].Size != 5 || parsed[1].Size != 0 || parsed[1].Pos != 5 || fmt.Sprint(parsed) != fmt.Sprint(chunks) {
		t.Fatalf("chunks %+v, parsed %+v", chunks, parsed)
	}
	if string(obj[:5]) != "abcde" {
		t.Fatalf("body %q", obj[:5])
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// BenchmarkBuild builds a 64 MiB per-partition segment from 64 KiB
// batches cut into 1 MiB chunks, as compaction does: "unsized" is the
// old way (each chunk assembled in a buffer of the caller's grown by
// append, then copied by Add into a Builder grown by append), "sized"
// the new one (NewBuilderSize with the job's input bytes, batches
// appended into the object directly, chunks cut by Cut). Both run in
// the same process, so compare their ns/op, B/op and MB/s:
//
//	go test -run '^$' -bench Build -benchmem ./tiering/segment/
func BenchmarkBuild(b *testing.B) {
	const segBytes, chunkBytes, batchBytes = 64 << 20, 1 << 20, 64 << 10
	batch := bytes.Repeat([]byte{0xa5}, batchBytes)
	meta := ChunkMeta{LastOffset: 1, Batches: 1}
	b.Run("unsized", func(b *testing.B) {
		b.SetBytes(segBytes)
		b.ReportAllocs()
		for b.Loop() {
			sb := NewBuilder()
			var chunk []byte
			for n := 0; n < segBytes; n += batchBytes {
				if len(chunk) > 0 && len(chunk)+batchBytes > chunkBytes {
					sb.Add(meta, chunk)
					chunk = nil
				}
				chunk = append(chunk, batch...)
			}
			sb.Add(meta, chunk)
			sb.Finish()
		}
	})
	b.Run("sized", func(b *testing.B) {
		b.SetBytes(segBytes)
		b.ReportAllocs()
		for b.Loop() {
			sb := NewBuilderSize(segBytes, 2*segBytes/chunkBytes+2)
			for n := 0; n < segBytes; n += batchBytes {
				if sb.Pending() > 0 && sb.Pending()+batchBytes > chunkBytes {
					sb.Cut(meta)
				}
				sb.Append(batch)
			}
			sb.Cut(meta)
			sb.Finish()
		}
	})
}
