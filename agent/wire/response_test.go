package wire

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchResponse has partitions partitions of recordBytes of records each
// (nil records for the first one), over two topics.
func fetchResponse(partitions, recordBytes int) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	for ti := range 2 {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = fmt.Sprintf("topic-%d", ti)
		t.TopicID = [16]byte{byte(ti + 1)}
		for pi := range partitions / 2 {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = int32(pi)
			p.HighWatermark = 1000
			if ti+pi > 0 {
				p.RecordBatches = bytes.Repeat([]byte{byte(pi)}, recordBytes)
			}
			if pi == 1 {
				p.AbortedTransactions = append(p.AbortedTransactions, kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: 7, FirstOffset: 3})
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// TestAppendFetchResponseSized: a Fetch response is encoded exactly as
// before, into a buffer made big enough once.
func TestAppendFetchResponseSized(t *testing.T) {
	for version := int16(0); version <= kmsg.NewPtrFetchResponse().MaxVersion(); version++ {
		for _, recordBytes := range []int{0, 100, 70 << 10, 300 << 10} {
			h := Header{Key: 1, Version: version, CorrelationID: 42}
			h.Flexible = version >= 12
			want := appendResponse(nil, h, fetchResponse(6, recordBytes))
			got := AppendResponse(nil, h, fetchResponse(6, recordBytes))
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d, %d bytes of records a partition: frame differs", version, recordBytes)
			}
			if n := fetchSizeBound(h, fetchResponse(6, recordBytes)); n != 0 && n < len(want) {
				t.Fatalf("v%d: size bound %d < frame of %d bytes", version, n, len(want))
			}
			prefix := []byte("earlier frame")
			if got := AppendResponse(prefix, h, fetchResponse(6, recordBytes)); !bytes.Equal(got[len(prefix):], want) || string(got[:len(prefix)]) != string(prefix) {
				t.Fatalf("v%d: frame appended after other bytes differs", version)
			}
		}
	}
}

// TestResponseBuffers: the buffers ResponseBuffers returns are, written in
// order, the frame AppendResponse makes, at every Fetch version, with the
// large record sets the caller's own bytes, not copies; other responses
// are one buffer.
func TestResponseBuffers(t *testing.T) {
	for version := int16(0); version <= kmsg.NewPtrFetchResponse().MaxVersion(); version++ {
		for _, recordBytes := range []int{0, 100, 70 << 10, 300 << 10} {
			h := Header{Key: 1, Version: version, CorrelationID: 42}
			h.Flexible = version >= 12
			resp := fetchResponse(6, recordBytes)
			want := appendResponse(nil, h, fetchResponse(6, recordBytes))
			prefix := []byte("earlier frame")
			bufs, dst := ResponseBuffers(prefix, h, resp)
			if got := bytes.Join(bufs, nil); !bytes.Equal(got, want) {
				t.Fatalf("v%d, %d bytes of records a partition: frame differs", version, recordBytes)
			}
			if string(dst[:len(prefix)]) != string(prefix) {
				t.Fatalf("v%d: bytes before the frame changed", version)
			}
			referenced := 0
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					for _, b := range bufs {
						if len(rp.RecordBatches) > 0 && len(b) == len(rp.RecordBatches) && &b[0] == &rp.RecordBatches[0] {
							referenced++
						}
					}
				}
			}
			if wantRefs := map[bool]int{true: 5, false: 0}[recordBytes >= refMin]; referenced != wantRefs {
				t.Fatalf("v%d, %d bytes a partition: %d record sets referenced, want %d", version, recordBytes, referenced, wantRefs)
			}
		}
	}
	h := Header{Key: 3, Version: 12, CorrelationID: 7, Flexible: true}
	md := kmsg.NewPtrMetadataResponse()
	bufs, _ := ResponseBuffers(nil, h, md)
	if len(bufs) != 1 || !bytes.Equal(bufs[0], appendResponse(nil, h, kmsg.NewPtrMetadataResponse())) {
		t.Fatalf("metadata response: %d buffers, or a different frame", len(bufs))
	}
}

// BenchmarkAppendFetchResponse encodes a Fetch response of 6 partitions
// with 1 MiB of records each, as a catching-up consumer gets it, into a
// new buffer (the connection's writer drops buffers over 1 MiB after each
// response, so a frame holding the records was always a new one): "grown" the old way (append grows the buffer as it goes,
// copying what it holds each time), "sized" the new one (room made once
// from a bound of the size), "buffers" the frame as buffers referencing
// the records, its other bytes in a buffer used again (ResponseBuffers,
// what the connection's writer does now). Same run, compare ns/op, MB/s
// and B/op:
//
//	go test -run '^$' -bench AppendFetchResponse -benchmem ./agent/wire/
func BenchmarkAppendFetchResponse(b *testing.B) {
	resp := fetchResponse(6, 1<<20)
	h := Header{Key: 1, Version: 13, CorrelationID: 42, Flexible: true}
	size := len(appendResponse(nil, h, resp))
	b.Run("grown", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			appendResponse(nil, h, resp)
		}
	})
	b.Run("sized", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			AppendResponse(nil, h, resp)
		}
	})
	b.Run("buffers", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			_, dst = ResponseBuffers(dst[:0], h, resp)
		}
	})
}
