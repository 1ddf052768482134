package ownership

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlite"
)

// TestPresenceMovesDeadAgentsPartitions: two agents with minute-long
// leases split a topic; one's presence goes (its process died). One
// absent check moves nothing; after the second the other agent claims
// every partition at once, the lease still valid, and the dead agent is
// out of the live view. While its presence is held (alive, or only
// frozen), nothing moves before the lease.
func TestPresenceMovesDeadAgentsPartitions(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	id := metastore.TopicID{2}
	if err := st.CreateTopic(ctx, metastore.Topic{Name: "t", ID: id, Partitions: 12, ReplicationFactor: 1, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a, b := newMember(t, st, "agent-a"), newMember(t, st, "agent-b")
	hold, err := st.HoldPresence(ctx, "agent-b") // b's process
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	for range 2 {
		for _, mb := range []*member{a, b} {
			if err := mb.m.Pass(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if a.served("t") == 0 || b.served("t") == 0 || a.served("t")+b.served("t") != 12 {
		t.Fatalf("split %d/%d, want both serving, 12 in all", a.served("t"), b.served("t"))
	}
	seen, absent := map[string]bool{}, map[string]int{}
	check := func() {
		t.Helper()
		a.m.checkPeers(ctx, seen, absent)
		if err := a.m.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check()
	check()
	if a.served("t") == 12 {
		t.Fatal("partitions moved while the other agent's presence was held")
	}
	hold.Close() // kill -9
	check()
	if a.served("t") == 12 {
		t.Fatal("partitions moved after one absent check")
	}
	check()
	if a.served("t") != 12 {
		t.Fatalf("agent-a serves %d partitions after agent-b's presence was gone twice, want all 12", a.served("t"))
	}
	rows, err := st.Partitions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Owner != "agent-a" {
			t.Fatalf("partition %d owned by %q in the metastore, want agent-a", row.Partition, row.Owner)
		}
	}
	live, err := a.m.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].ID != "agent-a" {
		t.Fatalf("live view %+v, want agent-a alone", live)
	}
	// The old owner's epochs are stale: its next pass sees the takeover.
	if err := b.m.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if b.served("t") != 0 {
		t.Fatalf("agent-b still serves %d partitions after the takeover", b.served("t"))
	}
}
