package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore"
)

// sharedBackends gives several in-process agents one metastore and one
// object store (Postgres and MinIO when STRATA_TEST_BACKEND=remote).
func sharedBackends(t *testing.T) func(*agent.Config) {
	meta, objs := testkit.Backends(t)
	return func(c *agent.Config) {
		c.MetastoreURL, c.ObjstoreURL = meta, objs
		// Short enough for quick failover, long enough that heartbeats
		// every 500ms survive a loaded CI machine under -race.
		c.LeaseTTL = 1500 * time.Millisecond
	}
}

// TestOwnershipSpreadsAndFailsOver: a second agent takes about half the
// partitions within a few lease periods; clients produce through both;
// when it dies the first takes everything back; no acknowledged record is
// lost and offsets stay dense.
func TestOwnershipSpreadsAndFailsOver(t *testing.T) {
	shared := sharedBackends(t)
	a := testAgent(t, shared)
	// 24 partitions: the chance that hashing gives one agent all of them
	// is 2^-23.
	testkit.CreateTopic(t, a.Addr(), "spread", 24, nil)
	b := testAgent(t, shared)

	testkit.WaitFor(t, 10*time.Second, func() bool {
		n := map[string]int{}
		for _, o := range testkit.Owners(t, a.Metastore(), "spread") {
			n[o]++
		}
		return n[a.AgentID()] > 0 && n[b.AgentID()] > 0 && n[a.AgentID()]+n[b.AgentID()] == 24
	})

	cl := testkit.NewClient(t, a.Addr(), kgo.SeedBrokers(a.Addr(), b.Addr()), kgo.DefaultProduceTopic("spread"), kgo.RequiredAcks(kgo.AllISRAcks()))
	produce := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce(0, 2000)

	killed := time.Now()
	b.Close() // abrupt: its lease must expire
	testkit.WaitFor(t, 10*time.Second, func() bool {
		for _, o := range testkit.Owners(t, a.Metastore(), "spread") {
			if o != a.AgentID() {
				return false
			}
		}
		return true
	})
	t.Logf("all partitions back on the surviving agent %v after the other stopped", time.Since(killed).Round(10*time.Millisecond))
	produce(2000, 3000)

	got := testkit.ConsumeAll(t, a.Addr(), "spread", 3000)
	seen := map[string]bool{}
	next := map[int32]int64{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("record %s twice", r.Value)
		}
		seen[string(r.Value)] = true
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
}

// TestStaleOwnerIsFenced: when another agent claims a partition behind an
// agent's back (its lease lapsed, say), the old owner's acks=all produce
// is never acknowledged and nothing it buffered is committed.
func TestStaleOwnerIsFenced(t *testing.T) {
	shared := sharedBackends(t)
	var faults *testkit.FaultStore
	a := testAgent(t, shared, testkit.WrapMetastore(func(s metastore.Store) metastore.Store {
		faults = testkit.NewFaultStore(s)
		return faults
	}))
	testkit.CreateTopic(t, a.Addr(), "fenced", 1, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("fenced"))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitHWM(t, a, "fenced", 0, 1)
	tp := a.Registry().Topic("fenced")
	epoch := tp.Partition(0).Status().Epoch

	// Hold a's commits so its next batch stays uncommitted, then let an
	// intruder claim the partition in the metastore.
	release := faults.HoldCommits()
	defer release()
	if _, err := a.Metastore().Claim(context.Background(), "intruder", tp.ID(), 0, epoch); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, a)
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7) // not flexible: the response body follows the correlation id
	req.Acks = -1
	req.TimeoutMillis = 3000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "fenced"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = idemBatch(t, -1, -1, -1, 1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	corr := rc.send(req)
	time.Sleep(100 * time.Millisecond)
	release()
	body, err := rc.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(7)
	if err := resp.ReadFrom(body[4:]); err != nil || corr == 0 {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("produce by the stale owner: code %d, want NOT_LEADER_OR_FOLLOWER", code)
	}
	rows, err := a.Metastore().Partitions(context.Background(), tp.ID())
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].HighWatermark != 1 || rows[0].Owner != "intruder" {
		t.Fatalf("after the fenced produce: %+v, want high watermark 1 owned by the intruder", rows[0])
	}
}

// TestGroupCoordinatorFailsOver: with two agents the group's coordinator
// is one of them; when it dies, the other takes the group over (from the
// metastore) and the consumer carries on from the committed offsets.
func TestGroupCoordinatorFailsOver(t *testing.T) {
	shared := sharedBackends(t)
	a := testAgent(t, shared)
	testkit.CreateTopic(t, a.Addr(), "gfo", 4, nil)
	b := testAgent(t, shared)
	testkit.WaitFor(t, 10*time.Second, func() bool {
		return liveAgents(a) == 2 && liveAgents(b) == 2
	})
	// Both agents must agree who coordinates before the consumer starts.
	testkit.WaitFor(t, 10*time.Second, func() bool {
		return a.Ownership().CoordinatorFor("gfo-group").ID == b.Ownership().CoordinatorFor("gfo-group").ID
	})
	coord, survivor := a, b
	if a.Ownership().CoordinatorFor("gfo-group").ID == b.AgentID() {
		coord, survivor = b, a
	}
	seeds := kgo.SeedBrokers(a.Addr(), b.Addr())
	prod := testkit.NewClient(t, survivor.Addr(), seeds, kgo.DefaultProduceTopic("gfo"), kgo.RequiredAcks(kgo.AllISRAcks()))
	produce := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce(0, 500)
	cons := testkit.NewClient(t, survivor.Addr(), seeds, kgo.ConsumerGroup("gfo-group"), kgo.ConsumeTopics("gfo"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(100*time.Millisecond),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
	seen := map[string]bool{}
	poll := func(want int) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for len(seen) < want {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d", len(seen), want)
			}
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
	}
	poll(500)
	if err := cons.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Fatalf("commit: %v", err)
	}
	coord.Close()
	testkit.WaitFor(t, 10*time.Second, func() bool { return survivor.Ownership().CoordinatorFor("gfo-group").ID == survivor.AgentID() })
	produce(500, 1000)
	poll(1000)
	// The committed offsets moved with the group: the survivor serves them.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(7)
	req.Group = "gfo-group"
	resp := kmsg.NewPtrOffsetFetchResponse()
	dialRaw(t, survivor).roundTrip(req, resp)
	var committed int64
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			committed += max(p.Offset, 0)
		}
	}
	if resp.ErrorCode != 0 || committed < 500 {
		t.Fatalf("survivor's committed offsets: code %d, total %d, want at least 500", resp.ErrorCode, committed)
	}
}

// liveAgents is the size of a's view of the live agents.
func liveAgents(a *agent.Agent) int {
	agents, err := a.Ownership().Agents(context.Background())
	if err != nil {
		return 0
	}
	return len(agents)
}
