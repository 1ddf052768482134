package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is a record batch compression codec, the low three bits of the
// batch attributes.
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns the codec's name as Kafka's compression.type spells it.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

func (c Codec) known() bool { return c >= CodecNone && c <= CodecZstd }

// xerialMagic opens the framing that the Java client's snappy codec
// (xerial snappy-java's SnappyOutputStream) writes: the magic, a big-endian
// int32 version and an int32 minimum compatible version, then blocks, each
// a big-endian int32 length and a raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16 // magic, version, compatible version

// zstdMinWindow is the zstd window size the decoder always accepts, even
// when the caller's limit is smaller. A frame's declared window need not be
// smaller than its content: the Java client streams zstd with the level's
// default window (2 MiB at the default level 3, 8 MiB up to level 19), so a
// 100 KiB batch may declare an 8 MiB window. Frames with larger windows
// (levels 20-22) are accepted only when limit is at least that large.
const zstdMinWindow = 8 << 20

// Compress compresses src with codec c in the form Kafka stores it: a gzip
// member, a raw snappy block, an LZ4 frame or a zstd frame. CodecNone
// returns src itself.
func Compress(c Codec, src []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return src, nil
	case CodecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("record: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("record: gzip: %w", err)
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		return snappy.Encode(nil, src), nil
	case CodecLZ4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("record: lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("record: lz4: %w", err)
		}
		return buf.Bytes(), nil
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(src, nil), nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownCodec, c)
}

// Decompress decompresses src, compressed with codec c, refusing to
// produce more than limit bytes (ErrTooLarge, which also matches
// ErrCorrupt). Memory use is bounded by about limit (for zstd, by
// max(limit, 8 MiB) rounded up to a power of two) whatever src declares.
// Snappy input may be a raw block or the xerial framing of the Java
// client. CodecNone returns src itself.
func Decompress(c Codec, src []byte, limit int) ([]byte, error) {
	if limit < 0 {
		limit = 0
	}
	switch c {
	case CodecNone:
		if len(src) > limit {
			return nil, ErrTooLarge
		}
		return src, nil
	case CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return readLimited(r, limit, "gzip")
	case CodecSnappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return decodeXerial(src, limit)
		}
		return decodeSnappyBlock(nil, src, limit)
	case CodecLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), limit, "lz4")
	case CodecZstd:
		dec, err := zstdDecoder(limit)
		if err != nil {
			return nil, err
		}
		out, err := dec.DecodeAll(src, nil)
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return nil, fmt.Errorf("%w: zstd: %v", ErrTooLarge, err)
			}
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		if len(out) > limit {
			return nil, ErrTooLarge
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownCodec, c)
}

// readLimited reads r to the end, failing once it yields more than limit
// bytes.
func readLimited(r io.Reader, limit int, name string) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if n > int64(limit) {
		return nil, ErrTooLarge
	}
	return buf.Bytes(), nil
}

// decodeSnappyBlock appends the decoding of one raw snappy block to dst,
// checking the declared length against what may still be added before
// allocating.
func decodeSnappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if n > limit-len(dst) {
		return nil, ErrTooLarge
	}
	if dst == nil {
		out, err := snappy.Decode(make([]byte, n), block)
		if err != nil {
			return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	out, err := snappy.Decode(dst[start:], block)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("%w: snappy: short block", ErrCorrupt)
	}
	return dst, nil
}

// decodeXerial decodes the xerial snappy framing (see xerialMagic).
func decodeXerial(src []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderSize {
		return nil, fmt.Errorf("%w: xerial snappy: short header", ErrCorrupt)
	}
	// The version fields are not checked: snappy-java writes 1 and 1 and
	// readers, including Kafka's, ignore them.
	p := src[xerialHeaderSize:]
	out := []byte{}
	for len(p) > 0 {
		if len(p) < 4 {
			return nil, fmt.Errorf("%w: xerial snappy: short block length", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return nil, fmt.Errorf("%w: xerial snappy: block of %d bytes, %d left", ErrCorrupt, n, len(p))
		}
		var err error
		if out, err = decodeSnappyBlock(out, p[:n], limit); err != nil {
			return nil, err
		}
		p = p[n:]
	}
	return out, nil
}

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	// A nil writer: only EncodeAll is used, which starts no goroutines.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("record: zstd: %w", err)
	}
	return enc, nil
})

// zstdDecoders holds one decoder per output bound (a power of two), so
// DecodeAll enforces the bound block by block instead of growing its output
// without limit. There are at most a few dozen bounds; the decoders are
// used only through DecodeAll, which starts no goroutines, and live as long
// as the process.
var zstdDecoders sync.Map // uint64 bound -> *zstd.Decoder

func zstdDecoder(limit int) (*zstd.Decoder, error) {
	bound := uint64(max(limit, zstdMinWindow))
	if bound&(bound-1) != 0 {
		bound = 1 << bits.Len64(bound)
	}
	if d, ok := zstdDecoders.Load(bound); ok {
		return d.(*zstd.Decoder), nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(bound),
		zstd.WithDecoderMaxWindow(bound),
	)
	if err != nil {
		return nil, fmt.Errorf("record: zstd: %w", err)
	}
	if prev, loaded := zstdDecoders.LoadOrStore(bound, d); loaded {
		d.Close()
		return prev.(*zstd.Decoder), nil
	}
	return d, nil
}
