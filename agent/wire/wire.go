package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors returned by ReadFrame and ParseRequest. Any of them means the
// connection must be closed: the stream can no longer be trusted.
var (
	ErrFrameTooLarge   = errors.New("wire: frame larger than the request size limit")
	ErrFrameTooSmall   = errors.New("wire: frame too small for a request header")
	ErrUnknownKey      = errors.New("wire: unknown api key")
	ErrUnknownVersion  = errors.New("wire: api version not known to the codec")
	ErrMalformedHeader = errors.New("wire: malformed request header")
	ErrMalformedBody   = errors.New("wire: malformed request body")
)

// ReadFrame reads one size-prefixed frame from r. A declared size that is
// negative or larger than max is rejected before anything is allocated.
func ReadFrame(r io.Reader, max int32) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 0 || n > max {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, max)
	}
	// The smallest valid request header is key, version, correlation id and
	// a null client id: 10 bytes.
	if n < 10 {
		return nil, fmt.Errorf("%w: %d bytes", ErrFrameTooSmall, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// Header is a parsed request header.
type Header struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
	// Flexible is whether the request (and so the response body) uses the
	// KIP-482 flexible encoding.
	Flexible bool
}

// ResponseFlexibleHeader reports whether the response header carries a
// tagged-field section. ApiVersions responses never do, so that a client
// can always parse the answer to a version it guessed too high.
func (h Header) ResponseFlexibleHeader() bool {
	return h.Flexible && h.Key != 18
}

// ParseHeader parses the request header of a frame and returns the header
// and the remaining body bytes. For an unknown key it returns
// ErrUnknownKey with the key and correlation id filled in so the caller can
// log them; for a version newer than the codec knows, ErrUnknownVersion.
func ParseHeader(frame []byte) (Header, []byte, error) {
	var h Header
	if len(frame) < 10 {
		return h, nil, ErrFrameTooSmall
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	idLen := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if idLen >= 0 {
		if int(idLen) > len(rest) {
			return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformedHeader, idLen)
		}
		s := string(rest[:idLen])
		h.ClientID = &s
		rest = rest[idLen:]
	} else if idLen != -1 {
		return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformedHeader, idLen)
	}
	req := kmsg.RequestForKey(h.Key)
	if req == nil {
		return h, nil, fmt.Errorf("%w: %d", ErrUnknownKey, h.Key)
	}
	if h.Version < 0 || h.Version > req.MaxVersion() {
		return h, rest, fmt.Errorf("%w: key %d version %d", ErrUnknownVersion, h.Key, h.Version)
	}
	req.SetVersion(h.Version)
	h.Flexible = req.IsFlexible()
	if h.Flexible {
		var err error
		rest, err = skipTags(rest)
		if err != nil {
			return h, nil, err
		}
	}
	return h, rest, nil
}

// ParseRequest parses a whole request frame.
func ParseRequest(frame []byte) (Header, kmsg.Request, error) {
	h, body, err := ParseHeader(frame)
	if err != nil {
		return h, nil, err
	}
	req := kmsg.RequestForKey(h.Key)
	req.SetVersion(h.Version)
	if err := req.ReadFrom(body); err != nil {
		return h, nil, fmt.Errorf("%w: %s v%d: %v", ErrMalformedBody, kmsg.NameForKey(h.Key), h.Version, err)
	}
	return h, req, nil
}

// AppendResponse appends a size-prefixed response frame for the request
// header h to dst. A Fetch response, whose records may be megabytes, is
// appended into room made for it first, so its records are copied once
// rather than again each time dst would grow.
func AppendResponse(dst []byte, h Header, resp kmsg.Response) []byte {
	if n := fetchSizeBound(h, resp); n > cap(dst)-len(dst) {
		dst = slices.Grow(dst, n)
	}
	return appendResponse(dst, h, resp)
}

// fetchSizeBound returns at least the size of the frame AppendResponse
// makes of a Fetch response (0 for any other response): the frame of the
// same response without its records, found by encoding that (the small
// part), plus the records and room for each one's length prefix.
func fetchSizeBound(h Header, resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	bare := *fr
	bare.Topics = slices.Clone(fr.Topics)
	records := 0
	for i := range bare.Topics {
		t := &bare.Topics[i]
		t.Partitions = slices.Clone(t.Partitions)
		for j := range t.Partitions {
			records += len(t.Partitions[j].RecordBatches) + binary.MaxVarintLen32
			t.Partitions[j].RecordBatches = nil
		}
	}
	if records < 64<<10 {
		return 0 // small: growing costs little
	}
	return len(appendResponse(nil, h, &bare)) + records
}

func appendResponse(dst []byte, h Header, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.CorrelationID))
	if h.ResponseFlexibleHeader() {
		dst = append(dst, 0) // no tagged fields
	}
	resp.SetVersion(h.Version)
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// skipTags skips a tagged-field section: an unsigned varint count, then
// for each field a varint tag, a varint size and that many bytes.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < n; i++ {
		if _, b, err = uvarint(b); err != nil {
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes", ErrMalformedHeader, size)
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad varint", ErrMalformedHeader)
	}
	return v, b[n:], nil
}

// refMin is the size from which ResponseBuffers references a record set
// instead of copying it into the frame.
const refMin = 64 << 10

// markerLen is the size of the stand-in for a referenced record set:
// a nonce drawn for the response, then the record set's index.
const markerLen = 16

// ResponseBuffers returns the size-prefixed response frame for the request
// header h as buffers whose bytes, written in order, are the frame
// AppendResponse makes, and dst with the frame's own bytes appended (for
// reuse). The record sets of a Fetch response, megabytes when a consumer
// catches up, are not copied: each one of refMin bytes or more is a buffer
// of its own, referencing the caller's records, and the rest of the frame,
// encoded by kmsg with a stand-in for each, is appended to dst. Copying
// them into the frame (and clearing fresh room for it) was a quarter of
// the agent's CPU in a cold catch-up. The buffers must be written before
// dst or the records are modified.
func ResponseBuffers(dst []byte, h Header, resp kmsg.Response) ([][]byte, []byte) {
	start := len(dst)
	whole := func() ([][]byte, []byte) {
		dst = AppendResponse(dst[:start], h, resp)
		return [][]byte{dst[start:]}, dst
	}
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return whole()
	}
	// The same response with a marker in place of each large record set.
	bare := *fr
	bare.Topics = slices.Clone(fr.Topics)
	var refs [][]byte
	nonce := rand.Uint64()
	marker := func(i int) []byte {
		m := binary.BigEndian.AppendUint64(make([]byte, 0, markerLen), nonce)
		return binary.BigEndian.AppendUint64(m, uint64(i))
	}
	for i := range bare.Topics {
		t := &bare.Topics[i]
		cloned := false
		for j := range t.Partitions {
			if len(t.Partitions[j].RecordBatches) < refMin {
				continue
			}
			if !cloned {
				t.Partitions = slices.Clone(t.Partitions)
				cloned = true
			}
			refs = append(refs, t.Partitions[j].RecordBatches)
			t.Partitions[j].RecordBatches = marker(len(refs) - 1)
		}
	}
	if len(refs) == 0 {
		return whole()
	}
	dst = appendResponse(dst, h, &bare)
	flexible := bare.IsFlexible()
	// Find each marker, in order, right after the length prefix a
	// markerLen-byte record set gets.
	at := make([]int, len(refs))
	prefixLen := 4
	if flexible {
		prefixLen = 1 // uvarint(markerLen+1)
	}
	pos := start + 8
	for i := range refs {
		k := bytes.Index(dst[pos:], marker(i))
		if k < 0 {
			return whole()
		}
		a := pos + k
		if a-prefixLen < pos {
			return whole()
		}
		p := dst[a-prefixLen : a]
		if flexible && p[0] != markerLen+1 || !flexible && binary.BigEndian.Uint32(p) != markerLen {
			return whole()
		}
		at[i] = a
		pos = a + markerLen
	}
	// The record sets' real length prefixes go after the frame's bytes,
	// in room made first so the buffers' slices of dst stay valid.
	end := len(dst)
	dst = slices.Grow(dst, len(refs)*binary.MaxVarintLen32)
	prefixAt := make([]int, len(refs)+1)
	for i, r := range refs {
		prefixAt[i] = len(dst)
		if flexible {
			dst = binary.AppendUvarint(dst, uint64(len(r))+1)
		} else {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(r)))
		}
	}
	prefixAt[len(refs)] = len(dst)
	bufs := make([][]byte, 0, 3*len(refs)+1)
	prev, size := start, 0
	for i, r := range refs {
		bufs = append(bufs, dst[prev:at[i]-prefixLen], dst[prefixAt[i]:prefixAt[i+1]], r)
		prev = at[i] + markerLen
	}
	bufs = append(bufs, dst[prev:end])
	for _, b := range bufs {
		size += len(b)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size-4))
	return bufs, dst
}
