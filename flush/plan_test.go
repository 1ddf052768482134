package flush

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"
)

// catalogStore is the little of a metastore the planner's partitions
// need to load: partitions owned by "self" at epoch 1, no producers.
type catalogStore struct{ parts int32 }

func (s catalogStore) Partitions(_ context.Context, id metastore.TopicID) ([]metastore.Partition, error) {
	var out []metastore.Partition
	for i := int32(0); i < s.parts; i++ {
		out = append(out, metastore.Partition{TopicID: id, Partition: i, Owner: "self", Epoch: 1})
	}
	return out, nil
}
func (catalogStore) ProducerStates(context.Context, metastore.TopicID, int32) ([]metastore.ProducerState, error) {
	return nil, nil
}
func (catalogStore) IndexRows(context.Context, metastore.TopicID, int32, int64, int) ([]metastore.IndexRow, error) {
	return nil, nil
}
func (catalogStore) IndexRowsByTime(context.Context, metastore.TopicID, int32, int64, int) ([]metastore.IndexRow, error) {
	return nil, nil
}
func (catalogStore) MaxTimestampRow(context.Context, metastore.TopicID, int32) (metastore.IndexRow, error) {
	return metastore.IndexRow{}, nil
}

var topicA = metastore.TopicID{0xa}

// entry is a WAL entry of one batch of n records at base, with the value
// size given so index rows can be made to split.
func entry(t *testing.T, part, epoch int32, base int64, n int, valueBytes int) wal.Entry {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{OffsetDelta: int32(i), Value: make([]byte, valueBytes)}
	}
	b, err := record.Build(record.Header{BaseOffset: base, FirstTimestamp: 1000 + base, MaxTimestamp: 1000 + base, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return wal.Entry{TopicID: topicA, Partition: part, Epoch: epoch, Batch: b}
}

func newTestPlanner(t *testing.T, parts int32) (*planner, *partlog.Registry) {
	t.Helper()
	reg := partlog.NewRegistry(partlog.Config{}, partlog.Deps{AgentID: "self", Meta: catalogStore{parts}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := reg.AddTopic(context.Background(), metastore.Topic{Name: "a", ID: topicA, Partitions: parts, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return newPlanner(reg, slog.New(slog.NewTextHandler(io.Discard, nil))), reg
}

type wantPart struct {
	part        int32
	prev, first int64
	last        int64
	batches     int32
	rows        int
}

func checkPlan(t *testing.T, pl *plan, want []wantPart) {
	t.Helper()
	if len(pl.parts) != len(want) {
		t.Fatalf("%d partitions planned, want %d", len(pl.parts), len(want))
	}
	for i, w := range want {
		pf := pl.parts[i]
		got := wantPart{pf.p.Index(), pf.prevHWM, pf.first, pf.last, pf.batches, len(pf.rows)}
		if got != w {
			t.Errorf("part %d: %+v, want %+v", i, got, w)
		}
	}
	if len(want) > 0 && (pl.key == "" || len(pl.obj) == 0) {
		t.Errorf("plan has no object (key %q, %d bytes)", pl.key, len(pl.obj))
	}
}

func key() string { return "k" }

// TestPlanGroupsAndChains: batches of interleaved partitions are grouped
// per partition in order of first appearance, and the next plan continues
// from where the previous one ended.
func TestPlanGroupsAndChains(t *testing.T) {
	pn, _ := newTestPlanner(t, 2)
	pl := pn.plan(nil, []wal.Entry{
		entry(t, 1, 1, 0, 2, 10), entry(t, 0, 1, 0, 3, 10), entry(t, 1, 1, 2, 1, 10), entry(t, 0, 1, 3, 1, 10),
	}, key)
	checkPlan(t, pl, []wantPart{{1, 0, 0, 2, 2, 1}, {0, 0, 0, 3, 2, 1}})
	pl = pn.plan(nil, []wal.Entry{entry(t, 0, 1, 4, 2, 10)}, key)
	checkPlan(t, pl, []wantPart{{0, 4, 4, 5, 1, 1}})
}

// TestPlanIndexRows: a partition's chunk is indexed in rows of about
// indexRowBytes.
func TestPlanIndexRows(t *testing.T) {
	pn, _ := newTestPlanner(t, 1)
	var es []wal.Entry
	for i := int64(0); i < 6; i++ {
		es = append(es, entry(t, 0, 1, i, 1, 200<<10)) // ~200 KiB each
	}
	pl := pn.plan(nil, es, key)
	checkPlan(t, pl, []wantPart{{0, 0, 0, 5, 6, 2}})
	if r := pl.parts[0].rows; r[0].first != 0 || r[0].last != 2 || r[1].first != 3 || r[1].last != 5 {
		t.Fatalf("rows %+v, want offsets 0-2 and 3-5", r)
	}
}

// TestPlanDiscards: batches of an epoch the partition no longer has, and
// batches that do not continue the chain, are never planned (their
// accounting is covered by TestLostAndReclaimedInOneGeneration).
func TestPlanDiscards(t *testing.T) {
	pn, reg := newTestPlanner(t, 1)
	p := reg.Topic("a").Partition(0)
	p.Claimed(metastore.Partition{TopicID: topicA, Partition: 0, Owner: "self", Epoch: 3}, nil)
	pl := pn.plan(nil, []wal.Entry{
		entry(t, 0, 1, 0, 2, 10), // epoch 1: lost
		entry(t, 0, 3, 0, 2, 10), // epoch 3: planned
		entry(t, 0, 3, 5, 1, 10), // gap (want offset 2): discarded
	}, key)
	checkPlan(t, pl, []wantPart{{0, 0, 0, 1, 1, 1}})
}

// TestPlanUnknownPartition: entries of partitions that no longer exist
// (deleted topics) are not planned.
func TestPlanUnknownPartition(t *testing.T) {
	pn, reg := newTestPlanner(t, 1)
	reg.RemoveTopic("a")
	pl := pn.plan(nil, []wal.Entry{entry(t, 0, 1, 0, 2, 10)}, key)
	checkPlan(t, pl, nil)
	if len(pn.chains) != 0 {
		t.Fatalf("chains of a deleted topic kept: %d", len(pn.chains))
	}
}

func (catalogStore) AbortedTxns(context.Context, metastore.TopicID, int32, int64) ([]metastore.AbortedTxn, error) {
	return nil, nil
}
