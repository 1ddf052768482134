package flush_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/flush"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlite"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/objstore/mem"
)

// rig is one agent's partition log and flusher on a real SQLite
// metastore and an in-memory object store, with no Kafka listener.
type rig struct {
	t      *testing.T
	meta   *testkit.FaultStore
	objs   *mem.Store
	reg    *partlog.Registry
	fl     *flush.Flusher
	topics map[string]metastore.Topic
}

const self = "agent-self"

func newRig(t *testing.T, topics map[string]int32) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := wal.Open(wal.Options{Dir: filepath.Join(dir, "wal")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	log := testkit.Logger()
	r := &rig{t: t, meta: testkit.NewFaultStore(st), objs: mem.New(), topics: map[string]metastore.Topic{}}
	r.reg = partlog.NewRegistry(partlog.Config{}, partlog.Deps{AgentID: self, Meta: r.meta, WAL: w, Logger: log})
	for name, n := range topics {
		mt := metastore.Topic{Name: name, Partitions: n, ReplicationFactor: 1, CreatedAt: time.Now()}
		mt.ID[0], mt.ID[15] = byte(len(r.topics)+1), 1
		if err := st.CreateTopic(ctx, mt); err != nil {
			t.Fatal(err)
		}
		if _, err := r.reg.AddTopic(ctx, mt); err != nil {
			t.Fatal(err)
		}
		r.topics[name] = mt
		for i := int32(0); i < n; i++ {
			r.claim(self, name, i)
		}
	}
	r.fl, err = flush.New(flush.Config{AgentID: self, FlushInterval: time.Hour, FlushMinInterval: time.Hour}, flush.Deps{Registry: r.reg, Meta: r.meta, Objects: r.objs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r.fl.Start()
	t.Cleanup(r.fl.Stop)
	return r
}

func (r *rig) part(topic string, i int32) *partlog.Partition {
	return r.reg.Topic(topic).Partition(i)
}

// claim claims the partition for agent in the metastore at its current
// epoch; when agent is this one, the partition log learns of it too.
func (r *rig) claim(agent, topic string, i int32) int32 {
	r.t.Helper()
	ctx := context.Background()
	id := r.topics[topic].ID
	rows, err := r.meta.Partitions(ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	row, err := r.meta.Claim(ctx, agent, id, i, rows[i].Epoch)
	if err != nil {
		r.t.Fatal(err)
	}
	if agent == self {
		states, err := r.meta.ProducerStates(ctx, id, i)
		if err != nil {
			r.t.Fatal(err)
		}
		r.part(topic, i).Claimed(row, states)
	}
	return row.Epoch
}

// appendN appends one batch of n records and waits for its fsync.
func (r *rig) appendN(topic string, i int32, n int) partlog.Appended {
	r.t.Helper()
	recs := make([]record.Record, n)
	for j := range recs {
		recs[j] = record.Record{OffsetDelta: int32(j), Value: []byte{byte(j)}}
	}
	now := time.Now().UnixMilli()
	b, err := record.Build(record.Header{FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, record.CodecNone)
	if err != nil {
		r.t.Fatal(err)
	}
	app, err := r.part(topic, i).Append(b, now)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.part(topic, i).AwaitDurable(context.Background(), app, 1); err != nil {
		r.t.Fatal(err)
	}
	return app
}

func (r *rig) flushAll() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.fl.FlushAll(ctx); err != nil {
		r.t.Fatalf("flush: %v", err)
	}
}

// stored is the partition's row in the metastore.
func (r *rig) stored(topic string, i int32) metastore.Partition {
	r.t.Helper()
	rows, err := r.meta.Partitions(context.Background(), r.topics[topic].ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return rows[i]
}

// TestLostAndReclaimedInOneGeneration is the regression test for
// acknowledged records dropped when a partition is lost and claimed again
// within one open write-ahead generation: the planner keyed the
// partition's plan on the epoch of its first entry and skipped the later
// epoch's batches, then released the generation, so batches acknowledged
// under the current epoch were never committed, their buffered bytes never
// subtracted, and a release waiting for them waited forever.
func TestLostAndReclaimedInOneGeneration(t *testing.T) {
	r := newRig(t, map[string]int32{"t": 1})
	p := r.part("t", 0)
	old := r.appendN("t", 0, 3) // offsets 0-2 under the first epoch, acks=1
	// Nothing is sealed yet (FlushMinInterval is an hour). Another agent
	// takes the partition over, then this agent claims it back.
	r.claim("agent-other", "t", 0)
	epoch := r.claim(self, "t", 0)
	if old.Epoch == epoch {
		t.Fatalf("epoch did not move: %d", epoch)
	}
	cur := r.appendN("t", 0, 5) // offsets 0-4 again, under the new epoch
	if cur.BaseOffset != 0 || cur.LastOffset != 4 {
		t.Fatalf("new epoch appended at %d-%d, want 0-4", cur.BaseOffset, cur.LastOffset)
	}
	r.flushAll()
	if got := r.stored("t", 0); got.HighWatermark != 5 || got.Epoch != epoch || got.Owner != self {
		t.Fatalf("metastore after flush: %+v, want high watermark 5 at epoch %d", got, epoch)
	}
	if p.HighWatermark() != 5 {
		t.Fatalf("high watermark %d, want 5", p.HighWatermark())
	}
	if p.Buffered() != 0 || r.reg.Buffered() != 0 {
		t.Fatalf("buffered bytes after flush: partition %d, total %d; want 0", p.Buffered(), r.reg.Buffered())
	}
	// The records read back are the new epoch's five.
	data, err := p.Read(context.Background(), 0, 1<<20, p.HighWatermark())
	if err != nil {
		t.Fatal(err)
	}
	h, err := record.ParseHeader(data)
	if err != nil || h.NumRecords != 5 || h.PartitionLeaderEpoch != epoch {
		t.Fatalf("stored batch %+v (%v), want 5 records of epoch %d", h, err, epoch)
	}
	// An acks=all waiter of the lost epoch is never acknowledged, though
	// offsets past its last one are committed now.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.AwaitDurable(ctx, partlog.Appended{LastOffset: old.LastOffset, Epoch: old.Epoch}, -1); err == nil {
		t.Fatal("a batch of the lost epoch was acknowledged")
	}
}

// TestFencedCommitDiscards: the partition is taken over between append
// and commit; the commit is refused, the batch is dropped and counted,
// the partition is no longer served, and nothing stays buffered.
func TestFencedCommitDiscards(t *testing.T) {
	r := newRig(t, map[string]int32{"t": 1})
	p := r.part("t", 0)
	r.appendN("t", 0, 2)
	r.flushAll()
	release := r.meta.HoldCommits()
	app := r.appendN("t", 0, 3)
	go func() {
		r.claim("agent-other", "t", 0)
		release()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.AwaitDurable(ctx, app, -1); err == nil {
		t.Fatal("acks=all answered for a fenced commit")
	}
	r.flushAll()
	if got := r.stored("t", 0); got.HighWatermark != 2 || got.Owner != "agent-other" {
		t.Fatalf("metastore: %+v, want high watermark 2 owned by agent-other", got)
	}
	if st := p.Status(); st.Serving || p.Buffered() != 0 || r.reg.Buffered() != 0 {
		t.Fatalf("after a fenced commit: status %+v buffered %d/%d", st, p.Buffered(), r.reg.Buffered())
	}
}

// TestAmbiguousCommitIsPublished: a commit that succeeded but whose answer
// was lost is recognised on retry (reconcile) and published once.
func TestAmbiguousCommitIsPublished(t *testing.T) {
	r := newRig(t, map[string]int32{"t": 2})
	r.meta.AmbiguousCommits(1)
	r.appendN("t", 0, 4)
	r.appendN("t", 1, 1)
	r.flushAll()
	for i, want := range []int64{4, 1} {
		if got := r.stored("t", int32(i)).HighWatermark; got != want {
			t.Fatalf("partition %d: stored high watermark %d, want %d", i, got, want)
		}
		if got := r.part("t", int32(i)).HighWatermark(); got != want {
			t.Fatalf("partition %d: high watermark %d, want %d", i, got, want)
		}
	}
	// One real commit, then the retry's refused commit (conflict) that
	// led to reconciliation; never a second write of the same offsets.
	if n := r.meta.Commits(); n != 2 {
		t.Fatalf("%d commits reached the metastore, want 2", n)
	}
	r.appendN("t", 0, 1)
	r.flushAll()
	if got := r.stored("t", 0).HighWatermark; got != 5 {
		t.Fatalf("after the next flush: high watermark %d, want 5", got)
	}
}

// TestFailedCommitsRetry: failed commits are retried with the same object
// until they succeed, and the flusher reports how long it has failed.
func TestFailedCommitsRetry(t *testing.T) {
	r := newRig(t, map[string]int32{"t": 1})
	r.meta.FailCommits(2)
	r.appendN("t", 0, 3)
	r.flushAll()
	if got := r.stored("t", 0).HighWatermark; got != 3 {
		t.Fatalf("high watermark %d, want 3", got)
	}
	if r.fl.FailingFor() != 0 {
		t.Fatalf("still failing for %v after a success", r.fl.FailingFor())
	}
	objs, err := r.objs.List(context.Background(), "")
	if err != nil || len(objs) != 1 {
		t.Fatalf("objects %v (%v), want the one object built once", objs, err)
	}
}

// objectOffsets reads the partition's index rows and, through each row's
// object and byte range in the object store, the offsets of the batches
// stored there; it returns the offsets read (in order) and the rows.
func (r *rig) objectOffsets(topic string, i int32) ([]int64, []metastore.IndexRow) {
	r.t.Helper()
	ctx := context.Background()
	rows, err := r.meta.IndexRows(ctx, r.topics[topic].ID, i, 0, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	var offsets []int64
	for _, row := range rows {
		data, err := r.objs.GetRange(ctx, row.ObjectKey, row.Pos, row.Size)
		if err != nil {
			r.t.Fatalf("row %+v: %v", row, err)
		}
		for len(data) > 0 {
			batch, rest, err := record.Next(data)
			if err != nil {
				r.t.Fatalf("row %+v: %v", row, err)
			}
			h, err := record.ParseHeader(batch)
			if err != nil {
				r.t.Fatal(err)
			}
			for o := h.BaseOffset; o <= h.LastOffset(); o++ {
				offsets = append(offsets, o)
			}
			data = rest
		}
	}
	return offsets, rows
}

// dense reports whether offsets are exactly 0..n-1.
func dense(offsets []int64, n int64) bool {
	if int64(len(offsets)) != n {
		return false
	}
	for i, o := range offsets {
		if o != int64(i) {
			return false
		}
	}
	return true
}

// TestStaleCommitUploadsAgain: the metastore refuses a plan's commit
// because its object was uploaded too long ago (ErrStaleObject); the
// flusher uploads the same bytes under a new key and commits that before
// the plan queued behind it. Every record is committed once, the rows
// point at the new object, and none at the refused one.
func TestStaleCommitUploadsAgain(t *testing.T) {
	r := newRig(t, map[string]int32{"t": 2})
	ctx := context.Background()
	var (
		mu       sync.Mutex
		staleKey string   // the first plan's first key: always refused
		calls    []string // object key of each commit attempt
		uploaded = map[string]time.Time{}
	)
	r.meta.StaleObjects(func(fl metastore.Flush) bool {
		mu.Lock()
		defer mu.Unlock()
		if staleKey == "" {
			staleKey = fl.ObjectKey
		}
		calls = append(calls, fl.ObjectKey)
		uploaded[fl.ObjectKey] = fl.UploadedAt
		return fl.ObjectKey == staleKey
	})
	// Two plans in the pipeline: the first is refused, the second waits.
	release := r.meta.HoldCommits()
	r.appendN("t", 0, 3)
	r.appendN("t", 1, 2)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		done <- r.fl.FlushAll(ctx)
	}()
	w := r.reg.WAL()
	testkit.Await(t, 5*time.Second, "the first generation sealed", func() bool { return w.OpenBytes() == 0 })
	r.appendN("t", 0, 4)
	testkit.Await(t, 5*time.Second, "the second generation sealed", func() bool { return w.OpenBytes() == 0 })
	release()
	if err := <-done; err != nil {
		t.Fatalf("flush: %v", err)
	}

	mu.Lock()
	attempts, uploadedAt, refused := slices.Clone(calls), maps.Clone(uploaded), staleKey
	mu.Unlock()
	if len(attempts) != 3 || attempts[0] != refused || attempts[1] == refused || attempts[2] == refused || attempts[1] == attempts[2] {
		t.Fatalf("commit attempts %q, want the refused key %q, its new copy, then the second plan", attempts, refused)
	}
	newKey, secondKey := attempts[1], attempts[2]
	if n := r.meta.Commits(); n != 2 {
		t.Fatalf("%d commits reached the metastore, want 2 (the copy and the second plan)", n)
	}
	if at, again := uploadedAt[refused], uploadedAt[newKey]; at.IsZero() || !again.After(at) || time.Since(again) > time.Minute {
		t.Errorf("UploadedAt of the refused object %v and of its copy %v: want both set, the copy's later", at, again)
	}
	// The copy is the same bytes under the new key; the refused object
	// is left for the orphan sweeper.
	old, err := r.objs.Get(ctx, refused)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.objs.Get(ctx, newKey)
	if err != nil || !bytes.Equal(cp, old) {
		t.Fatalf("the new object holds %d bytes (%v), want the refused object's %d", len(cp), err, len(old))
	}

	for i, n := range []int64{7, 2} {
		p := int32(i)
		if got := r.stored("t", p).HighWatermark; got != n {
			t.Fatalf("partition %d: stored high watermark %d, want %d", p, got, n)
		}
		if got := r.part("t", p).HighWatermark(); got != n {
			t.Fatalf("partition %d: high watermark %d, want %d", p, got, n)
		}
		offsets, rows := r.objectOffsets("t", p)
		if !dense(offsets, n) {
			t.Fatalf("partition %d: offsets read through the index %v, want 0..%d once each", p, offsets, n-1)
		}
		for _, row := range rows {
			want := newKey
			if row.BaseOffset >= 3 {
				want = secondKey
			}
			if row.ObjectKey != want {
				t.Errorf("partition %d: row %d-%d points at %q, want %q", p, row.BaseOffset, row.LastOffset, row.ObjectKey, want)
			}
		}
	}
	if r.reg.Buffered() != 0 {
		t.Fatalf("buffered bytes after flush: %d", r.reg.Buffered())
	}
	// The chain goes on from there.
	r.appendN("t", 1, 1)
	r.flushAll()
	if got := r.stored("t", 1).HighWatermark; got != 3 {
		t.Fatalf("after the next flush: high watermark %d, want 3", got)
	}
}

// TestStaleAfterAmbiguousCommit: a commit succeeds but its answer is
// lost, and the retry is refused as stale (the metastore checks the
// upload's age first). The flusher must find the committed partitions
// and publish them under the key their rows point at, not upload again.
func TestStaleAfterAmbiguousCommit(t *testing.T) {
	r := newRig(t, map[string]int32{"t": 1})
	var (
		mu    sync.Mutex
		calls []string
	)
	r.meta.AmbiguousCommits(1)
	r.meta.StaleObjects(func(fl metastore.Flush) bool {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, fl.ObjectKey)
		// Every later attempt with the first key; a copy would pass.
		return len(calls) > 1 && fl.ObjectKey == calls[0]
	})
	r.appendN("t", 0, 4)
	r.flushAll()
	mu.Lock()
	if len(calls) != 2 || calls[0] != calls[1] {
		t.Fatalf("commit attempts %q, want one key twice: committed, then refused, and no copy", calls)
	}
	key := calls[0]
	mu.Unlock()
	if got := r.part("t", 0).HighWatermark(); got != 4 {
		t.Fatalf("high watermark %d, want 4", got)
	}
	offsets, rows := r.objectOffsets("t", 0)
	if !dense(offsets, 4) {
		t.Fatalf("offsets read through the index %v, want 0..3", offsets)
	}
	for _, row := range rows {
		if row.ObjectKey != key {
			t.Fatalf("row points at %q, want %q", row.ObjectKey, key)
		}
	}
	if objs, err := r.objs.List(context.Background(), ""); err != nil || len(objs) != 1 {
		t.Fatalf("objects %v (%v), want only the committed one", objs, err)
	}
	// Reading through the index finds the published tail chunk: it was
	// published under the key the rows hold.
	r.objs.SetFault(func(op, key string) error {
		if op == mem.OpGetRange || op == mem.OpGet {
			return errors.New("injected: the tail should have served this")
		}
		return nil
	})
	defer r.objs.SetFault(nil)
	if _, err := r.part("t", 0).Read(context.Background(), 0, 1<<20, 4); err != nil {
		t.Fatalf("read: %v", err)
	}
}
