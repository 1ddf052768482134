package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

// TestHistoricalReadFromObjectStore: with a tiny tail and read cache,
// ≥ 50 MB produced and then read from offset 0 come back whole, and the
// object-store GET counter proves the bytes came from object storage.
func TestHistoricalReadFromObjectStore(t *testing.T) {
	a := testAgent(t, func(c *agent.Config) {
		c.TailBytes = 1 << 20
		c.CacheBytes = 2 << 20
		c.FlushBytes = 1 << 20
		c.BufferBytes = 64 << 20
	})
	const topic = "history"
	testkit.CreateTopic(t, a.Addr(), topic, 2, nil)
	const recSize = 8 << 10
	const n = 52 << 20 / recSize // 52 MiB of values
	payload := make([]byte, recSize)
	rand.Read(payload)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(2*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < n; i += 500 {
		var rs []*kgo.Record
		for j := i; j < min(i+500, n); j++ {
			v := bytes.Clone(payload)
			binary.BigEndian.PutUint32(v, uint32(j))
			rs = append(rs, &kgo.Record{Key: v[:4], Value: v})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	getsBefore := a.ObjectMetrics().Count("getrange")
	bytesBefore := a.ObjectMetrics().Bytes("getrange")
	got := testkit.ConsumeAll(t, a.Addr(), topic, n, kgo.FetchMaxBytes(4<<20))
	seen := make([]bool, n)
	for _, r := range got {
		j := binary.BigEndian.Uint32(r.Value)
		if int(j) >= n || seen[j] {
			t.Fatalf("record %d out of range or duplicated", j)
		}
		seen[j] = true
		if !bytes.Equal(r.Value[4:], payload[4:]) {
			t.Fatalf("record %d corrupted", j)
		}
	}
	gets := a.ObjectMetrics().Count("getrange") - getsBefore
	gotBytes := a.ObjectMetrics().Bytes("getrange") - bytesBefore
	t.Logf("read %d records (%d MiB): %d range GETs, %d MiB from object storage, cache hits %d misses %d",
		len(got), n*recSize>>20, gets, gotBytes>>20, a.CacheMetrics().Hits(), a.CacheMetrics().Misses())
	// The tail holds at most 1 MiB, so nearly everything must have come
	// from object storage.
	if gotBytes < int64(n*recSize)-(4<<20) {
		t.Fatalf("only %d bytes came from object storage for %d bytes of records", gotBytes, n*recSize)
	}
}
