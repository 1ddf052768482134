package group

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore/sqlite"
)

// Persistence against the real SQLite metastore: a second coordinator (a
// restart, or another agent taking over) restores what the first saved.

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRestoreFromStore: members restored from the store must rejoin (the
// group starts in PreparingRebalance); one that does not is dropped at
// its rebalance timeout. Commits and the static member's id survive.
func TestRestoreFromStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	ctx := context.Background()
	const g = "restored"
	inst := "static-1"

	first := newTestCoordinator(t, openSQLite(t, path), nil)
	r := req(g, "", "range")
	r.RebalanceTimeout = 300 * time.Millisecond
	m1, ch1 := joinNew(t, first, r)
	answer(t, ch1)
	rs := r
	rs.InstanceID = &inst
	ch2 := joinAsync(ctx, first, rs)
	waitState(t, first, g, StatePreparingRebalance)
	r1 := r
	r1.MemberID = m1
	j1 := answer(t, joinAsync(ctx, first, r1))
	j2 := answer(t, ch2)
	gen := j1.Generation
	sc2 := syncAsync(ctx, first, SyncRequest{Group: g, MemberID: j2.MemberID, Generation: gen})
	answer(t, syncAsync(ctx, first, SyncRequest{Group: g, MemberID: m1, Generation: gen,
		Assignments: []Assignment{{m1, []byte("A")}, {j2.MemberID, []byte("B")}}}))
	answer(t, sc2)
	if c := first.CommitOffsets(ctx, CommitRequest{Group: g, MemberID: m1, Generation: gen,
		Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 41, LeaderEpoch: -1}}}); c.Err != nil || c.Offsets[0] != nil {
		t.Fatalf("commit: %+v", c)
	}
	first.Close()

	second := newTestCoordinator(t, openSQLite(t, path), nil)
	if _, ok := second.Peek(g); ok {
		t.Fatal("group loaded before first use")
	}
	ls, err := second.List(ctx, ListRequest{})
	if err != nil || len(ls) != 1 || ls[0].State != StatePreparingRebalance || ls[0].ProtocolType != "consumer" {
		t.Fatalf("list before load: %+v %v", ls, err)
	}
	start := time.Now() // the first request loads the group and starts the rebalance
	if err := hb(second, g, m1, gen); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("restored member's heartbeat: %v", err)
	}
	s := state(t, second, g)
	if s.State != StatePreparingRebalance || s.Generation != gen || len(s.Members) != 2 || s.Leader != m1 {
		t.Fatalf("restored: %+v", s)
	}
	if s.Members[1].InstanceID == nil || *s.Members[1].InstanceID != inst || s.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("restored members: %+v", s.Members)
	}
	other := "x"
	if err := second.Heartbeat(ctx, HeartbeatRequest{Group: g, MemberID: other, InstanceID: &inst, Generation: gen}); !errors.Is(err, ErrFencedInstance) {
		t.Fatalf("restored instance id with another member id: %v", err)
	}
	// Member 1 commits with its restored generation, then rejoins; the
	// static member never comes back.
	if c := second.CommitOffsets(ctx, CommitRequest{Group: g, MemberID: m1, Generation: gen,
		Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: -1}}}); c.Err != nil || c.Offsets[0] != nil {
		t.Fatalf("commit by a restored member: %+v", c)
	}
	j1 = answer(t, joinAsync(ctx, second, r1))
	if j1.Err != nil || j1.Generation != gen+1 || len(j1.Members) != 1 || j1.LeaderID != m1 {
		t.Fatalf("rejoin after restore: %+v", j1)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("rebalance completed after %v, before the restored member's rebalance timeout", el)
	}
	if err := hb(second, g, j2.MemberID, gen); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("dropped member's heartbeat: %v", err)
	}
	f := second.FetchOffsets(ctx, FetchRequest{Group: g})
	if f.Err != nil || len(f.Topics) != 1 || f.Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("offsets: %+v", f)
	}
	second.Close()

	// The generation that completed without the static member was saved.
	third := newTestCoordinator(t, openSQLite(t, path), nil)
	if err := hb(third, g, m1, gen+1); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after the second restart: %v", err)
	}
	if s := state(t, third, g); s.Generation != gen+1 || len(s.Members) != 1 {
		t.Fatalf("after the second restart: %+v", s)
	}
}

// TestDeletePersists: Delete removes the group and its offsets from the
// store; a simple commit's group survives a restart as Empty.
func TestDeletePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	ctx := context.Background()
	first := newTestCoordinator(t, openSQLite(t, path), nil)
	for _, name := range []string{"keep", "drop"} {
		if c := first.CommitOffsets(ctx, CommitRequest{Group: name, Generation: -1,
			Offsets: []CommitOffset{{Topic: "t", Partition: 1, Offset: 7, LeaderEpoch: 3}}}); c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	if err := first.Delete(ctx, "drop"); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := newTestCoordinator(t, openSQLite(t, path), nil)
	ls, err := second.List(ctx, ListRequest{})
	if err != nil || len(ls) != 1 || ls[0].Name != "keep" || ls[0].State != StateEmpty {
		t.Fatalf("list: %+v %v", ls, err)
	}
	if d := second.Describe(ctx, "keep"); d.State != StateEmpty || d.Err != nil {
		t.Fatalf("describe: %+v", d)
	}
	if f := second.FetchOffsets(ctx, FetchRequest{Group: "drop"}); len(f.Topics) != 0 {
		t.Fatalf("offsets of the deleted group: %+v", f)
	}
	f := second.FetchOffsets(ctx, FetchRequest{Group: "keep", Topics: []TopicPartitions{{"t", []int32{1}}}})
	if p := f.Topics[0].Partitions[0]; p.Offset != 7 || p.LeaderEpoch != 3 {
		t.Fatalf("kept offset: %+v", p)
	}
	if err := second.Delete(ctx, "drop"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
