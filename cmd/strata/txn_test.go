package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testkit"
)

// TestTransactionsKill9: a transactional producer writes to six
// partitions spread over three agents on Postgres + MinIO while agents are
// killed with SIGKILL — the transaction coordinator right after EndTxn
// was answered (its markers not yet written), a partition owner in the
// middle of a transaction and right after EndTxn (between markers), the
// coordinator in the middle of one — and
// restarted. Afterwards a read_committed consumer sees every transaction
// whole or not at all: every committed one whole, no aborted one, nothing
// twice.
func TestTransactionsKill9(t *testing.T) {
	c := newCluster(t, 3)
	const topic, txnID, perPart = "eos", "eos-producer", 3
	testkit.CreateTopic(t, c.agents[0].addr, topic, 6, nil)
	ctx := context.Background()

	newProducer := func() *kgo.Client {
		return newClient(t, c.agents[0].addr, kgo.SeedBrokers(c.seeds()...), kgo.TransactionalID(txnID),
			kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.TransactionTimeout(20*time.Second), kgo.RequestTimeoutOverhead(5*time.Second),
			kgo.RetryTimeout(30*time.Second), kgo.MetadataMinAge(250*time.Millisecond))
	}
	// byAddr finds the agent listening at addr.
	byAddr := func(addr string) int {
		for i, p := range c.agents {
			if p.addr == addr {
				return i
			}
		}
		return -1
	}
	coordinator := func(cl *kgo.Client) int {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKey = 1, txnID
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			return -1
		}
		return byAddr(fmt.Sprintf("%s:%d", resp.Host, resp.Port))
	}
	owner := func(p int32) int {
		id := c.owners(topic)[p]
		for i, a := range c.agents {
			if !a.exited() && agentID(t, a) == id {
				return i
			}
		}
		return -1
	}
	kills := 0
	kill := func(i int, why string) {
		if i < 0 || c.agents[i].exited() {
			return
		}
		t.Logf("kill -9 agent %d (%s)", i, why)
		victim := c.agents[i]
		victim.stop(syscall.SIGKILL)
		kills++
		time.Sleep(1500 * time.Millisecond) // past the 1s lease: its partitions and coordinators move
		c.agents[i] = victim.restart(c.args...)
	}

	outcome := map[int]string{} // txn → committed, aborted, unknown
	cl := newProducer()
	const txns = 36
	for n := 0; n < txns; n++ {
		commit := n%3 != 2
		err := func() error {
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			var recs []*kgo.Record
			for p := int32(0); p < 6; p++ {
				for i := 0; i < perPart; i++ {
					recs = append(recs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%d/%d/%d", n, p, i))})
				}
			}
			pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			if err := cl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
				return err
			}
			switch n % 6 {
			case 1:
				kill(owner(int32(n/6%6)), fmt.Sprintf("owner of partition %d, transaction %d open", n/6%6, n))
			case 3:
				kill(coordinator(cl), fmt.Sprintf("coordinator, transaction %d open", n))
			}
			return cl.EndTransaction(pctx, kgo.TransactionEndTry(commit))
		}()
		switch {
		case err != nil:
			t.Logf("transaction %d: %v; a new producer takes over", n, err)
			outcome[n] = "unknown"
			cl.Close()
			cl = newProducer()
		case commit:
			outcome[n] = "committed"
		default:
			outcome[n] = "aborted"
		}
		switch {
		case err == nil && n%6 == 5:
			kill(coordinator(cl), fmt.Sprintf("coordinator, transaction %d just ended", n))
		case err == nil && n%6 == 4:
			// Between markers: some partitions may have theirs, others not.
			kill(owner(int32(n/6%6)), fmt.Sprintf("owner of partition %d, transaction %d just ended", n/6%6, n))
		}
	}
	cl.Close()

	// Read everything committed: the end is where every marker is in.
	reader := newClient(t, c.agents[0].addr, kgo.SeedBrokers(c.seeds()...))
	var end map[int32]int64
	testkit.Await(t, 60*time.Second, "the last stable offsets to reach the high watermarks", func() bool {
		lso, hwm := listEnds(t, reader, topic, 1), listEnds(t, reader, topic, 0)
		end = lso
		for p := range hwm {
			if lso[p] != hwm[p] {
				return false
			}
		}
		return len(hwm) == 6
	})
	got := map[int]int{}
	seen := map[string]bool{}
	for p, recs := range readCommitted(t, c.seeds(), topic, end) {
		for _, r := range recs {
			v := string(r.Value)
			if seen[v] {
				t.Fatalf("partition %d offset %d: %s seen twice", p, r.Offset, v)
			}
			seen[v] = true
			n, _ := strconv.Atoi(strings.SplitN(v, "/", 2)[0])
			got[n]++
		}
	}
	counts := map[string]int{}
	for n := 0; n < txns; n++ {
		o := outcome[n]
		counts[o]++
		switch {
		case got[n] != 0 && got[n] != 6*perPart:
			t.Errorf("transaction %d (%s): %d of its %d records visible", n, o, got[n], 6*perPart)
		case o == "committed" && got[n] == 0:
			t.Errorf("committed transaction %d is not visible", n)
		case o == "aborted" && got[n] != 0:
			t.Errorf("aborted transaction %d is visible", n)
		}
	}
	t.Logf("%d transactions (%v), %d agents killed; read_committed: every transaction whole or absent", txns, counts, kills)
	if kills < 10 {
		t.Fatalf("only %d kills", kills)
	}
}

// listEnds lists the latest offsets of topic's partitions under isolation
// level iso (1: the last stable offsets).
func listEnds(t *testing.T, cl *kgo.Client, topic string, iso int8) map[int32]int64 {
	t.Helper()
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, mt)
	mresp, err := md.RequestWith(context.Background(), cl)
	if err != nil || len(mresp.Topics) != 1 {
		return nil
	}
	out := map[int32]int64{}
	for _, mp := range mresp.Topics[0].Partitions {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = mp.Partition, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			return nil
		}
		out[mp.Partition] = resp.Topics[0].Partitions[0].Offset
	}
	return out
}

// readCommitted reads every partition of topic from 0 under read_committed
// until a fetch reaches end (the last stable offsets): records are
// returned, markers and aborted records are not.
func readCommitted(t *testing.T, seeds []string, topic string, end map[int32]int64) map[int32][]*kgo.Record {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range end {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	out := map[int32][]*kgo.Record{}
	quiet := 0
	deadline := time.Now().Add(60 * time.Second)
	for quiet < 10 && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], r)
			n++
		})
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return out
}
