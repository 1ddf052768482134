package testkit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

// The helpers below take the agent's Kafka address, so they serve an
// in-process agent (agent.Addr()) and an agent process alike.

// NewClient is a franz-go client seeded with addrs, a comma-separated
// list of host:port (the first option; a kgo.SeedBrokers in opts
// replaces it), closed when the test ends.
func NewClient(t testing.TB, addrs string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addrs, ",")...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic with the default replication factor and
// the given configs (nil for none), failing the test on any error.
func CreateTopic(t testing.TB, addr, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(NewClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// ConsumeAll reads n records from the start of the topic's partitions
// (60s at most), with opts added to the consumer's. A fetch error fails
// the test.
func ConsumeAll(t testing.TB, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := NewClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// ProduceBatch sends one record batch (as built by record.Build) to
// partition 0 of topic in a Produce request of its own, bypassing the
// client's batching, sequence numbers and retries, and returns the
// partition's answer.
func ProduceBatch(t testing.TB, cl *kgo.Client, topic string, acks int16, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("raw produce to %s: %v", topic, err)
	}
	return resp.Topics[0].Partitions[0]
}

// Owners reads the owner of each of the topic's partitions from the
// metastore, as the agents see them ("" for none).
func Owners(t testing.TB, meta metastore.Store, topic string) map[int32]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tp, err := meta.Topic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := meta.Partitions(ctx, tp.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]string{}
	for _, r := range rows {
		out[r.Partition] = r.Owner
	}
	return out
}

// WaitFor polls cond every 5ms until it returns true, failing the test
// after timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("condition not met within %v", timeout)
	}
}

// Await is WaitFor naming what it waits for in the failure.
func Await(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
