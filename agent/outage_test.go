package agent_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore/sqlite"
	"github.com/stratalog/strata/tiering/objstore/mem"
)

// TestObjectStoreOutage: while every PUT fails, acks=all produces are not
// acknowledged, and once the buffer limit is reached produce answers a
// retriable error; when the store comes back, uploads resume by
// themselves and every acknowledged record is readable. (The same against
// a real MinIO server comes with the S3 backend.)
func TestObjectStoreOutage(t *testing.T) {
	objs := mem.New()
	meta, err := sqlite.Open(context.Background(), t.TempDir()+"/meta.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	cfg := agent.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "off", Logger: testkit.Logger(),
		FlushInterval: 10 * time.Millisecond, FlushBytes: 64 << 10, BufferBytes: 256 << 10}
	a := testkit.StartAgent(t, cfg, testkit.WithDeps(agent.Deps{Meta: meta, Objects: objs}))
	testkit.CreateTopic(t, a.Addr(), "outage", 1, nil)

	var down atomic.Bool
	objs.SetFault(func(op, key string) error {
		if op == mem.OpPut && down.Load() {
			return errors.New("injected: object store unavailable")
		}
		return nil
	})
	down.Store(true)
	const total = 4000
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	produce := func(cl *kgo.Client, from, to int) {
		for i := from; i < to; i++ {
			v := make([]byte, 1026)
			rand.Read(v)
			v[0], v[1] = byte(i>>8), byte(i)
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Value: v}, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err == nil {
					mu.Lock()
					acked[string(r.Value[:2])] = true
					mu.Unlock()
				}
			})
		}
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// acks=all records are not acknowledged while uploads fail.
	all := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("outage"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(60*time.Second))
	produce(all, 0, 10)
	time.Sleep(300 * time.Millisecond)
	if n := ackedCount(); n != 0 {
		t.Fatalf("%d acks=all records acknowledged while object storage was down", n)
	}
	// acks=1 traffic fills the local buffer up to its limit...
	one := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("outage"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.RecordDeliveryTimeout(60*time.Second))
	produce(one, 10, total)
	testkit.WaitFor(t, 10*time.Second, func() bool { return a.Registry().Buffered() >= cfg.BufferBytes })
	// ...and then produce answers a retriable error.
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = 1
	req.TimeoutMillis = 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "outage"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = idemBatch(t, -1, -1, -1, 1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrProduceResponse()
	dialRaw(t, a).roundTrip(req, resp)
	code := resp.Topics[0].Partitions[0].ErrorCode
	if err := kerr.ErrorForCode(code); !kerr.IsRetriable(err) || code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce with a full buffer: %v, want retriable KAFKA_STORAGE_ERROR", err)
	}
	// acks=1 needs only the local fsync, so some were acknowledged during
	// the outage; not all fit in the buffer.
	testkit.WaitFor(t, 10*time.Second, func() bool { return ackedCount() > 0 })
	if n := ackedCount(); n >= total-10 {
		t.Fatalf("%d acks=1 records acknowledged with a full buffer; want fewer than %d", n, total-10)
	}

	// The store comes back: uploads resume by themselves, client retries
	// finish, and every acknowledged record is readable exactly once.
	down.Store(false)
	wg.Wait()
	if n := ackedCount(); n != total {
		t.Fatalf("%d of %d acknowledged after recovery", n, total)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "outage", total)
	seen := map[string]bool{}
	for _, r := range got {
		k := string(r.Value[:2])
		if seen[k] {
			t.Fatalf("duplicate record %x", k)
		}
		seen[k] = true
	}
	for k := range acked {
		if !seen[k] {
			t.Fatalf("acknowledged record %x missing", k)
		}
	}
}
