package segment

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic or allocate
// on the word of the input, and whatever it accepts must be canonical:
// rebuilding from the parsed chunks gives back the same bytes.
func FuzzParse(f *testing.F) {
	for n := range len(sampleChunks()) + 1 {
		obj, _ := build(sampleChunks()[:n])
		f.Add(obj)
	}
	obj, _ := build(sampleChunks())
	f.Add(obj[len(obj)-TrailerSize:])
	f.Add([]byte("STSG"))
	f.Fuzz(func(t *testing.T, obj []byte) {
		chunks, err := Parse(obj)
		if err != nil {
			return
		}
		b := NewBuilder()
		for _, c := range chunks {
			if c.Pos < 0 || c.Size < 0 || c.Pos+c.Size > int64(len(obj)) {
				t.Fatalf("chunk %+v outside %d-byte object", c, len(obj))
			}
			b.Add(c.ChunkMeta, obj[c.Pos:c.Pos+c.Size])
		}
		again, _ := b.Finish()
		if !bytes.Equal(again, obj) {
			t.Fatalf("Parse accepted a non-canonical object:\n in  %x\n out %x", obj, again)
		}
		// Built in place, byte by byte into a Builder sized for it: the
		// same bytes.
		sb := NewBuilderSize(len(obj), len(chunks))
		for _, c := range chunks {
			for _, x := range obj[c.Pos : c.Pos+c.Size] {
				sb.Append([]byte{x})
			}
			sb.Cut(c.ChunkMeta)
		}
		if inPlace, _ := sb.Finish(); !bytes.Equal(inPlace, obj) {
			t.Fatalf("Append and Cut rebuilt different bytes:\n in  %x\n out %x", obj, inPlace)
		}
	})
}
