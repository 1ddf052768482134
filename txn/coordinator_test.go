package txn_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/txn"
)

// The coordinator's state machine on a real (SQLite) metastore; the
// topic catalog is a map, and nobody writes markers unless the test
// retires them, so transactions stay in their Prepare states until then.

type env struct {
	t     testing.TB
	store metastore.Store
	c     *txn.Coordinator
	now   time.Time
	topic metastore.Topic
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	s, err := metaopen.Metastore(ctx, "sqlite://"+filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{t: t, store: s, now: time.Now()}
	e.topic = metastore.Topic{ID: metastore.TopicID{1}, Name: "t", Partitions: 2, ReplicationFactor: 1}
	if err := s.CreateTopic(ctx, e.topic); err != nil {
		t.Fatal(err)
	}
	e.c = txn.New(txn.Config{Store: s, MaxTimeout: time.Minute, Now: func() time.Time { return e.now },
		Resolve: func(topic string, p int32) (metastore.TopicID, bool) {
			return e.topic.ID, topic == "t" && p >= 0 && p < 2
		}})
	return e
}

// retire deletes every pending marker of the partitions, as the flush
// committing them would.
func (e *env) retire() {
	e.t.Helper()
	ctx := context.Background()
	for p := int32(0); p < 2; p++ {
		if _, err := e.store.Claim(ctx, "agent", e.topic.ID, p, e.epoch(p)); err != nil {
			e.t.Fatal(err)
		}
	}
	ms, err := e.store.OwnedTxnMarkers(ctx, "agent")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		parts, _ := e.store.Partitions(ctx, e.topic.ID)
		pt := parts[m.Partition]
		pc := metastore.PartitionCommit{TopicID: m.TopicID, Partition: m.Partition, Epoch: pt.Epoch,
			PrevHighWatermark: pt.HighWatermark, NewHighWatermark: pt.HighWatermark + 1,
			Rows:    []metastore.IndexRow{{BaseOffset: pt.HighWatermark, LastOffset: pt.HighWatermark, Size: 10}},
			Markers: []metastore.MarkerDone{{ProducerID: m.ProducerID, CoordinatorEpoch: m.CoordinatorEpoch}}}
		if err := e.store.CommitFlush(ctx, metastore.Flush{AgentID: "agent", ObjectKey: "obj-" + time.Now().String(), ObjectSize: 10,
			Partitions: []metastore.PartitionCommit{pc}}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) epoch(p int32) int32 {
	parts, err := e.store.Partitions(context.Background(), e.topic.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return parts[p].Epoch
}

func (e *env) state(id string) metastore.Txn {
	e.t.Helper()
	tx, err := e.c.Describe(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

var both = []metastore.TxnPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}

func TestInitAddEndRetry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.c.InitProducerID(ctx, "x", 2*60*1000, -1, -1); !errors.Is(err, txn.ErrInvalidTimeout) {
		t.Fatalf("timeout above the maximum: %v", err)
	}
	pid, epoch, err := e.c.InitProducerID(ctx, "x", 10000, -1, -1)
	if err != nil || epoch != 0 {
		t.Fatalf("init: %d %d %v", pid, epoch, err)
	}
	if err := e.c.AddPartitions(ctx, "x", pid, epoch, []metastore.TxnPartition{{Topic: "nope", Partition: 0}}); !errors.Is(err, txn.ErrUnknownTopic) {
		t.Fatalf("unknown partition: %v", err)
	}
	if err := e.c.AddPartitions(ctx, "x", pid+1, epoch, both); !errors.Is(err, txn.ErrInvalidMapping) {
		t.Fatalf("wrong producer id: %v", err)
	}
	if err := e.c.AddPartitions(ctx, "x", pid, epoch, both); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Verify(ctx, "x", pid, epoch, "t", 1, false); err != nil {
		t.Fatalf("verify an added partition: %v", err)
	}
	// EndTxn v5: the epoch bumps, a retry with the old pair gets the same
	// answer, the other outcome is refused.
	npid, nepoch, err := e.c.EndTxn(ctx, "x", pid, epoch, true, true)
	if err != nil || npid != pid || nepoch != 1 {
		t.Fatalf("end v5: %d %d %v", npid, nepoch, err)
	}
	if rp, re, err := e.c.EndTxn(ctx, "x", pid, epoch, true, true); err != nil || rp != pid || re != 1 {
		t.Fatalf("retried end v5: %d %d %v", rp, re, err)
	}
	if _, _, err := e.c.EndTxn(ctx, "x", pid, epoch, false, true); err == nil {
		t.Fatal("an abort retried after a commit succeeded")
	}
	if st := e.state("x"); st.State != metastore.TxnPrepareCommit || st.CoordinatorEpoch != 1 {
		t.Fatalf("after end: %+v", st)
	}
	// The next transaction waits for the markers.
	if err := e.c.AddPartitions(ctx, "x", pid, 1, both); !errors.Is(err, txn.ErrConcurrent) {
		t.Fatalf("add while the markers are pending: %v", err)
	}
	if _, _, err := e.c.EndTxn(ctx, "x", pid, 1, false, true); !errors.Is(err, txn.ErrConcurrent) {
		t.Fatalf("empty abort while the markers are pending: %v", err)
	}
	e.retire()
	if st := e.state("x"); st.State != metastore.TxnCompleteCommit {
		t.Fatalf("after the markers: %s", st.State)
	}
	// An empty abort under v5 bumps the epoch and writes no markers.
	if _, ep, err := e.c.EndTxn(ctx, "x", pid, 1, false, true); err != nil || ep != 2 {
		t.Fatalf("empty abort: %d %v", ep, err)
	}
	if n, _ := e.store.TxnMarkersLeft(ctx, "x"); n != 0 {
		t.Fatalf("an empty abort left %d markers", n)
	}
	// Old protocol (v4): no bump; a retry of the same end succeeds.
	if err := e.c.AddPartitions(ctx, "x", pid, 2, both[:1]); err != nil {
		t.Fatal(err)
	}
	if _, ep, err := e.c.EndTxn(ctx, "x", pid, 2, false, false); err != nil || ep != 2 {
		t.Fatalf("end v4: %d %v", ep, err)
	}
	if _, _, err := e.c.EndTxn(ctx, "x", pid, 2, false, false); !errors.Is(err, txn.ErrConcurrent) {
		t.Fatalf("retried end v4 while pending: %v", err)
	}
	e.retire()
	if _, _, err := e.c.EndTxn(ctx, "x", pid, 2, false, false); err != nil {
		t.Fatalf("retried end v4 once complete: %v", err)
	}
	if _, _, err := e.c.EndTxn(ctx, "x", pid, 2, true, false); !errors.Is(err, txn.ErrInvalidState) {
		t.Fatalf("commit after an abort: %v", err)
	}
}

func TestFencingAndTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid, _, err := e.c.InitProducerID(ctx, "x", 10000, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.AddPartitions(ctx, "x", pid, 0, both); err != nil {
		t.Fatal(err)
	}
	// A new instance of the id: the open transaction is aborted with the
	// epoch bumped (markers carry it); the new producer retries.
	if _, _, err := e.c.InitProducerID(ctx, "x", 10000, -1, -1); !errors.Is(err, txn.ErrConcurrent) {
		t.Fatalf("init over an open transaction: %v", err)
	}
	ms, _ := e.store.Txn(ctx, "x")
	if ms.State != metastore.TxnPrepareAbort || ms.ProducerEpoch != 1 {
		t.Fatalf("after the fencing init: %+v", ms)
	}
	e.retire()
	_, epoch, err := e.c.InitProducerID(ctx, "x", 10000, -1, -1)
	if err != nil || epoch != 2 {
		t.Fatalf("init after the abort: %d %v", epoch, err)
	}
	// The zombie (epoch 0) is fenced everywhere.
	if err := e.c.AddPartitions(ctx, "x", pid, 0, both); !errors.Is(err, txn.ErrFenced) {
		t.Fatalf("zombie add: %v", err)
	}
	if _, _, err := e.c.EndTxn(ctx, "x", pid, 0, true, false); !errors.Is(err, txn.ErrFenced) {
		t.Fatalf("zombie end: %v", err)
	}
	if _, _, err := e.c.InitProducerID(ctx, "x", 10000, pid, 0); !errors.Is(err, txn.ErrFenced) {
		t.Fatalf("zombie KIP-360 init: %v", err)
	}

	// A timeout aborts with the epoch bumped; the producer recovers with
	// its own pair (KIP-360).
	if err := e.c.AddPartitions(ctx, "x", pid, epoch, both); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(11 * time.Second)
	if err := e.c.Tick(ctx, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if st := e.state("x"); st.State != metastore.TxnPrepareAbort || st.ProducerEpoch != epoch+1 {
		t.Fatalf("after the timeout: %+v", st)
	}
	if _, _, err := e.c.EndTxn(ctx, "x", pid, epoch, true, false); !errors.Is(err, txn.ErrFenced) {
		t.Fatalf("commit after the timeout: %v", err)
	}
	e.retire()
	if err := e.c.Tick(ctx, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.store.Txn(ctx, "x"); st.State != metastore.TxnCompleteAbort {
		t.Fatalf("tick did not complete the abort: %s", st.State)
	}
	_, ep, err := e.c.InitProducerID(ctx, "x", 10000, pid, epoch)
	if err != nil || ep != epoch+2 {
		t.Fatalf("KIP-360 recovery: %d %v", ep, err)
	}
}
