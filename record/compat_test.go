package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKmsgHeaderAgrees checks the hand-written header parser against
// kmsg's generated RecordBatch decoder, and that a batch encoded by
// kmsg.RecordBatch.AppendTo with a CRC computed over its bytes validates.
func TestKmsgHeaderAgrees(t *testing.T) {
	t.Parallel()
	for _, c := range allCodecs {
		b := mustBuild(t, sampleHeader(), sampleRecords(), c)
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatalf("%v: kmsg ReadFrom: %v", c, err)
		}
		h, err := Validate(b)
		if err != nil {
			t.Fatal(err)
		}
		got := Header{kb.FirstOffset, kb.Length, kb.PartitionLeaderEpoch, kb.Magic, uint32(kb.CRC),
			kb.Attributes, kb.LastOffsetDelta, kb.FirstTimestamp, kb.MaxTimestamp, kb.ProducerID,
			kb.ProducerEpoch, kb.FirstSequence, kb.NumRecords}
		if got != h {
			t.Fatalf("%v: kmsg header %+v, ours %+v", c, got, h)
		}
		if !bytes.Equal(kb.Records, b[HeaderSize:]) {
			t.Fatalf("%v: kmsg records differ", c)
		}

		// Re-encode with kmsg, CRC zeroed, then fill the CRC in.
		kb.CRC = 0
		re := kb.AppendTo(nil)
		fixCRC(re)
		if !bytes.Equal(re, b) {
			t.Fatalf("%v: kmsg re-encoding differs", c)
		}
	}
}

// TestFranzGoProducedBatches runs franz-go's real producer against a tiny
// in-test broker, once per codec, and checks that every batch it writes
// validates and decodes to the records produced.
func TestFranzGoProducedBatches(t *testing.T) {
	t.Parallel()
	codecs := []struct {
		codec Codec
		kgo   kgo.CompressionCodec
	}{
		{CodecNone, kgo.NoCompression()},
		{CodecGzip, kgo.GzipCompression()},
		{CodecSnappy, kgo.SnappyCompression()},
		{CodecLZ4, kgo.Lz4Compression()},
		{CodecZstd, kgo.ZstdCompression()},
	}
	for _, tc := range codecs {
		t.Run(tc.codec.String(), func(t *testing.T) {
			t.Parallel()
			fb := startFakeBroker(t)
			cl, err := kgo.NewClient(
				kgo.SeedBrokers(fb.addr),
				kgo.DefaultProduceTopic("t"),
				kgo.DisableIdempotentWrite(),
				kgo.ProducerBatchCompression(tc.kgo),
				kgo.ProducerLinger(50*time.Millisecond),
				kgo.RecordPartitioner(kgo.ManualPartitioner()),
			)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const n = 20
			var want []*kgo.Record
			for i := range n {
				r := &kgo.Record{
					Key:       []byte("key-" + strconv.Itoa(i)),
					Value:     bytes.Repeat([]byte("value "+strconv.Itoa(i)+" "), 50),
					Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte("hv")}},
					Timestamp: time.UnixMilli(1700000000000 + int64(i)),
				}
				if i == 3 {
					r.Key = nil
				}
				want = append(want, r)
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			var got []Record
			var first []int64 // FirstTimestamp of each record's batch
			for _, data := range fb.batches() {
				for len(data) > 0 {
					var b []byte
					b, data, err = Next(data)
					if err != nil {
						t.Fatal(err)
					}
					h, err := Validate(b)
					if err != nil {
						t.Fatalf("franz-go batch does not validate: %v", err)
					}
					if h.Codec() != tc.codec {
						t.Fatalf("codec %v, want %v", h.Codec(), tc.codec)
					}
					recs, err := Records(b, testLimit)
					if err != nil {
						t.Fatal(err)
					}
					for range recs {
						first = append(first, h.FirstTimestamp)
					}
					got = append(got, recs...)
				}
			}
			if len(got) != n {
				t.Fatalf("decoded %d records, want %d", len(got), n)
			}
			for i, r := range got {
				w := want[i]
				ts := first[i] + r.TimestampDelta
				if !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Value, w.Value) ||
					ts != w.Timestamp.UnixMilli() || len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "hv" {
					t.Fatalf("record %d: got %+v (ts %d), want key %q ts %d", i, r, ts, w.Key, w.Timestamp.UnixMilli())
				}
			}
		})
	}
}

// fakeBroker answers just enough of the protocol (ApiVersions, Metadata,
// Produce) for a franz-go producer, and records the produced batches.
type fakeBroker struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup

	mu struct {
		sync.Mutex
		conns   []net.Conn
		batches [][]byte
	}
}

func startFakeBroker(t *testing.T) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{addr: ln.Addr().String(), ln: ln}
	fb.wg.Add(1)
	go fb.accept()
	t.Cleanup(fb.close)
	return fb
}

func (fb *fakeBroker) close() {
	fb.ln.Close()
	fb.mu.Lock()
	for _, c := range fb.mu.conns {
		c.Close()
	}
	fb.mu.Unlock()
	fb.wg.Wait()
}

func (fb *fakeBroker) batches() [][]byte {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.mu.batches
}

func (fb *fakeBroker) accept() {
	defer fb.wg.Done()
	for {
		c, err := fb.ln.Accept()
		if err != nil {
			return
		}
		fb.mu.Lock()
		fb.mu.conns = append(fb.mu.conns, c)
		fb.mu.Unlock()
		fb.wg.Add(1)
		go func() {
			defer fb.wg.Done()
			defer c.Close()
			_ = fb.serve(c)
		}()
	}
}

func (fb *fakeBroker) serve(c net.Conn) error {
	for {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > 64<<20 {
			return errors.New("frame too large")
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if len(buf) < 10 {
			return errors.New("short request")
		}
		key := int16(binary.BigEndian.Uint16(buf))
		version := int16(binary.BigEndian.Uint16(buf[2:]))
		corr := buf[4:8]
		req := kmsg.RequestForKey(key)
		if req == nil {
			return fmt.Errorf("unknown key %d", key)
		}
		req.SetVersion(version)
		body := buf[8:]
		idLen := int16(binary.BigEndian.Uint16(body))
		body = body[2:]
		if idLen > 0 {
			body = body[idLen:]
		}
		if req.IsFlexible() {
			body = skipTags(body)
		}
		if err := req.ReadFrom(body); err != nil {
			return err
		}
		resp := fb.handle(req)
		out := append([]byte{0, 0, 0, 0}, corr...)
		if resp.IsFlexible() && key != 18 { // ApiVersions responses keep header v0
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

// skipTags skips a tagged-field section (it is empty from franz-go).
func skipTags(b []byte) []byte {
	n, w := binary.Uvarint(b)
	b = b[w:]
	for range n {
		_, w := binary.Uvarint(b)
		b = b[w:]
		size, w := binary.Uvarint(b)
		b = b[w+int(size):]
	}
	return b
}

func (fb *fakeBroker) handle(req kmsg.Request) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		r := resp.(*kmsg.ApiVersionsResponse)
		r.ApiKeys = []kmsg.ApiVersionsResponseApiKey{
			{ApiKey: 0, MinVersion: 3, MaxVersion: 9},  // Produce: below v13's topic ids
			{ApiKey: 3, MinVersion: 1, MaxVersion: 12}, // Metadata
			{ApiKey: 18, MinVersion: 0, MaxVersion: req.MaxVersion()},
		}
	case *kmsg.MetadataRequest:
		r := resp.(*kmsg.MetadataResponse)
		host, port, _ := net.SplitHostPort(fb.addr)
		p, _ := strconv.Atoi(port)
		r.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: host, Port: int32(p)}}
		topic := "t"
		r.Topics = []kmsg.MetadataResponseTopic{{
			Topic:      &topic,
			Partitions: []kmsg.MetadataResponseTopicPartition{{Partition: 0, Leader: 0, Replicas: []int32{0}, ISR: []int32{0}}},
		}}
	case *kmsg.ProduceRequest:
		r := resp.(*kmsg.ProduceResponse)
		for _, tp := range req.Topics {
			rt := kmsg.ProduceResponseTopic{Topic: tp.Topic}
			for _, p := range tp.Partitions {
				fb.mu.Lock()
				fb.mu.batches = append(fb.mu.batches, p.Records)
				fb.mu.Unlock()
				rt.Partitions = append(rt.Partitions, kmsg.ProduceResponseTopicPartition{Partition: p.Partition})
			}
			r.Topics = append(r.Topics, rt)
		}
	}
	return resp
}
