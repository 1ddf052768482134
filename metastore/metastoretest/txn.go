package metastoretest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Transactions: the coordinator's compare-and-swap rows, markers that a
// flush retires, staged offsets, the aborted-transaction index.

var txnTests = []struct {
	name string
	fn   func(t *testing.T, s metastore.Store)
}{
	{"TxnPutCAS", testTxnPutCAS},
	{"TxnEndMarkersAndOffsets", testTxnEndMarkersAndOffsets},
	{"TxnAbortedIndex", testTxnAbortedIndex},
}

func testTxnPutCAS(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	if _, err := s.Txn(ctx, "x"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("Txn of an unknown id: %v, want ErrNotFound", err)
	}
	start := time.UnixMilli(time.Now().UnixMilli())
	tx := metastore.Txn{ID: "x", ProducerID: 1000, ProducerEpoch: 3, LastProducerID: -1, LastProducerEpoch: -1,
		State: metastore.TxnOngoing, TimeoutMs: 60000, StartTime: start, UpdateTime: start,
		Partitions: []metastore.TxnPartition{{Topic: "a", Partition: 1}, {Topic: "b", Partition: 0}}, Groups: []string{"g"},
		LastCommit: true, CoordinatorEpoch: 7}
	got, err := s.PutTxn(ctx, tx, 0)
	if err != nil || got.Version != 1 {
		t.Fatalf("PutTxn new: %v version %d", err, got.Version)
	}
	if _, err := s.PutTxn(ctx, tx, 0); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("PutTxn of an existing id at version 0: %v, want ErrConflict", err)
	}
	read, err := s.Txn(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	tx.Version = 1
	if !txnEqual(read, tx) {
		t.Fatalf("Txn:\n got %+v\nwant %+v", read, tx)
	}
	// Two writers of version 1: one wins.
	a, b := tx, tx
	a.ProducerEpoch, b.ProducerEpoch = 4, 5
	_, errA := s.PutTxn(ctx, a, 1)
	_, errB := s.PutTxn(ctx, b, 1)
	if errA != nil || !errors.Is(errB, metastore.ErrConflict) {
		t.Fatalf("racing PutTxn: %v, %v; want nil and ErrConflict", errA, errB)
	}
	all, err := s.Txns(ctx)
	if err != nil || len(all) != 1 || all[0].ProducerEpoch != 4 || all[0].Version != 2 {
		t.Fatalf("Txns: %v %+v", err, all)
	}
}

func txnEqual(a, b metastore.Txn) bool {
	if !a.StartTime.Equal(b.StartTime) || !a.UpdateTime.Equal(b.UpdateTime) {
		return false
	}
	a.StartTime, b.StartTime, a.UpdateTime, b.UpdateTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func testTxnEndMarkersAndOffsets(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	claim(t, s, "a", tp.ID, 0, 0)
	tx, err := s.PutTxn(ctx, metastore.Txn{ID: "x", ProducerID: 1000, LastProducerID: -1, LastProducerEpoch: -1,
		State: metastore.TxnOngoing, TimeoutMs: 1000, Groups: []string{"g"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	meta := "m"
	if err := s.AddTxnOffsets(ctx, "x", tx.Version, "g", []metastore.GroupOffset{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: -1, Metadata: &meta}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTxnOffsets(ctx, "x", tx.Version+1, "g", nil); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("AddTxnOffsets at a stale version: %v, want ErrConflict", err)
	}
	if ps, err := s.PendingTxnOffsets(ctx, "g"); err != nil || len(ps) != 1 || ps[0] != (metastore.TxnPartition{Topic: "t", Partition: 0}) {
		t.Fatalf("PendingTxnOffsets: %v %v", err, ps)
	}
	if offs, _ := s.GroupOffsets(ctx, "g"); len(offs) != 0 {
		t.Fatalf("staged offsets visible before the commit: %+v", offs)
	}
	prev := tx.Version
	tx.State, tx.CoordinatorEpoch = metastore.TxnPrepareCommit, 1
	markers := []metastore.TxnMarker{
		{TopicID: tp.ID, Partition: 0, ProducerID: 1000, Commit: true, CoordinatorEpoch: 1},
		{TopicID: tp.ID, Partition: 1, ProducerID: 1000, Commit: true, CoordinatorEpoch: 1},
	}
	if _, err := s.EndTxn(ctx, tx, prev, markers); err != nil {
		t.Fatal(err)
	}
	offs, err := s.GroupOffsets(ctx, "g")
	if err != nil || len(offs) != 1 || offs[0].Offset != 42 || *offs[0].Metadata != "m" {
		t.Fatalf("offsets after the commit: %v %+v", err, offs)
	}
	if ps, _ := s.PendingTxnOffsets(ctx, "g"); len(ps) != 0 {
		t.Fatalf("offsets still pending after the commit: %v", ps)
	}
	if n, err := s.TxnMarkersLeft(ctx, "x"); err != nil || n != 2 {
		t.Fatalf("TxnMarkersLeft: %d %v, want 2", n, err)
	}
	// Agent a owns partition 0 only.
	owned, err := s.OwnedTxnMarkers(ctx, "a")
	if err != nil || len(owned) != 1 || owned[0].Partition != 0 || !owned[0].Commit || owned[0].TransactionalID != "x" {
		t.Fatalf("OwnedTxnMarkers: %v %+v", err, owned)
	}
	// A flush writing an older marker leaves the row; the right one
	// removes it.
	pc := pcommit(tp.ID, 0, 1, 0, 1, row(0, 0, 10, 10))
	pc.Markers = []metastore.MarkerDone{{ProducerID: 1000, CoordinatorEpoch: 0}}
	commit(t, s, "a", "obj-1", pc)
	if n, _ := s.TxnMarkersLeft(ctx, "x"); n != 2 {
		t.Fatalf("an older marker retired the pending one: %d left", n)
	}
	pc = pcommit(tp.ID, 0, 1, 1, 2, row(1, 1, 10, 10))
	pc.Markers = []metastore.MarkerDone{{ProducerID: 1000, CoordinatorEpoch: 1}}
	commit(t, s, "a", "obj-2", pc)
	if n, _ := s.TxnMarkersLeft(ctx, "x"); n != 1 {
		t.Fatalf("after the marker's flush: %d left, want 1", n)
	}
	// An abort drops staged offsets.
	tx, _ = s.Txn(ctx, "x")
	prev = tx.Version
	tx.State = metastore.TxnOngoing
	if tx, err = s.PutTxn(ctx, tx, prev); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTxnOffsets(ctx, "x", tx.Version, "g", []metastore.GroupOffset{{Topic: "t", Partition: 0, Offset: 99, LeaderEpoch: -1}}); err != nil {
		t.Fatal(err)
	}
	prev, tx.State = tx.Version, metastore.TxnPrepareAbort
	if _, err := s.EndTxn(ctx, tx, prev, nil); err != nil {
		t.Fatal(err)
	}
	if offs, _ := s.GroupOffsets(ctx, "g"); len(offs) != 1 || offs[0].Offset != 42 {
		t.Fatalf("offsets after the abort: %+v, want 42", offs)
	}
	if ps, _ := s.PendingTxnOffsets(ctx, "g"); len(ps) != 0 {
		t.Fatalf("offsets pending after the abort: %v", ps)
	}
}

func testTxnAbortedIndex(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	pc := pcommit(tp.ID, 0, 1, 0, 10, row(0, 9, 10, 10))
	pc.Aborted = []metastore.AbortedTxn{{ProducerID: 5, FirstOffset: 1, LastOffset: 4}, {ProducerID: 6, FirstOffset: 2, LastOffset: 8}}
	pc.Producers = []metastore.ProducerState{{ProducerID: 7, TxnOpen: true, TxnFirstOffset: 9, MarkerEpoch: 3}}
	commit(t, s, "a", "obj-1", pc)
	got, err := s.AbortedTxns(ctx, tp.ID, 0, 5)
	if err != nil || len(got) != 1 || got[0] != pc.Aborted[1] {
		t.Fatalf("AbortedTxns from 5: %v %+v", err, got)
	}
	checkProducers(t, s, tp.ID, 0, pc.Producers)
	// The log start passing an entry's marker forgets it.
	if _, err := s.SetLogStartOffset(ctx, tp.ID, 0, 5); err != nil {
		t.Fatal(err)
	}
	got, err = s.AbortedTxns(ctx, tp.ID, 0, 0)
	if err != nil || len(got) != 1 || got[0].ProducerID != 6 {
		t.Fatalf("AbortedTxns after the log start moved to 5: %v %+v", err, got)
	}
	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AbortedTxns(ctx, tp.ID, 0, 0); len(got) != 0 {
		t.Fatalf("AbortedTxns after DeleteTopic: %+v", got)
	}
}
