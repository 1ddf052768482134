package main

// Durability promises (DESIGN.md, "Write path" and "Promises"), proven
// against the real binary with kill -9:
//
//   - acks=0/1: the answer goes out after the fsync of the write-ahead
//     buffer, so acknowledged records survive a crash of the agent.
//   - acks=all: the answer goes out after upload and metastore commit, so
//     acknowledged records survive even the loss of the agent's disk.
//   - a graceful stop (SIGTERM) uploads everything and exits 0.
//   - offsets are dense per partition and never reused.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/internal/testkit"
)

const (
	crashRecords    = 20000 // records the producer tries to send
	crashKillAfter  = 5000  // SIGKILL once this many are acknowledged
	crashPartitions = 3
)

// TestCrashAcks1: records acknowledged with acks=1 survive kill -9 of the
// agent in the middle of a produce stream.
func TestCrashAcks1(t *testing.T) {
	t.Parallel()
	// Uploads happen only by size (every 64KiB, a few thousand records),
	// never by time: at the kill some acknowledged records are in object
	// storage and the newest ones only in the write-ahead buffer, so both
	// the committed data and buffer recovery are tested.
	p := startAgent(t, agentOpts{args: []string{"--flush-interval", "1h", "--flush-bytes", "64KiB"}})
	testkit.CreateTopic(t, p.addr, "crash", crashPartitions, nil)

	res := produceAndKill(t, p, "crash", "before-kill", crashKillAfter,
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())

	// The restarted agent uploads what it recovers on its default
	// 100ms interval.
	p = p.restart()
	logRecovery(t, p)
	verifyRecovered(t, p, "crash", res)
}

// TestCrashAcksAllLosesDisk: records acknowledged with acks=all survive
// kill -9 followed by the loss of the agent's whole write-ahead buffer.
func TestCrashAcksAllLosesDisk(t *testing.T) {
	t.Parallel()
	p := startAgent(t, agentOpts{})
	testkit.CreateTopic(t, p.addr, "crash", crashPartitions, nil)

	res := produceAndKill(t, p, "crash", "before-kill", crashKillAfter, kgo.RequiredAcks(kgo.AllISRAcks()))

	walDir := filepath.Join(p.dataDir, "wal")
	if _, err := os.Stat(walDir); err != nil {
		t.Fatalf("expected a write-ahead buffer at %s: %v", walDir, err)
	}
	if err := os.RemoveAll(walDir); err != nil {
		t.Fatal(err)
	}
	p = p.restart()
	logRecovery(t, p)
	verifyRecovered(t, p, "crash", res)
}

// logRecovery logs what the restarted agent says it recovered from its
// write-ahead buffer, to show which path a run exercised.
func logRecovery(t *testing.T, p *agentProc) {
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, "write-ahead") || strings.Contains(l, "discarded") {
			t.Logf("restarted agent: %s", l)
		}
	}
}

// TestCrashTwiceAcks1: acknowledged records that a restarted agent
// recovered from its write-ahead buffer, and has not uploaded yet, survive
// a second kill -9.
func TestCrashTwiceAcks1(t *testing.T) {
	t.Parallel()
	// No timed uploads, and 1MiB between size-triggered ones: after the
	// first restart the recovered records wait in the buffer again.
	args := []string{"--flush-interval", "1h", "--flush-bytes", "1MiB"}
	p := startAgent(t, agentOpts{args: args})
	testkit.CreateTopic(t, p.addr, "twice", crashPartitions, nil)
	acks1 := []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}

	first := produceAndKill(t, p, "twice", "first-kill", 3000, acks1...)
	p = p.restart(args...)
	logRecovery(t, p)
	second := produceAndKill(t, p, "twice", "second-kill", 3000, acks1...)

	p = p.restart()
	logRecovery(t, p)
	verifyRecovered(t, p, "twice", first, second)
}

// TestGracefulStopMidStream: SIGTERM while a producer is sending and a flush
// is running; the agent exits 0 only with everything it acknowledged in
// object storage. Regression test for Shutdown returning (exit 0) while the
// flush loop's in-flight flush, already sealed, was then cancelled.
func TestGracefulStopMidStream(t *testing.T) {
	t.Parallel()
	// Size-triggered flushes back to back (the 1KiB minimum), so the
	// SIGTERM nearly always lands while the flusher is committing.
	p := startAgent(t, agentOpts{args: []string{"--flush-interval", "1h", "--flush-bytes", "1KiB"}})
	testkit.CreateTopic(t, p.addr, "midstream", crashPartitions, nil)
	res := produceAndSignal(t, p, "midstream", "before-term", crashKillAfter, syscall.SIGTERM,
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err := os.RemoveAll(filepath.Join(p.dataDir, "wal")); err != nil {
		t.Fatal(err)
	}
	p = p.restart()
	verifyRecovered(t, p, "midstream", res)
}

// TestGracefulStopFlushes: after SIGTERM the agent exits 0 having uploaded
// every acknowledged record, so even without its write-ahead buffer a new
// agent serves all of them.
func TestGracefulStopFlushes(t *testing.T) {
	t.Parallel()
	// With a 1-minute flush interval nothing is uploaded before SIGTERM:
	// only the shutdown flush can have put the records in object storage.
	p := startAgent(t, agentOpts{args: []string{"--flush-interval", "1m"}})
	testkit.CreateTopic(t, p.addr, "graceful", crashPartitions, nil)

	res := produceAndKill(t, p, "graceful", "before-stop", 0, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if res.ackedN != crashRecords {
		t.Fatalf("%d of %d records acknowledged before shutdown, want all", res.ackedN, crashRecords)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if err := os.RemoveAll(filepath.Join(p.dataDir, "wal")); err != nil {
		t.Fatal(err)
	}
	p = p.restart()
	got := verifyRecovered(t, p, "graceful", res)
	if got != crashRecords {
		t.Fatalf("recovered %d records, want exactly %d", got, crashRecords)
	}
}

// produceResult says which records the agent acknowledged.
type produceResult struct {
	acked  []string // values of the acknowledged records
	ackedN int
}

// produceAndKill produces crashRecords records (keys spread over the
// partitions, values unique: round-NNNNNN) with the given acks settings, and sends
// SIGKILL to the agent from the callback of the killAfter-th
// acknowledgement, i.e. while later records are in flight. With
// killAfter 0 it does not kill and waits for every record to be answered.
// Either way it returns once every record has a final outcome.
func produceAndKill(t *testing.T, p *agentProc, topic, round string, killAfter int, opts ...kgo.Opt) produceResult {
	t.Helper()
	return produceAndSignal(t, p, topic, round, killAfter, syscall.SIGKILL, opts...)
}

// produceAndSignal is produceAndKill with another signal: with SIGTERM the
// agent must exit 0.
func produceAndSignal(t *testing.T, p *agentProc, topic, round string, killAfter int, sig syscall.Signal, opts ...kgo.Opt) produceResult {
	t.Helper()
	opts = append(opts,
		kgo.DefaultProduceTopic(topic),
		// A bounded window of unanswered records paces the producer by
		// the agent's acknowledgements, so the kill lands mid-stream.
		kgo.MaxBufferedRecords(1000),
		kgo.RecordDeliveryTimeout(30*time.Second),
	)
	cl := newClient(t, p.addr, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		mu        sync.Mutex
		acked     []string
		ackedN    atomic.Int64
		failedN   atomic.Int64
		answered  sync.WaitGroup
		killOnce  sync.Once
		killed    = make(chan struct{})
		producing = make(chan struct{})
	)
	go func() {
		defer close(producing)
		for i := 0; i < crashRecords && ctx.Err() == nil; i++ {
			answered.Add(1)
			r := &kgo.Record{Key: []byte(fmt.Sprintf("key-%03d", i%101)), Value: []byte(fmt.Sprintf("%s-%06d", round, i))}
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				defer answered.Done()
				if err != nil {
					failedN.Add(1)
					return
				}
				mu.Lock()
				acked = append(acked, string(r.Value))
				mu.Unlock()
				if n := ackedN.Add(1); killAfter > 0 && n >= int64(killAfter) {
					killOnce.Do(func() {
						p.cmd.Process.Signal(sig)
						close(killed)
					})
				}
			})
		}
	}()

	if killAfter > 0 {
		select {
		case <-killed:
		case <-time.After(2 * time.Minute):
			t.Fatalf("only %d records acknowledged (%d failed) after 2 minutes; wanted %d before the kill",
				ackedN.Load(), failedN.Load(), killAfter)
		}
		code := p.wait() // the callback sent the signal
		switch {
		case sig == syscall.SIGKILL && code != -1:
			t.Fatalf("agent exit code %d after SIGKILL, want death by signal", code)
		case sig == syscall.SIGTERM && code != 0:
			t.Fatalf("agent exit code %d after SIGTERM, want 0", code)
		}
		// Stop producing and fail whatever is still buffered: nothing
		// more can be acknowledged by a dead agent.
		cancel()
		<-producing
		cl.Close()
	} else {
		<-producing
	}
	allAnswered := make(chan struct{})
	go func() { answered.Wait(); close(allAnswered) }()
	select {
	case <-allAnswered:
	case <-time.After(2 * time.Minute):
		t.Fatalf("records still unanswered after 2 minutes (%d acked, %d failed)", ackedN.Load(), failedN.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	res := produceResult{acked: acked, ackedN: int(ackedN.Load())}
	t.Logf("%s: produced to %s: %d acknowledged, %d failed, %d never sent (kill after %d)",
		round, topic, res.ackedN, failedN.Load(), crashRecords-res.ackedN-int(failedN.Load()), killAfter)
	if killAfter > 0 && res.ackedN >= crashRecords {
		t.Fatalf("all %d records were acknowledged before the kill took effect; the test proved nothing", crashRecords)
	}
	return res
}

// verifyRecovered produces a few more records to the restarted agent (to
// prove offsets are not reused), reads the topic from offset 0 and checks
// that every acknowledged record is there exactly once and offsets are
// dense from 0 in every partition. It returns how many records from
// before the restart it found.
func verifyRecovered(t *testing.T, p *agentProc, topic string, results ...produceResult) int {
	t.Helper()
	const after = 300
	cl := newClient(t, p.addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	var rs []*kgo.Record
	for i := 0; i < after; i++ {
		rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("key-%03d", i%101)), Value: []byte(fmt.Sprintf("after-%06d", i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}

	must := map[string]bool{}
	acked := 0
	for _, res := range results {
		for _, v := range res.acked {
			must[v] = true
		}
		acked += res.ackedN
	}
	for _, r := range rs {
		must[string(r.Value)] = true
	}
	recs := consumeToEnd(t, p.addr, topic, must, time.Minute)

	count := map[string]int{}
	next := map[int32]int64{}
	for _, r := range recs {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d where %d was expected (offsets must be dense from 0)", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
		count[string(r.Value)]++
	}
	var missing, dups []string
	for v := range must {
		switch count[v] {
		case 0:
			missing = append(missing, v)
		case 1:
		default:
			dups = append(dups, fmt.Sprintf("%s×%d", v, count[v]))
		}
	}
	sort.Strings(missing)
	sort.Strings(dups)
	if len(missing) > 0 {
		t.Errorf("%d acknowledged records lost, e.g. %v", len(missing), missing[:min(len(missing), 10)])
	}
	if len(dups) > 0 {
		t.Errorf("%d acknowledged records duplicated, e.g. %v", len(dups), dups[:min(len(dups), 10)])
	}
	before := len(recs) - after
	t.Logf("after restart: %d acknowledged, %d records before the restart recovered (%d beyond the acknowledged ones), offsets per partition %v",
		acked, before, before-acked, next)
	return before
}

// consumeToEnd reads topic from offset 0 until every value in must has been
// seen and every partition has been read up to its end offset, failing
// after timeout. Records come back in offset order per partition.
func consumeToEnd(t *testing.T, addr, topic string, must map[string]bool, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250*time.Millisecond),
	)
	adm := kadm.NewClient(cl)
	var recs []*kgo.Record
	seen := map[string]bool{}
	missing := len(must)
	next := map[int32]int64{}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if missing == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ends, err := adm.ListEndOffsets(ctx, topic)
			cancel()
			if err == nil {
				err = ends.Error()
			}
			if err != nil {
				lastErr = err
			} else {
				done := true
				ends.Each(func(o kadm.ListedOffset) {
					if next[o.Partition] < o.Offset {
						done = false
					}
				})
				if done {
					return recs
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d records read, %d expected values still missing, read up to %v (last error: %v)",
				timeout, len(recs), missing, next, lastErr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				lastErr = err
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			next[r.Partition] = r.Offset + 1
			if v := string(r.Value); must[v] && !seen[v] {
				seen[v] = true
				missing--
			}
		})
	}
}
