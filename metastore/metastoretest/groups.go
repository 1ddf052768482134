package metastoretest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

func testSetLogStartOffset(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	claim(t, s, "a", tp.ID, 0, 0)
	commit(t, s, "a", "obj-1", pcommit(tp.ID, 0, 1, 0, 10, row(0, 9, 0, 100)))

	// An empty partition: 0 is both the high watermark and the start.
	if got, err := s.SetLogStartOffset(ctx, tp.ID, 1, 0); err != nil || got != 0 {
		t.Fatalf("SetLogStartOffset(p1, 0) = %d, %v; want 0, nil", got, err)
	}
	for _, tc := range []struct {
		offset, want int64
	}{
		{5, 5},
		{3, 5}, // never lowers
		{5, 5},
		{-1, 5},
		{10, 10}, // up to the high watermark, inclusive
	} {
		got, err := s.SetLogStartOffset(ctx, tp.ID, 0, tc.offset)
		if err != nil {
			t.Fatalf("SetLogStartOffset(%d): %v", tc.offset, err)
		}
		if got != tc.want {
			t.Fatalf("SetLogStartOffset(%d) = %d, want %d", tc.offset, got, tc.want)
		}
	}
	for _, p := range []int32{0, 1} {
		if _, err := s.SetLogStartOffset(ctx, tp.ID, p, 11+int64(p)*100); !errors.Is(err, metastore.ErrConflict) {
			t.Fatalf("SetLogStartOffset above the high watermark of p%d: err = %v, want ErrConflict", p, err)
		}
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 10, LogStartOffset: 10},
		{TopicID: tp.ID, Partition: 1},
	})
	// The row wholly below the new log start is gone.
	checkIndexRows(t, s, tp.ID, 0, 0, 0, nil)
	// Flushes continue past it, and ownership changes keep it.
	commit(t, s, "a", "obj-2", pcommit(tp.ID, 0, 1, 10, 12, row(10, 11, 0, 10)))
	claim(t, s, "b", tp.ID, 0, 1)
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "b", Epoch: 2, HighWatermark: 12, LogStartOffset: 10},
		{TopicID: tp.ID, Partition: 1},
	})

	for _, tc := range []struct {
		id metastore.TopicID
		p  int32
	}{{tp.ID, 2}, {tp.ID, -1}, {newID(), 0}} {
		if _, err := s.SetLogStartOffset(ctx, tc.id, tc.p, 0); !errors.Is(err, metastore.ErrNotFound) {
			t.Errorf("SetLogStartOffset(%x/%d): err = %v, want ErrNotFound", tc.id, tc.p, err)
		}
	}
	CheckAccounting(t, s)
}

func testAddPartitions(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	other := mustCreateTopic(t, s, "other", 1)
	claim(t, s, "a", tp.ID, 1, 0)
	commit(t, s, "a", "obj-1", pcommit(tp.ID, 1, 1, 0, 4, row(0, 3, 0, 40)))

	got, err := s.AddPartitions(ctx, "t", 5)
	if err != nil {
		t.Fatal(err)
	}
	tp.Partitions = 5
	checkTopic(t, got, tp)
	got, err = s.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, tp)
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 4},
		{TopicID: tp.ID, Partition: 2},
		{TopicID: tp.ID, Partition: 3},
		{TopicID: tp.ID, Partition: 4},
	})

	// Keeping or shrinking the count is refused and changes nothing.
	for _, total := range []int32{5, 3, 0, -1} {
		if _, err := s.AddPartitions(ctx, "t", total); !errors.Is(err, metastore.ErrConflict) {
			t.Fatalf("AddPartitions(t, %d) with 5 partitions: err = %v, want ErrConflict", total, err)
		}
	}
	if _, err := s.AddPartitions(ctx, "absent", 3); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("AddPartitions(absent): err = %v, want ErrNotFound", err)
	}
	got, err = s.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, tp)
	got, err = s.Topic(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	checkTopic(t, got, other)

	// The new partitions work like the old ones.
	claim(t, s, "b", tp.ID, 4, 0)
	commit(t, s, "b", "obj-2", pcommit(tp.ID, 4, 1, 0, 2, row(0, 1, 0, 20)))
	checkIndexRows(t, s, tp.ID, 4, 0, 0, []metastore.IndexRow{{TopicID: tp.ID, Partition: 4, BaseOffset: 0, LastOffset: 1,
		ObjectKey: "obj-2", Size: 20, MinTimestamp: 0, MaxTimestamp: 1}})
}

// testDeleteGrownTopic checks that DeleteTopic behaves as before partition
// growth and groups existed: it removes every partition, the added ones
// included, and leaves group offsets (keyed by topic name) alone.
func testDeleteGrownTopic(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	if _, err := s.AddPartitions(ctx, "t", 3); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "a", tp.ID, 2, 0)
	pc := pcommit(tp.ID, 2, 1, 0, 5, row(0, 4, 0, 50))
	pc.Producers = []metastore.ProducerState{{ProducerID: 3, Epoch: 0, LastTimestamp: 9}}
	commit(t, s, "a", "obj-1", pc)
	if _, err := s.SetLogStartOffset(ctx, tp.ID, 2, 3); err != nil {
		t.Fatal(err)
	}
	offsets := []metastore.GroupOffset{{Topic: "t", Partition: 2, Offset: 5, LeaderEpoch: 1, CommitTime: ms(1_700_000_000_000)}}
	if err := s.CommitOffsets(ctx, "g", offsets); err != nil {
		t.Fatal(err)
	}

	deleted, err := s.DeleteTopic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	tp.Partitions = 3
	checkTopic(t, deleted, tp)
	if _, err := s.Partitions(ctx, tp.ID); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("Partitions after delete: err = %v, want ErrNotFound", err)
	}
	checkIndexRows(t, s, tp.ID, 2, 0, 0, nil)
	checkProducers(t, s, tp.ID, 2, nil)
	if _, err := s.SetLogStartOffset(ctx, tp.ID, 2, 0); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("SetLogStartOffset after delete: err = %v, want ErrNotFound", err)
	}
	err = s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj-2", ObjectSize: 10,
		Partitions: []metastore.PartitionCommit{pcommit(tp.ID, 2, 1, 5, 6, row(5, 5, 0, 10))}})
	if !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("CommitFlush to a deleted grown partition: err = %v, want ErrFenced", err)
	}
	checkGroupOffsets(t, s, "g", offsets)

	again := mustCreateTopic(t, s, "t", 1)
	checkPartitions(t, s, again.ID, []metastore.Partition{{TopicID: again.ID, Partition: 0}})
}

func testCommitOffsets(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	checkGroupOffsets(t, s, "g", nil) // unknown group: no offsets, no error
	if _, err := s.LoadGroup(ctx, "g"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("LoadGroup before any commit: err = %v, want ErrNotFound", err)
	}
	// Committing nothing creates nothing.
	if err := s.CommitOffsets(ctx, "g", nil); err != nil {
		t.Fatal(err)
	}

	meta, empty := "client meta ü \" \\", ""
	first := []metastore.GroupOffset{
		{Topic: "zeta", Partition: 0, Offset: 7, LeaderEpoch: 2, Metadata: &meta, CommitTime: ms(1_700_000_000_001)},
		{Topic: "alpha", Partition: 10, Offset: 100, LeaderEpoch: -1, CommitTime: ms(1_700_000_000_002)},
		{Topic: "alpha", Partition: 2, Offset: 0, LeaderEpoch: 0, Metadata: &empty, CommitTime: ms(1_700_000_000_003)},
		{Topic: "Alpha", Partition: 0, Offset: 1 << 40, LeaderEpoch: 5, CommitTime: ms(1_700_000_000_004)},
	}
	before := time.Now().Add(-time.Second)
	if err := s.CommitOffsets(ctx, "g", first); err != nil {
		t.Fatal(err)
	}
	// Ordered by topic (byte order) then partition (numerically).
	checkGroupOffsets(t, s, "g", []metastore.GroupOffset{first[3], first[2], first[1], first[0]})

	// The commit created an offset-only group.
	g, err := s.LoadGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "g" || g.ProtocolType != "" || g.Protocol != "" || g.State != "Empty" ||
		g.Generation != 0 || g.Leader != "" || len(g.Members) != 0 {
		t.Fatalf("group created by CommitOffsets = %+v, want an Empty offset-only group", g)
	}
	if g.UpdatedAt.Before(before) {
		t.Fatalf("group created by CommitOffsets has UpdatedAt %v, want about now", g.UpdatedAt)
	}
	checkGroupNames(t, s, "g")

	// A second commit replaces some offsets (metadata may become null)
	// and adds others; a zero CommitTime means now.
	second := []metastore.GroupOffset{
		{Topic: "zeta", Partition: 0, Offset: 9, LeaderEpoch: 3, CommitTime: ms(1_700_000_001_000)},
		{Topic: "zeta", Partition: 1, Offset: 1, LeaderEpoch: 3, Metadata: &meta},
	}
	if err := s.CommitOffsets(ctx, "g", second); err != nil {
		t.Fatal(err)
	}
	got, err := s.GroupOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("GroupOffsets = %+v, want 5 offsets", got)
	}
	if got[4].CommitTime.Before(before) || got[4].CommitTime.After(time.Now().Add(time.Minute)) {
		t.Fatalf("offset committed with a zero CommitTime has CommitTime %v, want about now", got[4].CommitTime)
	}
	second[1].CommitTime = got[4].CommitTime
	checkGroupOffsets(t, s, "g", []metastore.GroupOffset{first[3], first[2], first[1], second[0], second[1]})

	// Groups do not share offsets.
	checkGroupOffsets(t, s, "other", nil)
	if err := s.CommitOffsets(ctx, "other", first[:1]); err != nil {
		t.Fatal(err)
	}
	checkGroupOffsets(t, s, "other", first[:1])
	checkGroupNames(t, s, "g", "other")
}

func testCommitOffsetsConcurrent(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	// Many first commits to one new group race to create its row.
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			errs[i] = s.CommitOffsets(ctx, "g", []metastore.GroupOffset{
				{Topic: "t", Partition: int32(i), Offset: int64(i), LeaderEpoch: -1, CommitTime: ms(int64(i + 1))},
				{Topic: "shared", Partition: 0, Offset: int64(i), LeaderEpoch: -1, CommitTime: ms(int64(i + 1))},
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got, err := s.GroupOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers+1 {
		t.Fatalf("GroupOffsets = %+v, want %d offsets", got, writers+1)
	}
	// The shared offset is one writer's whole row, not a mix.
	if sh := got[0]; sh.Topic != "shared" || !sh.CommitTime.Equal(ms(sh.Offset+1)) {
		t.Fatalf("shared offset = %+v, want one writer's commit", sh)
	}
	checkGroupNames(t, s, "g")
}

func testCommitOffsetsKeepsGroupState(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	stable := metastore.Group{Name: "g", ProtocolType: "consumer", Protocol: "range", State: "Stable",
		Generation: 4, Leader: "m-1", Members: []byte{1, 2, 3}, UpdatedAt: ms(1_700_000_000_000)}
	if err := s.SaveGroup(ctx, stable); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsets(ctx, "g", []metastore.GroupOffset{{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1, CommitTime: ms(5)}}); err != nil {
		t.Fatal(err)
	}
	checkGroup(t, s, stable)
}

func testDeleteGroupOffsets(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	var offsets []metastore.GroupOffset
	for _, topic := range []string{"a", "b"} {
		for p := range int32(3) {
			offsets = append(offsets, metastore.GroupOffset{Topic: topic, Partition: p, Offset: int64(p), LeaderEpoch: -1, CommitTime: ms(1)})
		}
	}
	for _, g := range []string{"g", "h"} {
		if err := s.CommitOffsets(ctx, g, offsets); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 7 has no offset and is ignored.
	if err := s.DeleteGroupOffsets(ctx, "g", "a", []int32{0, 2, 7}); err != nil {
		t.Fatal(err)
	}
	checkGroupOffsets(t, s, "g", []metastore.GroupOffset{offsets[1], offsets[3], offsets[4], offsets[5]})
	checkGroupOffsets(t, s, "h", offsets)
	for _, tc := range []struct {
		group, topic string
		partitions   []int32
	}{
		{"g", "a", nil},
		{"g", "absent", []int32{0}},
		{"absent", "a", []int32{1}},
	} {
		if err := s.DeleteGroupOffsets(ctx, tc.group, tc.topic, tc.partitions); err != nil {
			t.Fatalf("DeleteGroupOffsets(%q, %q, %v): %v", tc.group, tc.topic, tc.partitions, err)
		}
	}
	checkGroupOffsets(t, s, "g", []metastore.GroupOffset{offsets[1], offsets[3], offsets[4], offsets[5]})
	// Deleting every offset keeps the group.
	if err := s.DeleteGroupOffsets(ctx, "g", "a", []int32{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroupOffsets(ctx, "g", "b", []int32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	checkGroupOffsets(t, s, "g", nil)
	checkGroupNames(t, s, "g", "h")
}

func testSaveLoadGroup(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	if _, err := s.LoadGroup(ctx, "g"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("LoadGroup(absent): err = %v, want ErrNotFound", err)
	}
	members := make([]byte, 70_000)
	for i := range members {
		members[i] = byte(i * 7)
	}
	g := metastore.Group{Name: "g", ProtocolType: "consumer", Protocol: "cooperative-sticky",
		State: "CompletingRebalance", Generation: 1, Leader: "member-1", Members: members, UpdatedAt: ms(1_700_000_000_500)}
	if err := s.SaveGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	checkGroup(t, s, g)

	offsets := []metastore.GroupOffset{{Topic: "t", Partition: 0, Offset: 3, LeaderEpoch: 1, CommitTime: ms(9)}}
	if err := s.CommitOffsets(ctx, "g", offsets); err != nil {
		t.Fatal(err)
	}
	// Saving replaces every field and keeps the offsets.
	g2 := metastore.Group{Name: "g", ProtocolType: "consumer", Protocol: "range", State: "Stable",
		Generation: 2, Leader: "member-2", Members: []byte("m"), UpdatedAt: ms(1_700_000_000_900)}
	if err := s.SaveGroup(ctx, g2); err != nil {
		t.Fatal(err)
	}
	checkGroup(t, s, g2)
	checkGroupOffsets(t, s, "g", offsets)

	// Empty members and a zero UpdatedAt (stored as now).
	before := time.Now().Add(-time.Second)
	g3 := metastore.Group{Name: "g", State: "Empty", Generation: 3}
	if err := s.SaveGroup(ctx, g3); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if got.UpdatedAt.Before(before) {
		t.Fatalf("UpdatedAt = %v, want about now", got.UpdatedAt)
	}
	g3.UpdatedAt = got.UpdatedAt
	checkGroup(t, s, g3)
}

func testGroups(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	checkGroupNames(t, s)
	want := map[string]metastore.Group{}
	for i, name := range []string{"zeta", "alpha", "Alpha", "alpha.2", "mid"} {
		g := metastore.Group{Name: name, ProtocolType: "consumer", Protocol: "range", State: "Stable",
			Generation: int32(i), Leader: "l-" + name, Members: []byte(name), UpdatedAt: ms(int64(1000 + i))}
		if err := s.SaveGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		want[name] = g
	}
	if err := s.CommitOffsets(ctx, "beta", []metastore.GroupOffset{{Topic: "t", Offset: 1, LeaderEpoch: -1, CommitTime: ms(1)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"Alpha", "alpha", "alpha.2", "beta", "mid", "zeta"} // byte order
	if len(got) != len(names) {
		t.Fatalf("Groups = %+v, want %q", got, names)
	}
	for i, name := range names {
		if got[i].Name != name {
			t.Fatalf("Groups[%d] = %q, want %q", i, got[i].Name, name)
		}
		if name == "beta" {
			if got[i].State != "Empty" || got[i].ProtocolType != "" {
				t.Fatalf("offset-only group = %+v", got[i])
			}
			continue
		}
		if !sameGroup(got[i], want[name]) {
			t.Fatalf("Groups[%d] = %+v, want %+v", i, got[i], want[name])
		}
	}
}

func testDeleteGroup(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	if err := s.DeleteGroup(ctx, "g"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("DeleteGroup(absent): err = %v, want ErrNotFound", err)
	}
	offsets := []metastore.GroupOffset{
		{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1, CommitTime: ms(1)},
		{Topic: "t", Partition: 1, Offset: 2, LeaderEpoch: -1, CommitTime: ms(1)},
	}
	for _, g := range []string{"g", "keep"} {
		if err := s.SaveGroup(ctx, metastore.Group{Name: g, ProtocolType: "consumer", State: "Stable", UpdatedAt: ms(1)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitOffsets(ctx, g, offsets); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadGroup(ctx, "g"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("LoadGroup after delete: err = %v, want ErrNotFound", err)
	}
	checkGroupOffsets(t, s, "g", nil)
	checkGroupOffsets(t, s, "keep", offsets)
	checkGroupNames(t, s, "keep")
	if err := s.DeleteGroup(ctx, "g"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("second DeleteGroup: err = %v, want ErrNotFound", err)
	}

	// An offset-only group is deleted the same way, and a later commit
	// starts afresh.
	if err := s.CommitOffsets(ctx, "g", offsets[:1]); err != nil {
		t.Fatal(err)
	}
	checkGroupOffsets(t, s, "g", offsets[:1])
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	checkGroupOffsets(t, s, "g", nil)
	checkGroupNames(t, s, "keep")
}

func checkGroupOffsets(t *testing.T, s metastore.Store, group string, want []metastore.GroupOffset) {
	t.Helper()
	got, err := s.GroupOffsets(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("offsets of group %q =\n%s\nwant\n%s", group, fmtOffsets(got), fmtOffsets(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Topic != w.Topic || g.Partition != w.Partition || g.Offset != w.Offset ||
			g.LeaderEpoch != w.LeaderEpoch || !g.CommitTime.Equal(w.CommitTime) ||
			!reflect.DeepEqual(g.Metadata, w.Metadata) {
			t.Fatalf("offsets of group %q =\n%s\nwant\n%s", group, fmtOffsets(got), fmtOffsets(want))
		}
	}
}

func fmtOffsets(offsets []metastore.GroupOffset) string {
	var b bytes.Buffer
	for _, o := range offsets {
		meta := "<nil>"
		if o.Metadata != nil {
			meta = fmt.Sprintf("%q", *o.Metadata)
		}
		fmt.Fprintf(&b, "  %s/%d offset %d epoch %d metadata %s at %v\n",
			o.Topic, o.Partition, o.Offset, o.LeaderEpoch, meta, o.CommitTime.UTC())
	}
	return b.String()
}

func checkGroup(t *testing.T, s metastore.Store, want metastore.Group) {
	t.Helper()
	got, err := s.LoadGroup(t.Context(), want.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !sameGroup(got, want) {
		t.Fatalf("group = %+v, want %+v", got, want)
	}
}

// sameGroup compares groups, treating nil and empty Members as equal.
func sameGroup(a, b metastore.Group) bool {
	return a.Name == b.Name && a.ProtocolType == b.ProtocolType && a.Protocol == b.Protocol &&
		a.State == b.State && a.Generation == b.Generation && a.Leader == b.Leader &&
		bytes.Equal(a.Members, b.Members) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func checkGroupNames(t *testing.T, s metastore.Store, want ...string) {
	t.Helper()
	groups, err := s.Groups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("Groups = %q, want %q", names, want)
	}
}
