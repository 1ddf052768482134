package ownership

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlite"
	"github.com/stratalog/strata/partlog"
)

// member is one agent's manager and partition log over a shared store.
type member struct {
	m   *Manager
	reg *partlog.Registry
}

func newMember(t *testing.T, st metastore.Store, id string) *member {
	t.Helper()
	w, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := partlog.NewRegistry(partlog.Config{}, partlog.Deps{AgentID: id, Meta: st, WAL: w, Logger: log})
	m, err := New(Config{AgentID: id, Host: "127.0.0.1", Port: 9092, LeaseTTL: time.Minute, Logger: log}, st, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &member{m: m, reg: reg}
}

func (mb *member) served(topic string) (n int) {
	for _, p := range mb.reg.Topic(topic).Partitions() {
		if p.Status().Serving {
			n++
		}
	}
	return n
}

// TestPassesSplitAndHandOver: without TCP, two agents on one metastore
// split a topic's partitions by rendezvous hashing; a third agent's
// arrival moves partitions by release (once nothing is buffered), and
// every partition has exactly one owner after each round of passes.
func TestPassesSplitAndHandOver(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTopic(ctx, metastore.Topic{Name: "t", ID: metastore.TopicID{1}, Partitions: 24, ReplicationFactor: 1, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a, b := newMember(t, st, "agent-a"), newMember(t, st, "agent-b")
	members := []*member{a, b}
	round := func() {
		t.Helper()
		for i := 0; i < 2; i++ { // claims need the releases of the round before
			for _, mb := range members {
				if err := mb.m.Pass(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	check := func() {
		t.Helper()
		rows, err := st.Partitions(ctx, metastore.TopicID{1})
		if err != nil {
			t.Fatal(err)
		}
		agents, _ := st.Agents(ctx, time.Now())
		total := 0
		for _, mb := range members {
			total += mb.served("t")
		}
		if total != 24 {
			t.Fatalf("%d partitions served in all, want 24 (each by one agent)", total)
		}
		for _, row := range rows {
			if want := PartitionOwner(agents, row.TopicID, row.Partition); row.Owner != want {
				t.Fatalf("partition %d owned by %q, rendezvous says %q", row.Partition, row.Owner, want)
			}
		}
	}
	round()
	check()
	if a.served("t") == 0 || b.served("t") == 0 {
		t.Fatalf("split %d/%d: one agent got nothing", a.served("t"), b.served("t"))
	}
	c := newMember(t, st, "agent-c")
	members = append(members, c)
	round()
	check()
	if c.served("t") == 0 {
		t.Fatal("the new agent was given nothing")
	}
	// Every agent places a group on the same coordinator.
	if a.m.CoordinatorFor("g").ID != c.m.CoordinatorFor("g").ID {
		t.Fatal("agents disagree on a group's coordinator")
	}
}

// slowClaims delays every Claim by the duration in its context (key
// claimDelay), so two passes over one topic run at different speeds and
// one acts on rows the other has changed since it read them.
type slowClaims struct{ metastore.Store }

type claimDelay struct{}

func (s slowClaims) Claim(ctx context.Context, agentID string, id metastore.TopicID, partition, expectedEpoch int32) (metastore.Partition, error) {
	d, _ := ctx.Value(claimDelay{}).(time.Duration)
	time.Sleep(d)
	return s.Store.Claim(ctx, agentID, id, partition, expectedEpoch)
}

// TestClaimTopicRacesPass: the ownership pass that CreateTopics runs
// (ClaimTopic) and the background Pass over the same new topic, at the
// same time, with slow claims: the one agent ends up serving every
// partition, each claimed once (epoch 1), and none is ever given up as
// "taken over".
func TestClaimTopicRacesPass(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := newMember(t, slowClaims{Store: st}, "agent-a")
	mt := metastore.Topic{Name: "raced", ID: metastore.TopicID{7}, Partitions: 25, ReplicationFactor: 1, CreatedAt: time.Now()}
	if err := st.CreateTopic(ctx, mt); err != nil {
		t.Fatal(err)
	}
	topic, err := a.reg.AddTopic(ctx, mt)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- a.m.ClaimTopic(context.WithValue(ctx, claimDelay{}, 5*time.Millisecond), topic) }()
	go func() { errs <- a.m.Pass(context.WithValue(ctx, claimDelay{}, 15*time.Millisecond)) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := a.served("raced"); n != 25 {
		t.Fatalf("serving %d of 25 partitions after racing passes", n)
	}
	rows, err := st.Partitions(ctx, mt.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Owner != "agent-a" || row.Epoch != 1 {
			t.Fatalf("partition %d: owner %q epoch %d, want agent-a at epoch 1", row.Partition, row.Owner, row.Epoch)
		}
	}
	var taken dto.Metric
	if err := a.m.metrics.takenOver.Write(&taken); err != nil {
		t.Fatal(err)
	}
	if got := taken.GetCounter().GetValue(); got != 0 {
		t.Fatalf("%v partitions given up as taken over", got)
	}
}
