package metastoretest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Run runs the conformance suite as subtests of t, calling newStore for a
// fresh, empty store in each.
func Run(t *testing.T, newStore func(t *testing.T) metastore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s metastore.Store)
	}{
		{"ClusterID", testClusterID},
		{"RegisterAgent", testRegisterAgent},
		{"AgentLeaseExpiry", testAgentLeaseExpiry},
		{"CreateTopic", testCreateTopic},
		{"CreateTopicExists", testCreateTopicExists},
		{"Topics", testTopics},
		{"TopicNotFound", testTopicNotFound},
		{"SetTopicConfigs", testSetTopicConfigs},
		{"DeleteTopic", testDeleteTopic},
		{"Partitions", testPartitions},
		{"Claim", testClaim},
		{"ClaimNotFound", testClaimNotFound},
		{"Release", testRelease},
		{"Presence", testPresence},
		{"CommitFlush", testCommitFlush},
		{"CommitFlushProducerUpsert", testCommitFlushProducerUpsert},
		{"CommitFlushFencedByEpoch", testCommitFlushFencedByEpoch},
		{"CommitFlushFencedByOwner", testCommitFlushFencedByOwner},
		{"CommitFlushUnowned", testCommitFlushUnowned},
		{"CommitFlushDeletedTopic", testCommitFlushDeletedTopic},
		{"CommitFlushConflict", testCommitFlushConflict},
		{"CommitFlushAtomic", testCommitFlushAtomic},
		{"CommitFlushConcurrent", testCommitFlushConcurrent},
		{"IndexRows", testIndexRows},
		{"IndexRowsByTime", testIndexRowsByTime},
		{"MaxTimestampRow", testMaxTimestampRow},
		{"NextProducerID", testNextProducerID},
		{"DeleteTopicRemovesData", testDeleteTopicRemovesData},
		{"SetLogStartOffset", testSetLogStartOffset},
		{"AddPartitions", testAddPartitions},
		{"DeleteGrownTopic", testDeleteGrownTopic},
		{"CommitOffsets", testCommitOffsets},
		{"CommitOffsetsConcurrent", testCommitOffsetsConcurrent},
		{"CommitOffsetsKeepsGroupState", testCommitOffsetsKeepsGroupState},
		{"DeleteGroupOffsets", testDeleteGroupOffsets},
		{"SaveLoadGroup", testSaveLoadGroup},
		{"Groups", testGroups},
		{"DeleteGroup", testDeleteGroup},
	}
	tests = append(tests, lifecycleTests...)
	tests = append(tests, txnTests...)
	tests = append(tests, securityTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

func testClusterID(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	// Racing first calls must agree on one ID.
	ids := make([]string, 8)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = s.ClusterID(ctx) })
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("ClusterID: %v", errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent ClusterID calls returned %q and %q", ids[0], ids[i])
		}
	}
	if ids[0] == "" {
		t.Fatal("ClusterID is empty")
	}
	again, err := s.ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again != ids[0] {
		t.Fatalf("ClusterID changed from %q to %q", ids[0], again)
	}
}

func testRegisterAgent(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	lease := ms(1_700_000_060_000)
	now := ms(1_700_000_000_000)

	a1 := mustRegister(t, s, metastore.Agent{ID: "agent-1", Host: "h1", Port: 9092, Rack: "r1", LeaseExpires: lease})
	a2 := mustRegister(t, s, metastore.Agent{ID: "agent-2", Host: "h2", Port: 9093, Rack: "", LeaseExpires: lease})
	if a1.NodeID < 0 || a2.NodeID < 0 {
		t.Fatalf("negative NodeIDs %d, %d", a1.NodeID, a2.NodeID)
	}
	if a1.NodeID == a2.NodeID {
		t.Fatalf("agents share NodeID %d", a1.NodeID)
	}
	if a1.ID != "agent-1" || a1.Host != "h1" || a1.Port != 9092 || a1.Rack != "r1" || !a1.LeaseExpires.Equal(lease) {
		t.Fatalf("RegisterAgent returned %+v", a1)
	}

	// Re-registering (a restart, a heartbeat) keeps the NodeID and
	// updates everything else.
	newLease := lease.Add(time.Minute)
	re := mustRegister(t, s, metastore.Agent{ID: "agent-1", Host: "h1b", Port: 19092, Rack: "r2", LeaseExpires: newLease})
	if re.NodeID != a1.NodeID {
		t.Fatalf("re-registration changed NodeID from %d to %d", a1.NodeID, re.NodeID)
	}
	for range 5 {
		mustRegister(t, s, metastore.Agent{ID: "agent-2", Host: "h2", Port: 9093, LeaseExpires: lease})
	}
	a3 := mustRegister(t, s, metastore.Agent{ID: "agent-3", Host: "h3", Port: 9094, LeaseExpires: lease})
	if a3.NodeID == a1.NodeID || a3.NodeID == a2.NodeID {
		t.Fatalf("agent-3 got NodeID %d, already used by agent-1 (%d) or agent-2 (%d)", a3.NodeID, a1.NodeID, a2.NodeID)
	}

	got, err := s.Agents(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []metastore.Agent{
		{ID: "agent-1", Host: "h1b", Port: 19092, Rack: "r2", NodeID: a1.NodeID, LeaseExpires: newLease},
		{ID: "agent-2", Host: "h2", Port: 9093, NodeID: a2.NodeID, LeaseExpires: lease},
		{ID: "agent-3", Host: "h3", Port: 9094, NodeID: a3.NodeID, LeaseExpires: lease},
	}
	sort.Slice(want, func(i, j int) bool { return want[i].NodeID < want[j].NodeID })
	checkAgents(t, got, want)
}

func testAgentLeaseExpiry(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	now := ms(1_700_000_000_000)
	short := mustRegister(t, s, metastore.Agent{ID: "short", Host: "h", Port: 1, LeaseExpires: now.Add(10 * time.Second)})
	long := mustRegister(t, s, metastore.Agent{ID: "long", Host: "h", Port: 2, LeaseExpires: now.Add(time.Minute)})
	mustRegister(t, s, metastore.Agent{ID: "dead", Host: "h", Port: 3, LeaseExpires: now.Add(-time.Second)})
	both := []string{"short", "long"} // Agents lists by NodeID
	if long.NodeID < short.NodeID {
		both = []string{"long", "short"}
	}

	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{now, both},
		{now.Add(10*time.Second - time.Millisecond), both},
		{now.Add(10 * time.Second), []string{"long"}}, // a lease expiring at now is expired
		{now.Add(time.Minute), nil},
	} {
		got, err := s.Agents(ctx, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("Agents(%v) = %q, want %q", tc.at, ids, tc.want)
		}
	}
	// A heartbeat revives an expired agent under its old NodeID.
	dead := mustRegister(t, s, metastore.Agent{ID: "dead", Host: "h", Port: 3, LeaseExpires: now.Add(time.Hour)})
	got, err := s.Agents(ctx, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "dead" || got[0].NodeID != dead.NodeID {
		t.Fatalf("after reviving: Agents = %+v", got)
	}
}

func testCreateTopic(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	want := metastore.Topic{
		Name:              "orders",
		ID:                newID(),
		Partitions:        3,
		ReplicationFactor: 3,
		Configs:           map[string]string{"cleanup.policy": "compact", "retention.ms": "-1"},
		CreatedAt:         ms(1_700_000_000_123),
	}
	if err := s.CreateTopic(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Topic(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, want)
}

func testCreateTopicExists(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	first := mustCreateTopic(t, s, "t", 2)
	dup := metastore.Topic{Name: "t", ID: newID(), Partitions: 5, ReplicationFactor: 1, CreatedAt: ms(1)}
	if err := s.CreateTopic(ctx, dup); !errors.Is(err, metastore.ErrExists) {
		t.Fatalf("CreateTopic of an existing name: err = %v, want ErrExists", err)
	}
	// The failed create changed nothing.
	got, err := s.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, first)
	parts, err := s.Partitions(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("after failed duplicate create: %d partitions, want 2", len(parts))
	}
	if _, err := s.Partitions(ctx, dup.ID); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("Partitions of the rejected topic ID: err = %v, want ErrNotFound", err)
	}
}

func testTopics(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	got, err := s.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("empty store has topics %+v", got)
	}
	byName := map[string]metastore.Topic{}
	for _, name := range []string{"zeta", "alpha", "mid", "Alpha", "alpha.2"} {
		byName[name] = mustCreateTopic(t, s, name, 1)
	}
	got, err = s.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"Alpha", "alpha", "alpha.2", "mid", "zeta"} // byte order
	if len(got) != len(wantNames) {
		t.Fatalf("Topics returned %d topics, want %d", len(got), len(wantNames))
	}
	for i, name := range wantNames {
		checkTopic(t, got[i], byName[name])
	}
}

func testTopicNotFound(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	mustCreateTopic(t, s, "present", 1)
	if _, err := s.Topic(ctx, "absent"); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("Topic(absent): err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteTopic(ctx, "absent"); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("DeleteTopic(absent): err = %v, want ErrNotFound", err)
	}
	if err := s.SetTopicConfigs(ctx, "absent", map[string]string{"a": "b"}); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("SetTopicConfigs(absent): err = %v, want ErrNotFound", err)
	}
	if _, err := s.Partitions(ctx, newID()); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("Partitions(unknown id): err = %v, want ErrNotFound", err)
	}
}

func testSetTopicConfigs(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	other := mustCreateTopic(t, s, "other", 1)

	set := func(configs map[string]string, want map[string]string) {
		t.Helper()
		if err := s.SetTopicConfigs(ctx, "t", configs); err != nil {
			t.Fatal(err)
		}
		got, err := s.Topic(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		tp.Configs = want
		checkTopic(t, got, tp)
	}
	set(map[string]string{"retention.ms": "1000", "max.message.bytes": "2048"},
		map[string]string{"retention.ms": "1000", "max.message.bytes": "2048"})
	// Replaces, does not merge.
	set(map[string]string{"cleanup.policy": "delete"}, map[string]string{"cleanup.policy": "delete"})
	set(map[string]string{"weird": "quote \" backslash \\ unicode ü, empty next", "empty": ""},
		map[string]string{"weird": "quote \" backslash \\ unicode ü, empty next", "empty": ""})
	set(nil, nil)

	got, err := s.Topic(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, other)
}

func testDeleteTopic(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	keep := mustCreateTopic(t, s, "keep", 1)
	gone := mustCreateTopic(t, s, "gone", 3)
	gone.Configs = map[string]string{"retention.ms": "5"}
	if err := s.SetTopicConfigs(ctx, "gone", gone.Configs); err != nil {
		t.Fatal(err)
	}

	deleted, err := s.DeleteTopic(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, deleted, gone)
	if _, err := s.Topic(ctx, "gone"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("Topic after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Partitions(ctx, gone.ID); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("Partitions after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteTopic(ctx, "gone"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("second DeleteTopic: err = %v, want ErrNotFound", err)
	}
	topics, err := s.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != 1 {
		t.Fatalf("Topics after delete = %+v, want only keep", topics)
	}
	checkTopic(t, topics[0], keep)

	// The name is free again, under a new ID, with fresh partitions.
	again := mustCreateTopic(t, s, "gone", 2)
	got, err := s.Topic(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, again)
	checkPartitions(t, s, again.ID, []metastore.Partition{
		{TopicID: again.ID, Partition: 0},
		{TopicID: again.ID, Partition: 1},
	})
}

func testPartitions(t *testing.T, s metastore.Store) {
	tp := mustCreateTopic(t, s, "t", 4)
	mustCreateTopic(t, s, "other", 2)
	var want []metastore.Partition
	for p := range int32(4) {
		want = append(want, metastore.Partition{TopicID: tp.ID, Partition: p})
	}
	checkPartitions(t, s, tp.ID, want)
}

func testRelease(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	if _, err := s.Claim(ctx, "a", tp.ID, 0, 0); err != nil {
		t.Fatal(err)
	}
	// Only the owner at its epoch can release.
	if err := s.Release(ctx, "b", tp.ID, 0, 1); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Release by a non-owner: err = %v, want ErrFenced", err)
	}
	if err := s.Release(ctx, "a", tp.ID, 0, 7); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Release at a wrong epoch: err = %v, want ErrFenced", err)
	}
	if err := s.Release(ctx, "a", tp.ID, 9, 1); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("Release of a missing partition: err = %v, want ErrNotFound", err)
	}
	if err := s.Release(ctx, "a", tp.ID, 0, 1); err != nil {
		t.Fatal(err)
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Epoch: 1}})
	// The released owner can no longer commit.
	err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{
		{TopicID: tp.ID, Partition: 0, Epoch: 1, PrevHighWatermark: 0, NewHighWatermark: 0}}})
	if !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("CommitFlush after Release: err = %v, want ErrFenced", err)
	}
	// The next claim takes the epoch forward.
	p, err := s.Claim(ctx, "b", tp.ID, 0, 1)
	if err != nil || p.Owner != "b" || p.Epoch != 2 {
		t.Fatalf("Claim after Release: %+v, %v", p, err)
	}
}

func testClaim(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)

	p, err := s.Claim(ctx, "a", tp.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := metastore.Partition{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1}
	if p != want {
		t.Fatalf("Claim returned %+v, want %+v", p, want)
	}

	// A claim based on a stale epoch loses, and changes nothing.
	if _, err := s.Claim(ctx, "b", tp.ID, 1, 0); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Claim with stale epoch: err = %v, want ErrFenced", err)
	}
	if _, err := s.Claim(ctx, "b", tp.ID, 1, 5); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Claim with future epoch: err = %v, want ErrFenced", err)
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1},
	})

	// Taking over bumps the epoch again; so does re-claiming one's own.
	p, err = s.Claim(ctx, "b", tp.ID, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (metastore.Partition{TopicID: tp.ID, Partition: 1, Owner: "b", Epoch: 2}); p != want {
		t.Fatalf("takeover Claim returned %+v, want %+v", p, want)
	}
	p, err = s.Claim(ctx, "b", tp.ID, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Owner != "b" || p.Epoch != 3 {
		t.Fatalf("re-Claim returned %+v, want owner b epoch 3", p)
	}

	// Ownership does not touch the log bounds.
	commit(t, s, "b", "obj-1", pcommit(tp.ID, 1, 3, 0, 10, row(0, 9, 100, 200)))
	p, err = s.Claim(ctx, "a", tp.ID, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := (metastore.Partition{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 4, HighWatermark: 10}); p != want {
		t.Fatalf("Claim after a flush returned %+v, want %+v", p, want)
	}
}

func testClaimNotFound(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	for _, tc := range []struct {
		id        metastore.TopicID
		partition int32
	}{
		{tp.ID, 2},
		{tp.ID, -1},
		{newID(), 0},
	} {
		if _, err := s.Claim(ctx, "a", tc.id, tc.partition, 0); !errors.Is(err, metastore.ErrNotFound) {
			t.Errorf("Claim(%x, %d): err = %v, want ErrNotFound", tc.id, tc.partition, err)
		}
	}
}

func testCommitFlush(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	other := mustCreateTopic(t, s, "other", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	claim(t, s, "a", other.ID, 0, 0)

	producers := []metastore.ProducerState{
		{ProducerID: 1000, Epoch: 2, LastTimestamp: 1_700_000_000_500, Batches: []metastore.ProducerBatch{
			{FirstSeq: 0, LastSeq: 4, BaseOffset: 0, LastOffset: 4, Timestamp: 1_700_000_000_100},
			{FirstSeq: 5, LastSeq: 9, BaseOffset: 7, LastOffset: 11, Timestamp: 1_700_000_000_400},
		}},
		{ProducerID: 1001, Epoch: 0, LastTimestamp: 1_700_000_000_300, Batches: []metastore.ProducerBatch{
			{FirstSeq: 0, LastSeq: 1, BaseOffset: 5, LastOffset: 6, Timestamp: 1_700_000_000_300},
		}},
	}
	p0 := pcommit(tp.ID, 0, 1, 0, 12,
		rowAt(0, 6, 0, 500, 1_700_000_000_100, 1_700_000_000_300),
		rowAt(7, 11, 500, 700, 1_700_000_000_400, 1_700_000_000_400))
	p0.Producers = producers
	p1 := pcommit(tp.ID, 1, 1, 0, 3, rowAt(0, 2, 1200, 50, 1_700_000_000_000, 1_700_000_000_900))
	o0 := pcommit(other.ID, 0, 1, 0, 1, rowAt(0, 0, 1250, 10, 5, 5))
	commit(t, s, "a", "obj-1", p0, p1, o0)

	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 12},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 3},
	})
	checkPartitions(t, s, other.ID, []metastore.Partition{
		{TopicID: other.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 1},
	})
	checkIndexRows(t, s, tp.ID, 0, 0, 0, p0.Rows)
	checkIndexRows(t, s, tp.ID, 1, 0, 0, p1.Rows)
	checkIndexRows(t, s, other.ID, 0, 0, 0, o0.Rows)
	checkProducers(t, s, tp.ID, 0, producers)
	checkProducers(t, s, tp.ID, 1, nil)

	got, err := s.IndexRowsByTime(ctx, tp.ID, 0, 1_700_000_000_350, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexRowList(t, "IndexRowsByTime", got, p0.Rows[1:])
	maxRow, err := s.MaxTimestampRow(ctx, tp.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexRowList(t, "MaxTimestampRow", []metastore.IndexRow{maxRow}, p0.Rows[1:])

	// The next flush continues where the last ended.
	p0b := pcommit(tp.ID, 0, 1, 12, 20, rowAt(12, 19, 0, 900, 1_700_000_001_000, 1_700_000_002_000))
	commit(t, s, "a", "obj-2", p0b)
	checkIndexRows(t, s, tp.ID, 0, 0, 0, append(append([]metastore.IndexRow{}, p0.Rows...), p0b.Rows...))
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 20},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 3},
	})
	// Producer states not named in a flush are left alone.
	checkProducers(t, s, tp.ID, 0, producers)
}

func testCommitFlushProducerUpsert(t *testing.T, s metastore.Store) {
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	first := []metastore.ProducerState{
		{ProducerID: 7, Epoch: 0, LastTimestamp: 10, Batches: []metastore.ProducerBatch{
			{FirstSeq: 0, LastSeq: 0, BaseOffset: 0, LastOffset: 0, Timestamp: 10},
		}},
		{ProducerID: 8, Epoch: 3, LastTimestamp: 11},
	}
	pc := pcommit(tp.ID, 0, 1, 0, 1, row(0, 0, 10, 10))
	pc.Producers = first
	commit(t, s, "a", "obj-1", pc)
	checkProducers(t, s, tp.ID, 0, first)

	// Producer 7 is replaced (new epoch, sequence reset, five batches),
	// producer 9 is added, producer 8 is untouched.
	var batches []metastore.ProducerBatch
	for i := range int32(5) {
		batches = append(batches, metastore.ProducerBatch{
			FirstSeq: i * 2, LastSeq: i*2 + 1, BaseOffset: 1 + int64(i)*2, LastOffset: 2 + int64(i)*2, Timestamp: 20 + int64(i),
		})
	}
	second := []metastore.ProducerState{
		{ProducerID: 9, Epoch: 0, LastTimestamp: 30, Batches: []metastore.ProducerBatch{
			{FirstSeq: 100, LastSeq: 100, BaseOffset: 0, LastOffset: 0, Timestamp: 30},
		}},
		{ProducerID: 7, Epoch: 1, LastTimestamp: 24, Batches: batches},
	}
	pc = pcommit(tp.ID, 0, 1, 1, 11, row(1, 10, 10, 30))
	pc.Producers = second
	commit(t, s, "a", "obj-2", pc)
	checkProducers(t, s, tp.ID, 0, []metastore.ProducerState{second[1], first[1], second[0]})
}

func testCommitFlushFencedByEpoch(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	first := pcommit(tp.ID, 0, 1, 0, 5, row(0, 4, 0, 100))
	commit(t, s, "a", "obj-1", first)
	// Agent a re-claims (e.g. after a restart): its old epoch is stale.
	claim(t, s, "a", tp.ID, 0, 1)

	stale := pcommit(tp.ID, 0, 1, 5, 9, row(5, 8, 0, 100))
	stale.Producers = []metastore.ProducerState{{ProducerID: 1, Epoch: 0, LastTimestamp: 1}}
	err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj-2", ObjectSize: 100, Partitions: []metastore.PartitionCommit{stale}})
	if !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("CommitFlush with stale epoch: err = %v, want ErrFenced", err)
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 2, HighWatermark: 5}})
	checkIndexRows(t, s, tp.ID, 0, 0, 0, first.Rows)
	checkProducers(t, s, tp.ID, 0, nil)

	// A future epoch is no better.
	stale.Epoch = 3
	err = s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj-3", ObjectSize: 100, Partitions: []metastore.PartitionCommit{stale}})
	if !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("CommitFlush with future epoch: err = %v, want ErrFenced", err)
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 2, HighWatermark: 5}})
	checkIndexRows(t, s, tp.ID, 0, 0, 0, first.Rows)
}

func testCommitFlushFencedByOwner(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	first := pcommit(tp.ID, 0, 1, 0, 5, row(0, 4, 0, 100))
	commit(t, s, "a", "obj-1", first)

	// b names the right epoch but does not own the partition.
	intruder := pcommit(tp.ID, 0, 1, 5, 9, row(5, 8, 0, 100))
	intruder.Producers = []metastore.ProducerState{{ProducerID: 1, Epoch: 0, LastTimestamp: 1}}
	err := s.CommitFlush(ctx, metastore.Flush{AgentID: "b", ObjectKey: "obj-b", ObjectSize: 100, Partitions: []metastore.PartitionCommit{intruder}})
	if !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("CommitFlush by non-owner: err = %v, want ErrFenced", err)
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 5}})
	checkIndexRows(t, s, tp.ID, 0, 0, 0, first.Rows)
	checkProducers(t, s, tp.ID, 0, nil)
}

func testCommitFlushUnowned(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	for _, agent := range []string{"a", ""} {
		err := s.CommitFlush(ctx, metastore.Flush{AgentID: agent, ObjectKey: "obj", ObjectSize: 10,
			Partitions: []metastore.PartitionCommit{pcommit(tp.ID, 0, 0, 0, 1, row(0, 0, 0, 10))}})
		if !errors.Is(err, metastore.ErrFenced) {
			t.Fatalf("CommitFlush by %q to an unowned partition: err = %v, want ErrFenced", agent, err)
		}
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0}})
	checkIndexRows(t, s, tp.ID, 0, 0, 0, nil)
}

func testCommitFlushDeletedTopic(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	keep := mustCreateTopic(t, s, "keep", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", keep.ID, 0, 0)
	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj", ObjectSize: 20,
		Partitions: []metastore.PartitionCommit{
			pcommit(keep.ID, 0, 1, 0, 1, row(0, 0, 0, 10)),
			pcommit(tp.ID, 0, 1, 0, 1, row(0, 0, 10, 10)),
		}})
	if !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("CommitFlush to a deleted topic: err = %v, want ErrFenced", err)
	}
	checkPartitions(t, s, keep.ID, []metastore.Partition{{TopicID: keep.ID, Partition: 0, Owner: "a", Epoch: 1}})
	checkIndexRows(t, s, keep.ID, 0, 0, 0, nil)
	checkIndexRows(t, s, tp.ID, 0, 0, 0, nil)
}

func testCommitFlushConflict(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	first := pcommit(tp.ID, 0, 1, 0, 5, row(0, 4, 0, 100))
	commit(t, s, "a", "obj-1", first)

	for _, prev := range []int64{0, 4, 6} {
		bad := pcommit(tp.ID, 0, 1, prev, 10, row(prev, 9, 0, 100))
		bad.Producers = []metastore.ProducerState{{ProducerID: 1, Epoch: 0, LastTimestamp: 1}}
		err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: fmt.Sprintf("obj-prev-%d", prev), ObjectSize: 100,
			Partitions: []metastore.PartitionCommit{bad}})
		if !errors.Is(err, metastore.ErrConflict) {
			t.Fatalf("CommitFlush with PrevHighWatermark %d (hwm 5): err = %v, want ErrConflict", prev, err)
		}
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 5}})
	checkIndexRows(t, s, tp.ID, 0, 0, 0, first.Rows)
	checkProducers(t, s, tp.ID, 0, nil)
}

func testCommitFlushAtomic(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 3)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	claim(t, s, "b", tp.ID, 2, 0)

	good := func(p int32) metastore.PartitionCommit {
		pc := pcommit(tp.ID, p, 1, 0, 4, row(0, 3, int64(p)*100, 100))
		pc.Producers = []metastore.ProducerState{{ProducerID: 42, Epoch: 1, LastTimestamp: 99}}
		return pc
	}
	for _, tc := range []struct {
		name string
		bad  metastore.PartitionCommit
		want error
	}{
		{"other owner", good(2), metastore.ErrFenced},
		{"stale epoch", func() metastore.PartitionCommit { pc := good(1); pc.Epoch = 0; return pc }(), metastore.ErrFenced},
		{"wrong prev", func() metastore.PartitionCommit {
			pc := pcommit(tp.ID, 1, 1, 2, 4, row(2, 3, 100, 100))
			return pc
		}(), metastore.ErrConflict},
	} {
		// The bad partition comes last, after good ones were applied
		// inside the transaction.
		err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj-" + tc.name, ObjectSize: 300,
			Partitions: []metastore.PartitionCommit{good(0), tc.bad}})
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		checkPartitions(t, s, tp.ID, []metastore.Partition{
			{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1},
			{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1},
			{TopicID: tp.ID, Partition: 2, Owner: "b", Epoch: 1},
		})
		for p := range int32(3) {
			checkIndexRows(t, s, tp.ID, p, 0, 0, nil)
			checkProducers(t, s, tp.ID, p, nil)
		}
	}

	// The same flush without the bad partition goes through.
	commit(t, s, "a", "obj-ok", good(0), good(1))
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 4},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 4},
		{TopicID: tp.ID, Partition: 2, Owner: "b", Epoch: 1},
	})
}

func testCommitFlushConcurrent(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	commit(t, s, "a", "obj-0", pcommit(tp.ID, 0, 1, 0, 2, row(0, 1, 0, 10)))

	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			// Every writer claims offsets [2, 2+i+1): the winner's
			// shape is recognisable afterwards.
			n := int64(i + 1)
			pc := pcommit(tp.ID, 0, 1, 2, 2+n, row(2, 1+n, 0, 10*n))
			errs[i] = s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: fmt.Sprintf("obj-w%d", i), ObjectSize: 10 * n,
				Partitions: []metastore.PartitionCommit{pc}})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both committed from the same PrevHighWatermark", winner, i)
			}
			winner = i
		case errors.Is(err, metastore.ErrConflict), errors.Is(err, metastore.ErrFenced):
		default:
			t.Fatalf("writer %d: err = %v, want nil, ErrConflict or ErrFenced", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent writer committed")
	}
	n := int64(winner + 1)
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 2 + n}})
	want := []metastore.IndexRow{row(0, 1, 0, 10), row(2, 1+n, 0, 10*n)}
	want[0].TopicID, want[0].ObjectKey = tp.ID, "obj-0"
	want[1].TopicID, want[1].ObjectKey = tp.ID, fmt.Sprintf("obj-w%d", winner)
	checkIndexRows(t, s, tp.ID, 0, 0, 0, want)
}

func testIndexRows(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	// Four index rows over two flushes, and an unrelated one on partition 1.
	s1, s2, s3, s4 := row(0, 9, 0, 100), row(10, 19, 100, 100), row(20, 20, 0, 5), row(21, 29, 5, 90)
	commit(t, s, "a", "obj-1", pcommit(tp.ID, 0, 1, 0, 20, s1, s2), pcommit(tp.ID, 1, 1, 0, 100, row(0, 99, 200, 1000)))
	commit(t, s, "a", "obj-2", pcommit(tp.ID, 0, 1, 20, 30, s3, s4))
	s1.ObjectKey, s2.ObjectKey, s3.ObjectKey, s4.ObjectKey = "obj-1", "obj-1", "obj-2", "obj-2"

	for _, tc := range []struct {
		from  int64
		limit int
		want  []metastore.IndexRow
	}{
		{0, 0, []metastore.IndexRow{s1, s2, s3, s4}},
		{-5, 0, []metastore.IndexRow{s1, s2, s3, s4}},
		{0, 2, []metastore.IndexRow{s1, s2}},
		{0, 100, []metastore.IndexRow{s1, s2, s3, s4}},
		{9, 0, []metastore.IndexRow{s1, s2, s3, s4}},
		{10, 0, []metastore.IndexRow{s2, s3, s4}},
		// fromOffset inside a row: that row comes first.
		{15, 0, []metastore.IndexRow{s2, s3, s4}},
		{15, 1, []metastore.IndexRow{s2}},
		{20, 1, []metastore.IndexRow{s3}},
		{25, 0, []metastore.IndexRow{s4}},
		{29, 0, []metastore.IndexRow{s4}},
		{30, 0, nil},
		{1 << 40, 0, nil},
	} {
		got, err := s.IndexRows(ctx, tp.ID, 0, tc.from, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			tc.want[i].TopicID = tp.ID
		}
		checkIndexRowList(t, fmt.Sprintf("IndexRows(from %d, limit %d)", tc.from, tc.limit), got, tc.want)
	}
	// Unknown partitions and topics have no index rows.
	for _, tc := range []struct {
		id metastore.TopicID
		p  int32
	}{{tp.ID, 2}, {newID(), 0}} {
		got, err := s.IndexRows(ctx, tc.id, tc.p, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("IndexRows of %x/%d = %+v, want none", tc.id, tc.p, got)
		}
	}
}

func testIndexRowsByTime(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	// Timestamps are not monotonic across index rows (producers set them).
	s1 := rowAt(0, 9, 0, 10, 100, 200)
	s2 := rowAt(10, 19, 10, 10, 50, 150)
	s3 := rowAt(20, 29, 20, 10, 300, 400)
	s4 := rowAt(30, 39, 30, 10, 210, 250)
	commit(t, s, "a", "obj", pcommit(tp.ID, 0, 1, 0, 40, s1, s2, s3, s4))
	for _, r := range []*metastore.IndexRow{&s1, &s2, &s3, &s4} {
		r.TopicID, r.ObjectKey = tp.ID, "obj"
	}
	for _, tc := range []struct {
		ts    int64
		limit int
		want  []metastore.IndexRow
	}{
		{0, 0, []metastore.IndexRow{s1, s2, s3, s4}},
		{150, 0, []metastore.IndexRow{s1, s2, s3, s4}},
		{151, 0, []metastore.IndexRow{s1, s3, s4}},
		{151, 2, []metastore.IndexRow{s1, s3}},
		{201, 0, []metastore.IndexRow{s3, s4}},
		{251, 0, []metastore.IndexRow{s3}},
		{400, 0, []metastore.IndexRow{s3}},
		{401, 0, nil},
	} {
		got, err := s.IndexRowsByTime(ctx, tp.ID, 0, tc.ts, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		checkIndexRowList(t, fmt.Sprintf("IndexRowsByTime(%d, limit %d)", tc.ts, tc.limit), got, tc.want)
	}
}

func testMaxTimestampRow(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	if _, err := s.MaxTimestampRow(ctx, tp.ID, 0); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("MaxTimestampRow with no index rows: err = %v, want ErrNotFound", err)
	}
	if _, err := s.MaxTimestampRow(ctx, newID(), 0); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("MaxTimestampRow of an unknown topic: err = %v, want ErrNotFound", err)
	}

	s1 := rowAt(0, 9, 0, 10, 100, 200)
	s2 := rowAt(10, 19, 10, 10, 100, 500)
	s3 := rowAt(20, 29, 20, 10, 100, 300)
	commit(t, s, "a", "obj-1", pcommit(tp.ID, 0, 1, 0, 30, s1, s2, s3))
	s2.TopicID, s2.ObjectKey = tp.ID, "obj-1"
	got, err := s.MaxTimestampRow(ctx, tp.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexRowList(t, "MaxTimestampRow", []metastore.IndexRow{got}, []metastore.IndexRow{s2})

	// A later row that ties the maximum does not displace the earlier.
	s4 := rowAt(30, 39, 0, 10, 500, 500)
	commit(t, s, "a", "obj-2", pcommit(tp.ID, 0, 1, 30, 40, s4))
	got, err = s.MaxTimestampRow(ctx, tp.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexRowList(t, "MaxTimestampRow after a tie", []metastore.IndexRow{got}, []metastore.IndexRow{s2})

	// A larger one does.
	s5 := rowAt(40, 49, 10, 10, 0, 501)
	commit(t, s, "a", "obj-2b", pcommit(tp.ID, 0, 1, 40, 50, s5))
	s5.TopicID, s5.ObjectKey = tp.ID, "obj-2b"
	got, err = s.MaxTimestampRow(ctx, tp.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexRowList(t, "MaxTimestampRow after a new maximum", []metastore.IndexRow{got}, []metastore.IndexRow{s5})
}

func testNextProducerID(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	const goroutines, each = 8, 25
	ids := make([][]int64, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				id, err := s.NextProducerID(ctx)
				if err != nil {
					errs[g] = err
					return
				}
				ids[g] = append(ids[g], id)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for g := range goroutines {
		if errs[g] != nil {
			t.Fatalf("NextProducerID: %v", errs[g])
		}
		for i, id := range ids[g] {
			if id <= 0 {
				t.Fatalf("NextProducerID returned %d, want positive", id)
			}
			if seen[id] {
				t.Fatalf("NextProducerID returned %d twice", id)
			}
			seen[id] = true
			// One caller's IDs increase: never reused means never
			// handed out below one already seen.
			if i > 0 && id <= ids[g][i-1] {
				t.Fatalf("NextProducerID went from %d to %d", ids[g][i-1], id)
			}
		}
	}
	if len(seen) != goroutines*each {
		t.Fatalf("got %d distinct IDs, want %d", len(seen), goroutines*each)
	}
}

func testDeleteTopicRemovesData(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	keep := mustCreateTopic(t, s, "keep", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	claim(t, s, "a", keep.ID, 0, 0)
	p0 := pcommit(tp.ID, 0, 1, 0, 10, row(0, 9, 0, 100))
	p0.Producers = []metastore.ProducerState{{ProducerID: 5, Epoch: 1, LastTimestamp: 7}}
	k0 := pcommit(keep.ID, 0, 1, 0, 3, row(0, 2, 200, 30))
	k0.Producers = []metastore.ProducerState{{ProducerID: 5, Epoch: 1, LastTimestamp: 8}}
	commit(t, s, "a", "obj-1", p0, pcommit(tp.ID, 1, 1, 0, 5, row(0, 4, 100, 100)), k0)

	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		checkIndexRows(t, s, tp.ID, p, 0, 0, nil)
		checkProducers(t, s, tp.ID, p, nil)
		if _, err := s.MaxTimestampRow(ctx, tp.ID, p); !errors.Is(err, metastore.ErrNotFound) {
			t.Fatalf("MaxTimestampRow of deleted partition %d: err = %v, want ErrNotFound", p, err)
		}
	}
	// The other topic, sharing the object and a producer ID, keeps its rows.
	checkIndexRows(t, s, keep.ID, 0, 0, 0, k0.Rows)
	checkProducers(t, s, keep.ID, 0, k0.Producers)

	// Re-created under the same name, the topic starts empty.
	again := mustCreateTopic(t, s, "t", 2)
	checkPartitions(t, s, again.ID, []metastore.Partition{
		{TopicID: again.ID, Partition: 0},
		{TopicID: again.ID, Partition: 1},
	})
	checkIndexRows(t, s, again.ID, 0, 0, 0, nil)
	checkProducers(t, s, again.ID, 0, nil)
	CheckAccounting(t, s)
}

// ms returns the time at unix milliseconds m.
func ms(m int64) time.Time { return time.UnixMilli(m) }

func newID() metastore.TopicID {
	var id metastore.TopicID
	rand.Read(id[:])
	return id
}

func mustRegister(t *testing.T, s metastore.Store, a metastore.Agent) metastore.Agent {
	t.Helper()
	got, err := s.RegisterAgent(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// mustCreateTopic creates a topic with n partitions and returns it as the
// store should report it.
func mustCreateTopic(t *testing.T, s metastore.Store, name string, n int32) metastore.Topic {
	t.Helper()
	tp := metastore.Topic{
		Name:              name,
		ID:                newID(),
		Partitions:        n,
		ReplicationFactor: 1,
		CreatedAt:         ms(1_700_000_000_000),
	}
	if err := s.CreateTopic(t.Context(), tp); err != nil {
		t.Fatal(err)
	}
	return tp
}

func claim(t *testing.T, s metastore.Store, agent string, id metastore.TopicID, p, expectEpoch int32) {
	t.Helper()
	if _, err := s.Claim(t.Context(), agent, id, p, expectEpoch); err != nil {
		t.Fatal(err)
	}
}

// row returns an index row of offsets [base, last] at [pos, pos+size) of the
// flush's object, with timestamps equal to its offsets.
func row(base, last, pos, size int64) metastore.IndexRow {
	return rowAt(base, last, pos, size, base, last)
}

func rowAt(base, last, pos, size, minTS, maxTS int64) metastore.IndexRow {
	return metastore.IndexRow{BaseOffset: base, LastOffset: last, Pos: pos, Size: size, MinTimestamp: minTS, MaxTimestamp: maxTS}
}

// pcommit returns a partition commit whose index rows are fully filled in
// (topic, partition; ObjectKey is set by commit).
func pcommit(id metastore.TopicID, p, epoch int32, prev, next int64, rows ...metastore.IndexRow) metastore.PartitionCommit {
	rows = append([]metastore.IndexRow(nil), rows...)
	for i := range rows {
		rows[i].TopicID, rows[i].Partition = id, p
	}
	return metastore.PartitionCommit{TopicID: id, Partition: p, Epoch: epoch, PrevHighWatermark: prev, NewHighWatermark: next, Rows: rows}
}

// commit commits a flush of object key that must succeed, first setting
// the index rows' ObjectKey to key (in place, so callers can compare).
func commit(t *testing.T, s metastore.Store, agent, key string, pcs ...metastore.PartitionCommit) {
	t.Helper()
	var size int64
	for _, pc := range pcs {
		for i := range pc.Rows {
			pc.Rows[i].ObjectKey = key
			size += pc.Rows[i].Size
		}
	}
	if err := s.CommitFlush(t.Context(), metastore.Flush{AgentID: agent, ObjectKey: key, ObjectSize: size, Partitions: pcs}); err != nil {
		t.Fatalf("CommitFlush %s: %v", key, err)
	}
}

func checkTopic(t *testing.T, got, want metastore.Topic) {
	t.Helper()
	if got.Name != want.Name || got.ID != want.ID || got.Partitions != want.Partitions ||
		got.ReplicationFactor != want.ReplicationFactor || !got.CreatedAt.Equal(want.CreatedAt) ||
		!sameConfigs(got.Configs, want.Configs) {
		t.Fatalf("topic = %+v, want %+v", got, want)
	}
}

// sameConfigs treats nil and empty as equal.
func sameConfigs(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func checkAgents(t *testing.T, got, want []metastore.Agent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("agents = %+v, want %+v", got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Host != w.Host || g.Port != w.Port || g.Rack != w.Rack ||
			g.NodeID != w.NodeID || !g.LeaseExpires.Equal(w.LeaseExpires) {
			t.Fatalf("agent %d = %+v, want %+v", i, g, w)
		}
	}
}

func checkPartitions(t *testing.T, s metastore.Store, id metastore.TopicID, want []metastore.Partition) {
	t.Helper()
	got, err := s.Partitions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions = %+v, want %+v", got, want)
	}
}

func checkIndexRows(t *testing.T, s metastore.Store, id metastore.TopicID, p int32, from int64, limit int, want []metastore.IndexRow) {
	t.Helper()
	got, err := s.IndexRows(t.Context(), id, p, from, limit)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexRowList(t, fmt.Sprintf("IndexRows(%x/%d)", id, p), got, want)
}

func checkIndexRowList(t *testing.T, what string, got, want []metastore.IndexRow) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s =\n%+v\nwant\n%+v", what, got, want)
	}
}

func checkProducers(t *testing.T, s metastore.Store, id metastore.TopicID, p int32, want []metastore.ProducerState) {
	t.Helper()
	got, err := s.ProducerStates(t.Context(), id, p)
	if err != nil {
		t.Fatal(err)
	}
	// The contract promises no order.
	norm := func(states []metastore.ProducerState) []metastore.ProducerState {
		out := make([]metastore.ProducerState, len(states))
		copy(out, states)
		for i := range out {
			if len(out[i].Batches) == 0 {
				out[i].Batches = nil
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("producer states of %x/%d =\n%+v\nwant\n%+v", id, p, g, w)
	}
}
