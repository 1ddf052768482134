package metastoretest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// lifecycleTests are the suite's tests of metastore.Lifecycle; each ends
// with CheckAccounting.
var lifecycleTests = []struct {
	name string
	fn   func(t *testing.T, s metastore.Store)
}{
	{"Leases", testLeases},
	{"LeaseNotFound", testLeaseNotFound},
	{"Replace", testReplace},
	{"ReplaceFenced", testReplaceFenced},
	{"ReplaceConflict", testReplaceConflict},
	{"ReplaceInvalid", testReplaceInvalid},
	{"ReplaceKnownOutput", testReplaceKnownOutput},
	{"ReplaceRace", testReplaceRace},
	{"ReplaceWithFlush", testReplaceWithFlush},
	{"TrimLog", testTrimLog},
	{"TrimLogLease", testTrimLogLease},
	{"SetLogStartOffsetAccounting", testSetLogStartOffsetAccounting},
	{"DeleteTopicKillsObjects", testDeleteTopicKillsObjects},
	{"CommitFlushSameKeyAddsLiveBytes", testCommitFlushSameKey},
	{"CommitFlushRowOfOtherObject", testCommitFlushRowOfOtherObject},
	{"StaleUpload", testStaleUpload},
	{"ForgetObjects", testForgetObjects},
	{"CommitFlushDeadObject", testCommitFlushDeadObject},
	{"KnownObjects", testKnownObjects},
	{"DeadAndLowLiveObjects", testDeadAndLowLiveObjects},
	{"ObjectStats", testObjectStats},
	{"RowCounts", testRowCounts},
	{"AccountingConcurrent", testAccountingConcurrent},
}

// CheckAccounting checks, through the Lifecycle and LogIndex interfaces,
// the invariants every Store keeps between its log index and its objects:
//
//   - every object's LiveBytes is the sum of the sizes of ObjectRows(key),
//     and its DeadSince is set exactly when there are none;
//   - every index row of every partition points into an object the
//     metastore knows: nothing it references is ever forgotten;
//   - ObjectStats and RowCounts agree with the objects and rows listed.
//
// It lists everything, so it is for test-sized stores.
func CheckAccounting(t testing.TB, s metastore.Store) {
	t.Helper()
	ctx := t.Context()
	objs := allObjects(t, s)
	type statKey struct {
		kind metastore.ObjectKind
		dead bool
	}
	wantStats := map[statKey]metastore.ObjectStat{}
	for key, o := range objs {
		rows, err := s.ObjectRows(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var live int64
		for _, r := range rows {
			if r.ObjectKey != key {
				t.Errorf("ObjectRows(%q) returned a row of %q", key, r.ObjectKey)
			}
			live += r.Size
		}
		if o.LiveBytes != live {
			t.Errorf("object %q: LiveBytes %d, its %d index rows hold %d", key, o.LiveBytes, len(rows), live)
		}
		if dead := !o.DeadSince.IsZero(); dead != (len(rows) == 0) {
			t.Errorf("object %q: DeadSince %v with %d index rows", key, o.DeadSince, len(rows))
		}
		k := statKey{o.Kind, !o.DeadSince.IsZero()}
		st := wantStats[k]
		st.Kind, st.Dead = k.kind, k.dead
		st.Count++
		st.Bytes += o.Size
		st.LiveBytes += o.LiveBytes
		if st.OldestCreated.IsZero() || o.CreatedAt.Before(st.OldestCreated) {
			st.OldestCreated = o.CreatedAt
		}
		wantStats[k] = st
	}

	stats, err := s.ObjectStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stats {
		want := wantStats[statKey{st.Kind, st.Dead}]
		want.Kind, want.Dead = st.Kind, st.Dead
		if st.Count != want.Count || st.Bytes != want.Bytes || st.LiveBytes != want.LiveBytes ||
			!st.OldestCreated.Equal(want.OldestCreated) {
			t.Errorf("ObjectStats %s dead=%v = %+v, the objects listed sum to %+v", st.Kind, st.Dead, st, want)
		}
		delete(wantStats, statKey{st.Kind, st.Dead})
	}
	if len(wantStats) > 0 {
		t.Errorf("ObjectStats lacks %+v", wantStats)
	}

	topics, err := s.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[metastore.PartitionRef]metastore.PartitionRows{}
	var referenced []string
	for _, tp := range topics {
		for p := range tp.Partitions {
			rows, err := s.IndexRows(ctx, tp.ID, p, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			ref := metastore.PartitionRef{TopicID: tp.ID, Partition: p}
			for _, r := range rows {
				o, ok := objs[r.ObjectKey]
				if !ok {
					t.Errorf("index row %s/%d [%d, %d] points into %q, which the metastore does not know",
						tp.Name, p, r.BaseOffset, r.LastOffset, r.ObjectKey)
				}
				referenced = append(referenced, r.ObjectKey)
				pr := wantCounts[ref]
				pr.PartitionRef = ref
				switch r.Kind {
				case metastore.RowFlush:
					pr.FlushRows++
					pr.FlushBytes += r.Size
					if ok && (pr.OldestFlush.IsZero() || o.CreatedAt.Before(pr.OldestFlush)) {
						pr.OldestFlush = o.CreatedAt
					}
				case metastore.RowSegment:
					pr.SegmentRows++
					pr.SegmentBytes += r.Size
				default:
					t.Errorf("index row %s/%d [%d, %d] has unknown kind %d", tp.Name, p, r.BaseOffset, r.LastOffset, r.Kind)
				}
				wantCounts[ref] = pr
			}
		}
	}
	known, err := s.KnownObjects(ctx, referenced)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range referenced {
		if !known[k] {
			t.Errorf("KnownObjects says referenced object %q is unknown", k)
		}
	}

	counts, err := s.RowCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range counts {
		if i > 0 && !refLess(counts[i-1].PartitionRef, pr.PartitionRef) {
			t.Errorf("RowCounts not ordered by topic and partition: %+v before %+v", counts[i-1].PartitionRef, pr.PartitionRef)
		}
		want, ok := wantCounts[pr.PartitionRef]
		if !ok {
			// Rows of a deleted topic's partitions would show up here.
			t.Errorf("RowCounts lists %x/%d, which has no index rows", pr.TopicID, pr.Partition)
			continue
		}
		if pr.FlushRows != want.FlushRows || pr.FlushBytes != want.FlushBytes || pr.SegmentRows != want.SegmentRows ||
			pr.SegmentBytes != want.SegmentBytes || !pr.OldestFlush.Equal(want.OldestFlush) {
			t.Errorf("RowCounts %x/%d = %+v, the index rows say %+v", pr.TopicID, pr.Partition, pr, want)
		}
		delete(wantCounts, pr.PartitionRef)
	}
	if len(wantCounts) > 0 {
		t.Errorf("RowCounts lacks %+v", wantCounts)
	}
}

func refLess(a, b metastore.PartitionRef) bool {
	if c := slices.Compare(a.TopicID[:], b.TopicID[:]); c != 0 {
		return c < 0
	}
	return a.Partition < b.Partition
}

// allObjects lists every object the store knows, live (by a ratio no
// object reaches) and dead.
func allObjects(t testing.TB, s metastore.Store) map[string]metastore.Object {
	t.Helper()
	ctx := t.Context()
	objs := map[string]metastore.Object{}
	add := func(list []metastore.Object, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list {
			if _, dup := objs[o.Key]; dup {
				t.Errorf("object %q listed twice", o.Key)
			}
			objs[o.Key] = o
		}
	}
	for _, kind := range []metastore.ObjectKind{metastore.ObjectFlush, metastore.ObjectSegment} {
		add(s.LowLiveObjects(ctx, kind, 1e12, 0))
	}
	add(s.DeadObjects(ctx, time.Now().Add(24*time.Hour), 0))
	return objs
}

// object returns the store's object key; ok false if it does not know it.
func object(t testing.TB, s metastore.Store, key string) (metastore.Object, bool) {
	t.Helper()
	o, ok := allObjects(t, s)[key]
	return o, ok
}

// checkLive checks that the object is known and live with live bytes.
func checkLive(t testing.TB, s metastore.Store, key string, kind metastore.ObjectKind, size, live int64) {
	t.Helper()
	o, ok := object(t, s, key)
	if !ok {
		t.Fatalf("object %q is unknown, want it live", key)
	}
	if o.Kind != kind || o.Size != size || o.LiveBytes != live || !o.DeadSince.IsZero() || o.CreatedAt.IsZero() {
		t.Fatalf("object %q = %+v, want live %s of %d bytes, %d live", key, o, kind, size, live)
	}
}

// checkDead checks that the object is known and dead since about now.
func checkDead(t testing.TB, s metastore.Store, key string, after time.Time) {
	t.Helper()
	o, ok := object(t, s, key)
	if !ok {
		t.Fatalf("object %q is unknown, want it dead", key)
	}
	// A minute's slack for clocks: the database may stamp times itself.
	if o.LiveBytes != 0 || o.DeadSince.Before(after.Add(-time.Minute)) || o.DeadSince.After(time.Now().Add(time.Minute)) {
		t.Fatalf("object %q = %+v, want dead since %v or later", key, o, after)
	}
}

func checkUnknown(t testing.TB, s metastore.Store, keys ...string) {
	t.Helper()
	known, err := s.KnownObjects(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if known[k] {
			t.Fatalf("object %q is known, want unknown", k)
		}
	}
}

func mustClaimLease(t testing.TB, s metastore.Store, holder string, id metastore.TopicID, p int32, now time.Time, ttl time.Duration) metastore.Lease {
	t.Helper()
	l, err := s.ClaimLease(t.Context(), holder, id, p, now, ttl)
	if err != nil {
		t.Fatalf("ClaimLease(%s): %v", holder, err)
	}
	return l
}

// segRow is a segment object's one index row for offsets [base, last].
func segRow(id metastore.TopicID, p int32, key string, base, last, size int64) metastore.IndexRow {
	return metastore.IndexRow{TopicID: id, Partition: p, BaseOffset: base, LastOffset: last, ObjectKey: key,
		Size: size, MinTimestamp: base, MaxTimestamp: last, Kind: metastore.RowSegment}
}

// replacement replaces inputs by one segment row in key.
func replacement(l metastore.Lease, key string, inputs []metastore.IndexRow, size int64) metastore.Replacement {
	first, last := inputs[0].BaseOffset, inputs[len(inputs)-1].LastOffset
	return metastore.Replacement{
		Lease:      l,
		Inputs:     inputs,
		Output:     metastore.Object{Key: key, Kind: metastore.ObjectSegment, Size: size + 100},
		Rows:       []metastore.IndexRow{segRow(l.TopicID, l.Partition, key, first, last, size)},
		UploadedAt: time.Now(),
	}
}

func mustIndexRows(t testing.TB, s metastore.Store, id metastore.TopicID, p int32) []metastore.IndexRow {
	t.Helper()
	rows, err := s.IndexRows(t.Context(), id, p, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func testLeases(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	now := ms(1_700_000_000_000)
	const ttl = 10 * time.Second

	a := mustClaimLease(t, s, "a", tp.ID, 0, now, ttl)
	want := metastore.Lease{TopicID: tp.ID, Partition: 0, Holder: "a", Token: a.Token, Expires: now.Add(ttl)}
	if a.Token <= 0 || a.TopicID != want.TopicID || a.Partition != 0 || a.Holder != "a" || !a.Expires.Equal(want.Expires) {
		t.Fatalf("ClaimLease = %+v, want %+v with a positive token", a, want)
	}
	// The same holder extends it and keeps the token.
	ext := mustClaimLease(t, s, "a", tp.ID, 0, now.Add(5*time.Second), ttl)
	if ext.Token != a.Token || !ext.Expires.Equal(now.Add(15*time.Second)) {
		t.Fatalf("extended lease = %+v, want token %d until %v", ext, a.Token, now.Add(15*time.Second))
	}
	// Another holder waits for expiry: at now+15s it is expired.
	for _, at := range []time.Time{now, now.Add(15*time.Second - time.Millisecond)} {
		if _, err := s.ClaimLease(ctx, "b", tp.ID, 0, at, ttl); !errors.Is(err, metastore.ErrConflict) {
			t.Fatalf("ClaimLease by b at %v: err = %v, want ErrConflict", at, err)
		}
	}
	// Another partition's lease is independent.
	mustClaimLease(t, s, "b", tp.ID, 1, now, ttl)

	b := mustClaimLease(t, s, "b", tp.ID, 0, now.Add(15*time.Second), ttl)
	if b.Token <= a.Token || b.Holder != "b" {
		t.Fatalf("lease taken over after expiry = %+v, want holder b and a token above %d", b, a.Token)
	}
	// a's lease is stale: releasing it does nothing, a cannot re-claim.
	if err := s.ReleaseLease(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimLease(ctx, "a", tp.ID, 0, now.Add(16*time.Second), ttl); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("ClaimLease by a after its stale release: err = %v, want ErrConflict (b holds it)", err)
	}
	// A release with b's holder but an old token does nothing either.
	if err := s.ReleaseLease(ctx, metastore.Lease{TopicID: tp.ID, Partition: 0, Holder: "b", Token: a.Token}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimLease(ctx, "c", tp.ID, 0, now.Add(16*time.Second), ttl); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("ClaimLease by c: err = %v, want ErrConflict (b holds it)", err)
	}
	// b's own release frees it at once; the next holder's token is higher.
	if err := s.ReleaseLease(ctx, b); err != nil {
		t.Fatal(err)
	}
	c := mustClaimLease(t, s, "c", tp.ID, 0, now.Add(16*time.Second), ttl)
	if c.Token <= b.Token {
		t.Fatalf("lease after release = %+v, want a token above %d", c, b.Token)
	}
	// Released and claimed again by the same holder, a lease is a new
	// one: the old handle must not become current again.
	if err := s.ReleaseLease(ctx, c); err != nil {
		t.Fatal(err)
	}
	c2 := mustClaimLease(t, s, "c", tp.ID, 0, now.Add(17*time.Second), ttl)
	if c2.Token <= c.Token {
		t.Fatalf("re-claim after release = %+v, want a token above %d", c2, c.Token)
	}
	// An expired lease nobody took is still its holder's: re-claimed, it
	// keeps its token.
	c3 := mustClaimLease(t, s, "c", tp.ID, 0, now.Add(time.Hour), ttl)
	if c3.Token != c2.Token {
		t.Fatalf("re-claim of an expired lease nobody took = %+v, want token %d", c3, c2.Token)
	}
	CheckAccounting(t, s)
}

func testLeaseNotFound(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	for _, tc := range []struct {
		id metastore.TopicID
		p  int32
	}{{tp.ID, 1}, {tp.ID, -1}, {newID(), 0}} {
		if _, err := s.ClaimLease(ctx, "a", tc.id, tc.p, time.Now(), time.Minute); !errors.Is(err, metastore.ErrNotFound) {
			t.Errorf("ClaimLease(%x/%d): err = %v, want ErrNotFound", tc.id, tc.p, err)
		}
	}
	if err := s.ReleaseLease(ctx, metastore.Lease{TopicID: newID(), Holder: "a", Token: 1}); err != nil {
		t.Errorf("ReleaseLease of an unknown partition: %v, want nil (nothing to do)", err)
	}
	CheckAccounting(t, s)
}

// replaceFixture is a topic whose partition 0 has rows [0,4] and [5,9] in
// obj-1, [10,14] in obj-2, and whose partition 1 has [0,4] in obj-1.
func replaceFixture(t *testing.T, s metastore.Store) metastore.Topic {
	tp := mustCreateTopic(t, s, "t", 2)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	commit(t, s, "a", "obj-1",
		pcommit(tp.ID, 0, 1, 0, 10, row(0, 4, 0, 100), row(5, 9, 100, 100)),
		pcommit(tp.ID, 1, 1, 0, 5, row(0, 4, 200, 50)))
	commit(t, s, "a", "obj-2", pcommit(tp.ID, 0, 1, 10, 15, row(10, 14, 0, 70)))
	return tp
}

func testReplace(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	l := mustClaimLease(t, s, "compactor", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)
	if len(inputs) != 3 || inputs[0].Kind != metastore.RowFlush {
		t.Fatalf("fixture rows = %+v", inputs)
	}
	before := time.Now()
	r := replacement(l, "seg-1", inputs, 240)
	r.Rows[0].ObjectKey, r.Rows[0].TopicID = "", metastore.TopicID{} // defaults
	if err := s.Replace(ctx, r); err != nil {
		t.Fatal(err)
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, []metastore.IndexRow{segRow(tp.ID, 0, "seg-1", 0, 14, 240)})
	checkIndexRows(t, s, tp.ID, 1, 0, 0, []metastore.IndexRow{{TopicID: tp.ID, Partition: 1, BaseOffset: 0, LastOffset: 4,
		ObjectKey: "obj-1", Pos: 200, Size: 50, MinTimestamp: 0, MaxTimestamp: 4}})
	checkLive(t, s, "seg-1", metastore.ObjectSegment, 340, 240)
	checkLive(t, s, "obj-1", metastore.ObjectFlush, 250, 50) // partition 1's row keeps it
	checkDead(t, s, "obj-2", before)
	// The switch moved nothing else: bounds and ownership stay.
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 15},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 5},
	})
	// Readers find the segment row by offset and by time.
	checkIndexRows(t, s, tp.ID, 0, 7, 1, []metastore.IndexRow{segRow(tp.ID, 0, "seg-1", 0, 14, 240)})
	if got, err := s.MaxTimestampRow(ctx, tp.ID, 0); err != nil || got != segRow(tp.ID, 0, "seg-1", 0, 14, 240) {
		t.Fatalf("MaxTimestampRow = %+v, %v", got, err)
	}
	// Segments are compacted again: the segment itself is an input.
	commit(t, s, "a", "obj-3", pcommit(tp.ID, 0, 1, 15, 20, row(15, 19, 0, 30)))
	inputs = mustIndexRows(t, s, tp.ID, 0)
	if err := s.Replace(ctx, replacement(l, "seg-2", inputs, 260)); err != nil {
		t.Fatal(err)
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, []metastore.IndexRow{segRow(tp.ID, 0, "seg-2", 0, 19, 260)})
	checkDead(t, s, "seg-1", before)
	checkDead(t, s, "obj-3", before)
	checkLive(t, s, "seg-2", metastore.ObjectSegment, 360, 260)

	// Several output rows, with a gap (a batch compaction dropped).
	inputs = mustIndexRows(t, s, tp.ID, 1)
	l1 := mustClaimLease(t, s, "compactor", tp.ID, 1, time.Now(), time.Minute)
	r = metastore.Replacement{Lease: l1, Inputs: inputs, UploadedAt: time.Now(),
		Output: metastore.Object{Key: "seg-3", Size: 40}, // Kind defaults to segment
		Rows: []metastore.IndexRow{
			{BaseOffset: 3, LastOffset: 4, Pos: 20, Size: 20, Kind: metastore.RowSegment},
			{BaseOffset: 0, LastOffset: 1, Pos: 0, Size: 20, Kind: metastore.RowSegment},
		}}
	if err := s.Replace(ctx, r); err != nil {
		t.Fatal(err)
	}
	checkIndexRows(t, s, tp.ID, 1, 0, 0, []metastore.IndexRow{
		{TopicID: tp.ID, Partition: 1, BaseOffset: 0, LastOffset: 1, ObjectKey: "seg-3", Pos: 0, Size: 20, Kind: metastore.RowSegment},
		{TopicID: tp.ID, Partition: 1, BaseOffset: 3, LastOffset: 4, ObjectKey: "seg-3", Pos: 20, Size: 20, Kind: metastore.RowSegment},
	})
	checkLive(t, s, "seg-3", metastore.ObjectSegment, 40, 40)
	checkDead(t, s, "obj-1", before)
	rows, err := s.ObjectRows(ctx, "seg-3")
	if err != nil || len(rows) != 2 || rows[0].BaseOffset != 0 || rows[1].BaseOffset != 3 {
		t.Fatalf("ObjectRows(seg-3) = %+v, %v", rows, err)
	}
	CheckAccounting(t, s)
}

func testReplaceFenced(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	now := time.Now()
	old := mustClaimLease(t, s, "c1", tp.ID, 0, now.Add(-time.Hour), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)

	// No lease ever on partition 1.
	if err := s.Replace(ctx, replacement(metastore.Lease{TopicID: tp.ID, Partition: 1, Holder: "c1", Token: 1},
		"seg-p1", mustIndexRows(t, s, tp.ID, 1), 50)); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Replace without a lease: err = %v, want ErrFenced", err)
	}
	// An expired lease nobody took still counts.
	expired := replacement(old, "seg-expired", inputs[:1], 100)
	if err := s.Replace(ctx, expired); err != nil {
		t.Fatalf("Replace under an expired lease nobody took: %v", err)
	}
	inputs = mustIndexRows(t, s, tp.ID, 0)
	// Taken over by c2: c1's lease is stale, whatever it claims.
	c2 := mustClaimLease(t, s, "c2", tp.ID, 0, now, time.Minute)
	for _, l := range []metastore.Lease{old, {TopicID: tp.ID, Holder: "c1", Token: c2.Token}, {TopicID: tp.ID, Holder: "c2", Token: old.Token}} {
		if err := s.Replace(ctx, replacement(l, "seg-stale", inputs, 170)); !errors.Is(err, metastore.ErrFenced) {
			t.Fatalf("Replace under lease %+v: err = %v, want ErrFenced", l, err)
		}
	}
	// Nor does a released lease count.
	if err := s.ReleaseLease(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, replacement(c2, "seg-stale", inputs, 170)); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Replace under a released lease: err = %v, want ErrFenced", err)
	}
	// A deleted partition fences too.
	c3 := mustClaimLease(t, s, "c3", tp.ID, 0, now, time.Minute)
	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, replacement(c3, "seg-stale", inputs, 170)); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("Replace on a deleted topic: err = %v, want ErrFenced", err)
	}
	checkUnknown(t, s, "seg-p1", "seg-stale")
	CheckAccounting(t, s)
}

func testReplaceConflict(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)

	changed := func(f func(*metastore.IndexRow)) []metastore.IndexRow {
		in := slices.Clone(inputs)
		f(&in[1])
		return in
	}
	for name, in := range map[string][]metastore.IndexRow{
		"other size":      changed(func(r *metastore.IndexRow) { r.Size++ }),
		"other position":  changed(func(r *metastore.IndexRow) { r.Pos++ }),
		"other object":    changed(func(r *metastore.IndexRow) { r.ObjectKey = "obj-2" }),
		"other last":      changed(func(r *metastore.IndexRow) { r.LastOffset = 8 }),
		"no such row":     {row(20, 29, 0, 10)},
		"row not at base": changed(func(r *metastore.IndexRow) { r.BaseOffset = 6 }),
	} {
		for i := range in {
			in[i].TopicID = tp.ID
		}
		if err := s.Replace(ctx, replacement(l, "seg-x", in, 100)); !errors.Is(err, metastore.ErrConflict) {
			t.Errorf("Replace with inputs changed (%s): err = %v, want ErrConflict", name, err)
		}
	}
	// An input trimmed away by retention in the meantime.
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, replacement(l, "seg-x", inputs, 100)); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("Replace of a trimmed input: err = %v, want ErrConflict", err)
	}
	// An input already replaced by another switch.
	rest := mustIndexRows(t, s, tp.ID, 0)
	if err := s.Replace(ctx, replacement(l, "seg-1", rest[:1], 90)); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, replacement(l, "seg-x", rest, 160)); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("Replace of a replaced input: err = %v, want ErrConflict", err)
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, []metastore.IndexRow{segRow(tp.ID, 0, "seg-1", 5, 9, 90), rest[1]})
	checkUnknown(t, s, "seg-x")
	CheckAccounting(t, s)
}

func testReplaceInvalid(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)
	good := func() metastore.Replacement { return replacement(l, "seg-x", inputs, 200) }
	with := func(f func(*metastore.Replacement)) metastore.Replacement {
		r := good()
		f(&r)
		return r
	}
	twoRows := func(a, b metastore.IndexRow) func(*metastore.Replacement) {
		return func(r *metastore.Replacement) { r.Rows = []metastore.IndexRow{a, b} }
	}
	seg := func(base, last int64) metastore.IndexRow { return segRow(tp.ID, 0, "seg-x", base, last, 10) }
	for name, r := range map[string]metastore.Replacement{
		"no inputs":           with(func(r *metastore.Replacement) { r.Inputs = nil }),
		"no rows":             with(func(r *metastore.Replacement) { r.Rows = nil }),
		"no output key":       with(func(r *metastore.Replacement) { r.Output.Key = "" }),
		"unknown output kind": with(func(r *metastore.Replacement) { r.Output.Kind = "tape" }),
		"rows start late":     with(func(r *metastore.Replacement) { r.Rows[0].BaseOffset = 1 }),
		"rows end early":      with(func(r *metastore.Replacement) { r.Rows[0].LastOffset = 13 }),
		"rows end late":       with(func(r *metastore.Replacement) { r.Rows[0].LastOffset = 15 }),
		"rows overlap":        with(twoRows(seg(0, 7), seg(7, 14))),
		"row backwards":       with(twoRows(seg(0, 7), seg(9, 8))),
		"row in other object": with(func(r *metastore.Replacement) { r.Rows[0].ObjectKey = "obj-1" }),
		"row of other partition": with(func(r *metastore.Replacement) {
			r.Rows[0].Partition = 1
		}),
		"row of unknown kind": with(func(r *metastore.Replacement) { r.Rows[0].Kind = 7 }),
		"rows above size":     with(func(r *metastore.Replacement) { r.Output.Size = 199 }),
		"inputs overlap": with(func(r *metastore.Replacement) {
			r.Inputs = append(slices.Clone(inputs), inputs[2])
		}),
		"inputs not contiguous": with(func(r *metastore.Replacement) {
			r.Inputs = []metastore.IndexRow{inputs[0], inputs[2]}
		}),
		"output is an input": with(func(r *metastore.Replacement) {
			r.Output.Key, r.Rows[0].ObjectKey = "obj-2", "obj-2"
		}),
	} {
		err := s.Replace(ctx, r)
		if err == nil || errors.Is(err, metastore.ErrFenced) || errors.Is(err, metastore.ErrConflict) || errors.Is(err, metastore.ErrExists) {
			t.Errorf("Replace (%s): err = %v, want a validation error", name, err)
		}
	}
	// Defaults were filled in on copies.
	if r := good(); !reflect.DeepEqual(r.Inputs, inputs) {
		t.Fatal("Replace modified the caller's inputs")
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, inputs)
	checkUnknown(t, s, "seg-x")
	CheckAccounting(t, s)
}

// A switch whose output is already known is refused as ErrExists before
// the lease and the inputs are looked at: that is how a retry of a switch
// that did commit learns it must not delete its output.
func testReplaceKnownOutput(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)
	r := replacement(l, "seg-1", inputs, 200)
	if err := s.Replace(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, r); !errors.Is(err, metastore.ErrExists) {
		t.Fatalf("Replace retried after it committed: err = %v, want ErrExists", err)
	}
	if err := s.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, r); !errors.Is(err, metastore.ErrExists) {
		t.Fatalf("Replace retried after it committed, lease gone: err = %v, want ErrExists", err)
	}
	// A flush object's key is known as well.
	l = mustClaimLease(t, s, "c", tp.ID, 1, time.Now(), time.Minute)
	in1 := mustIndexRows(t, s, tp.ID, 1)
	r = replacement(l, "obj-2", in1, 50)
	if err := s.Replace(ctx, r); !errors.Is(err, metastore.ErrExists) {
		t.Fatalf("Replace into a flush object's key: err = %v, want ErrExists", err)
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, []metastore.IndexRow{segRow(tp.ID, 0, "seg-1", 0, 14, 200)})
	checkIndexRows(t, s, tp.ID, 1, 0, 0, in1)
	CheckAccounting(t, s)
}

// Compactors racing the same switch: exactly one wins; the others are
// refused (ErrConflict, their inputs gone, or ErrExists when they share
// the winner's output key) and leave nothing behind.
func testReplaceRace(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Hour)
	const (
		rounds  = 6
		racers  = 4
		rowSize = 10
	)
	var hwm int64
	for round := range rounds {
		commit(t, s, "a", fmt.Sprintf("obj-%d-a", round), pcommit(tp.ID, 0, 1, hwm, hwm+4, row(hwm, hwm+1, 0, rowSize), row(hwm+2, hwm+3, rowSize, rowSize)))
		hwm += 4
		inputs := mustIndexRows(t, s, tp.ID, 0)
		inputs = inputs[len(inputs)-2:]
		sameKey := round%2 == 1
		errs := make([]error, racers)
		keys := make([]string, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			keys[i] = fmt.Sprintf("seg-%d-%d", round, i)
			if sameKey {
				keys[i] = fmt.Sprintf("seg-%d", round)
			}
			wg.Go(func() {
				<-start
				errs[i] = s.Replace(ctx, replacement(l, keys[i], inputs, 2*rowSize))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: racers %d and %d both switched", round, winner, i)
				}
				winner = i
			case errors.Is(err, metastore.ErrConflict) && !sameKey, errors.Is(err, metastore.ErrExists) && sameKey:
			default:
				t.Fatalf("round %d (same key %v): racer %d: err = %v", round, sameKey, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer switched", round)
		}
		got := mustIndexRows(t, s, tp.ID, 0)
		if last := got[len(got)-1]; last != segRow(tp.ID, 0, keys[winner], hwm-4, hwm-1, 2*rowSize) {
			t.Fatalf("round %d: last row %+v, want the winner's", round, last)
		}
		for i, k := range keys {
			if i != winner && k != keys[winner] {
				checkUnknown(t, s, k)
			}
		}
	}
	CheckAccounting(t, s)
}

// A switch and a flush of one partition serialise; both succeed.
func testReplaceWithFlush(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Hour)
	commit(t, s, "a", "obj-0", pcommit(tp.ID, 0, 1, 0, 2, row(0, 1, 0, 10)))
	hwm := int64(2)
	const rounds = 8
	for round := range rounds {
		inputs := mustIndexRows(t, s, tp.ID, 0)
		var replaceErr, flushErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			replaceErr = s.Replace(ctx, replacement(l, fmt.Sprintf("seg-%d", round), inputs, 10))
		})
		wg.Go(func() {
			<-start
			pc := pcommit(tp.ID, 0, 1, hwm, hwm+3, row(hwm, hwm+2, 0, 10))
			pc.Rows[0].ObjectKey = fmt.Sprintf("obj-%d", round+1)
			flushErr = s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: pc.Rows[0].ObjectKey, ObjectSize: 10,
				UploadedAt: time.Now(), Partitions: []metastore.PartitionCommit{pc}})
		})
		close(start)
		wg.Wait()
		if replaceErr != nil || flushErr != nil {
			t.Fatalf("round %d: Replace: %v; CommitFlush: %v", round, replaceErr, flushErr)
		}
		hwm += 3
		checkIndexRows(t, s, tp.ID, 0, 0, 0, []metastore.IndexRow{
			segRow(tp.ID, 0, fmt.Sprintf("seg-%d", round), 0, hwm-4, 10),
			{TopicID: tp.ID, BaseOffset: hwm - 3, LastOffset: hwm - 1, ObjectKey: fmt.Sprintf("obj-%d", round+1), Size: 10,
				MinTimestamp: hwm - 3, MaxTimestamp: hwm - 1},
		})
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: hwm}})
	CheckAccounting(t, s)
}

func testTrimLog(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s) // p0: [0,4] [5,9] obj-1, [10,14] obj-2; p1: [0,4] obj-1
	before := time.Now()
	for _, tc := range []struct {
		offset       int64
		start        int64
		deleted      int
		rowsLeftFrom int64
	}{
		{3, 3, 0, 0},    // inside the first row: nothing wholly below
		{5, 5, 1, 5},    // the first row goes
		{2, 5, 0, 5},    // never lowers
		{14, 14, 1, 10}, // [5,9] goes, [10,14] stays
		{15, 15, 1, 15}, // up to the high watermark
	} {
		start, deleted, err := s.TrimLog(ctx, nil, tp.ID, 0, tc.offset)
		if err != nil || start != tc.start || deleted != tc.deleted {
			t.Fatalf("TrimLog(%d) = %d, %d, %v; want %d, %d, nil", tc.offset, start, deleted, err, tc.start, tc.deleted)
		}
		rows := mustIndexRows(t, s, tp.ID, 0)
		if len(rows) > 0 && rows[0].BaseOffset != tc.rowsLeftFrom {
			t.Fatalf("after TrimLog(%d): rows %+v, want from %d", tc.offset, rows, tc.rowsLeftFrom)
		}
		CheckAccounting(t, s)
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, nil)
	checkLive(t, s, "obj-1", metastore.ObjectFlush, 250, 50) // partition 1's row
	checkDead(t, s, "obj-2", before)
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 16); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("TrimLog above the high watermark: err = %v, want ErrConflict", err)
	}
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 2, 0); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("TrimLog of a missing partition: err = %v, want ErrNotFound", err)
	}
	if start, deleted, err := s.TrimLog(ctx, nil, tp.ID, 1, 5); err != nil || start != 5 || deleted != 1 {
		t.Fatalf("TrimLog(p1, 5) = %d, %d, %v", start, deleted, err)
	}
	checkDead(t, s, "obj-1", before)
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 15, LogStartOffset: 15},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 5, LogStartOffset: 5},
	})
	CheckAccounting(t, s)
}

func testTrimLogLease(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	now := time.Now()
	old := mustClaimLease(t, s, "r1", tp.ID, 0, now.Add(-time.Hour), time.Minute)
	cur := mustClaimLease(t, s, "r2", tp.ID, 0, now, time.Minute)
	if _, _, err := s.TrimLog(ctx, &old, tp.ID, 0, 5); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("TrimLog under a stale lease: err = %v, want ErrFenced", err)
	}
	p1 := metastore.Lease{TopicID: tp.ID, Partition: 1, Holder: "r2", Token: cur.Token}
	if _, _, err := s.TrimLog(ctx, &p1, tp.ID, 0, 5); err == nil || errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("TrimLog under another partition's lease: err = %v, want an error", err)
	}
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 15},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 5},
	})
	if start, deleted, err := s.TrimLog(ctx, &cur, tp.ID, 0, 10); err != nil || start != 10 || deleted != 2 {
		t.Fatalf("TrimLog under the current lease = %d, %d, %v; want 10, 2, nil", start, deleted, err)
	}
	CheckAccounting(t, s)
}

func testSetLogStartOffsetAccounting(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	before := time.Now()
	if got, err := s.SetLogStartOffset(ctx, tp.ID, 0, 12); err != nil || got != 12 {
		t.Fatalf("SetLogStartOffset(12) = %d, %v", got, err)
	}
	checkIndexRows(t, s, tp.ID, 0, 0, 0, []metastore.IndexRow{{TopicID: tp.ID, BaseOffset: 10, LastOffset: 14,
		ObjectKey: "obj-2", Size: 70, MinTimestamp: 10, MaxTimestamp: 14}})
	checkLive(t, s, "obj-1", metastore.ObjectFlush, 250, 50)
	checkLive(t, s, "obj-2", metastore.ObjectFlush, 70, 70)
	if got, err := s.SetLogStartOffset(ctx, tp.ID, 1, 5); err != nil || got != 5 {
		t.Fatalf("SetLogStartOffset(p1, 5) = %d, %v", got, err)
	}
	checkDead(t, s, "obj-1", before)
	CheckAccounting(t, s)
}

func testDeleteTopicKillsObjects(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 2)
	keep := mustCreateTopic(t, s, "keep", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	claim(t, s, "a", keep.ID, 0, 0)
	commit(t, s, "a", "shared", pcommit(tp.ID, 0, 1, 0, 5, row(0, 4, 0, 100)), pcommit(keep.ID, 0, 1, 0, 5, row(0, 4, 100, 30)))
	commit(t, s, "a", "own", pcommit(tp.ID, 0, 1, 5, 10, row(5, 9, 0, 60)), pcommit(tp.ID, 1, 1, 0, 5, row(0, 4, 60, 40)))
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	if err := s.Replace(ctx, replacement(l, "seg", mustIndexRows(t, s, tp.ID, 0)[1:], 60)); err != nil {
		t.Fatal(err)
	}
	mustClaimLease(t, s, "c", tp.ID, 1, time.Now(), time.Minute)
	before := time.Now()
	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	checkDead(t, s, "own", before)
	checkDead(t, s, "seg", before)
	checkLive(t, s, "shared", metastore.ObjectFlush, 130, 30)
	// Its leases went with it: the re-created topic's partitions are free.
	again := mustCreateTopic(t, s, "t", 2)
	mustClaimLease(t, s, "d", again.ID, 0, time.Now(), time.Minute)
	if _, err := s.ClaimLease(ctx, "d", tp.ID, 0, time.Now(), time.Minute); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("ClaimLease on the deleted topic: err = %v, want ErrNotFound", err)
	}
	CheckAccounting(t, s)
}

// A flush committed again under the same key (a retried partial commit)
// adds its rows' bytes to the object's.
func testCommitFlushSameKey(t *testing.T, s metastore.Store) {
	tp := mustCreateTopic(t, s, "t", 2)
	claim(t, s, "a", tp.ID, 0, 0)
	claim(t, s, "a", tp.ID, 1, 0)
	commit(t, s, "a", "obj", pcommit(tp.ID, 0, 1, 0, 5, row(0, 4, 0, 100)))
	checkLive(t, s, "obj", metastore.ObjectFlush, 100, 100)
	commit(t, s, "a", "obj", pcommit(tp.ID, 1, 1, 0, 3, row(0, 2, 100, 30)))
	o, _ := object(t, s, "obj")
	if o.LiveBytes != 130 || o.Size != 100 { // the first commit's size stays
		t.Fatalf("object after a second commit = %+v, want 130 live bytes", o)
	}
	rows, err := s.ObjectRows(t.Context(), "obj")
	if err != nil || len(rows) != 2 || rows[0].Partition != 0 || rows[1].Partition != 1 {
		t.Fatalf("ObjectRows = %+v, %v", rows, err)
	}
	// A flush with no rows records a dead object.
	commit(t, s, "a", "empty", pcommit(tp.ID, 0, 1, 5, 5))
	checkDead(t, s, "empty", time.Now().Add(-time.Minute))
	CheckAccounting(t, s)
}

func testCommitFlushRowOfOtherObject(t *testing.T, s metastore.Store) {
	tp := mustCreateTopic(t, s, "t", 1)
	claim(t, s, "a", tp.ID, 0, 0)
	pc := pcommit(tp.ID, 0, 1, 0, 5, row(0, 4, 0, 100))
	pc.Rows[0].ObjectKey = "elsewhere"
	err := s.CommitFlush(t.Context(), metastore.Flush{AgentID: "a", ObjectKey: "obj", ObjectSize: 100, Partitions: []metastore.PartitionCommit{pc}})
	if err == nil || errors.Is(err, metastore.ErrFenced) || errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("CommitFlush of a row in another object: err = %v, want a validation error", err)
	}
	checkUnknown(t, s, "obj", "elsewhere")
	CheckAccounting(t, s)
}

func testStaleUpload(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	stale := time.Now().Add(-metastore.MaxCommitDelay - time.Minute)
	pc := pcommit(tp.ID, 0, 1, 15, 20, row(15, 19, 0, 10))
	f := metastore.Flush{AgentID: "a", ObjectKey: "late", ObjectSize: 10, UploadedAt: stale, Partitions: []metastore.PartitionCommit{pc}}
	if err := s.CommitFlush(ctx, f); !errors.Is(err, metastore.ErrStaleObject) {
		t.Fatalf("CommitFlush uploaded %v ago: err = %v, want ErrStaleObject", time.Since(stale), err)
	}
	checkUnknown(t, s, "late")
	checkPartitions(t, s, tp.ID, []metastore.Partition{
		{TopicID: tp.ID, Partition: 0, Owner: "a", Epoch: 1, HighWatermark: 15},
		{TopicID: tp.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 5},
	})
	// Recent enough, it commits.
	f.UploadedAt = time.Now().Add(-metastore.MaxCommitDelay + time.Minute)
	if err := s.CommitFlush(ctx, f); err != nil {
		t.Fatal(err)
	}

	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)
	r := replacement(l, "seg-late", inputs, 100)
	r.UploadedAt = stale
	if err := s.Replace(ctx, r); !errors.Is(err, metastore.ErrStaleObject) {
		t.Fatalf("Replace uploaded %v ago: err = %v, want ErrStaleObject", time.Since(stale), err)
	}
	checkUnknown(t, s, "seg-late")
	checkIndexRows(t, s, tp.ID, 0, 0, 0, inputs)
	CheckAccounting(t, s)
}

func testForgetObjects(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 15); err != nil { // obj-2 dies, obj-1 lives on in p1
		t.Fatal(err)
	}
	got, err := s.ForgetObjects(ctx, []string{"obj-1", "obj-2", "obj-2", "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"obj-2"}) {
		t.Fatalf("ForgetObjects = %q, want only the dead [obj-2]", got)
	}
	checkUnknown(t, s, "obj-2")
	checkLive(t, s, "obj-1", metastore.ObjectFlush, 250, 50)
	if got, err := s.ForgetObjects(ctx, []string{"obj-2"}); err != nil || len(got) != 0 {
		t.Fatalf("ForgetObjects of a forgotten object = %q, %v; want none", got, err)
	}
	if got, err := s.ForgetObjects(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("ForgetObjects(nil) = %q, %v", got, err)
	}
	CheckAccounting(t, s)
}

// testCommitFlushDeadObject: a retried partial commit naming an object
// that died in between (its other rows trimmed or compacted away), or that
// garbage collection already forgot, is refused as stale: GC may be
// deleting it or has, so it must never be referenced again.
func testCommitFlushDeadObject(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 15); err != nil { // obj-2 dies
		t.Fatal(err)
	}
	f := metastore.Flush{AgentID: "a", ObjectKey: "obj-2", ObjectSize: 200, UploadedAt: time.Now(),
		Partitions: []metastore.PartitionCommit{pcommit(tp.ID, 1, 1, 5, 8, row(5, 7, 0, 10))}}
	if err := s.CommitFlush(ctx, f); !errors.Is(err, metastore.ErrStaleObject) {
		t.Fatalf("CommitFlush naming a dead object: err = %v, want ErrStaleObject", err)
	}
	if got, err := s.ForgetObjects(ctx, []string{"obj-2"}); err != nil || len(got) != 1 {
		t.Fatalf("ForgetObjects = %q, %v", got, err)
	}
	if err := s.CommitFlush(ctx, f); !errors.Is(err, metastore.ErrStaleObject) {
		t.Fatalf("CommitFlush naming a forgotten object: err = %v, want ErrStaleObject", err)
	}
	checkUnknown(t, s, "obj-2")
	// Under a new key the same rows commit.
	f.ObjectKey = "obj-2-again"
	if err := s.CommitFlush(ctx, f); err != nil {
		t.Fatal(err)
	}
	CheckAccounting(t, s)
}

func testKnownObjects(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := replaceFixture(t, s)
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 15); err != nil { // obj-2 is dead, still known
		t.Fatal(err)
	}
	// More keys than any one statement takes, with odd bytes in them.
	var keys []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("%04x/seg/agent-\"x'\\%d.seg", i%7, i))
	}
	keys = append(keys, "obj-2", "obj-1", "obj-1")
	known, err := s.KnownObjects(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 2 || !known["obj-1"] || !known["obj-2"] {
		t.Fatalf("KnownObjects = %v, want obj-1 and obj-2", known)
	}
	if known, err := s.KnownObjects(ctx, nil); err != nil || len(known) != 0 {
		t.Fatalf("KnownObjects(nil) = %v, %v", known, err)
	}
	CheckAccounting(t, s)
}

func testDeadAndLowLiveObjects(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	tp := mustCreateTopic(t, s, "t", 3)
	for p := range int32(3) {
		claim(t, s, "a", tp.ID, p, 0)
	}
	// o-1: 100 of 400 bytes live after the trim; o-2: 300 of 400; o-3
	// and o-4 dead.
	commit(t, s, "a", "o-1", pcommit(tp.ID, 0, 1, 0, 4, row(0, 3, 0, 300)), pcommit(tp.ID, 1, 1, 0, 1, row(0, 0, 300, 100)))
	commit(t, s, "a", "o-2", pcommit(tp.ID, 0, 1, 4, 5, row(4, 4, 0, 100)), pcommit(tp.ID, 2, 1, 0, 1, row(0, 0, 100, 300)))
	commit(t, s, "a", "o-3", pcommit(tp.ID, 0, 1, 5, 6, row(5, 5, 0, 10)))
	commit(t, s, "a", "o-4", pcommit(tp.ID, 0, 1, 6, 7, row(6, 6, 0, 10)))
	commit(t, s, "a", "o-5", pcommit(tp.ID, 0, 1, 7, 8, row(7, 7, 0, 10)))
	before := time.Now()
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 6); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 7); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	keys := func(objs []metastore.Object, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range objs {
			out = append(out, o.Key)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"dead", keys(s.DeadObjects(ctx, after.Add(time.Minute), 0)), []string{"o-3", "o-4"}},
		{"dead, limit 1", keys(s.DeadObjects(ctx, after.Add(time.Minute), 1)), []string{"o-3"}},
		{"dead long ago", keys(s.DeadObjects(ctx, before.Add(-time.Minute), 0)), nil},
		{"below 0.5", keys(s.LowLiveObjects(ctx, metastore.ObjectFlush, 0.5, 0)), []string{"o-1"}},
		{"below 0.8", keys(s.LowLiveObjects(ctx, metastore.ObjectFlush, 0.8, 0)), []string{"o-1", "o-2"}},
		{"below 0.8, limit 1", keys(s.LowLiveObjects(ctx, metastore.ObjectFlush, 0.8, 1)), []string{"o-1"}},
		{"below 0.25", keys(s.LowLiveObjects(ctx, metastore.ObjectFlush, 0.25, 0)), nil},
		{"all live", keys(s.LowLiveObjects(ctx, metastore.ObjectFlush, 1.01, 0)), []string{"o-1", "o-2", "o-5"}},
		{"segments", keys(s.LowLiveObjects(ctx, metastore.ObjectSegment, 1.01, 0)), nil},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	checkDead(t, s, "o-3", before)
	o3, _ := object(t, s, "o-3")
	o4, _ := object(t, s, "o-4")
	if !o3.DeadSince.Before(o4.DeadSince) {
		t.Errorf("o-3 died at %v, o-4 at %v: want o-3 first", o3.DeadSince, o4.DeadSince)
	}
	// A dead object stays dead from when it died: trimming again does not
	// move its DeadSince.
	if _, _, err := s.TrimLog(ctx, nil, tp.ID, 0, 7); err != nil {
		t.Fatal(err)
	}
	if again, _ := object(t, s, "o-3"); !again.DeadSince.Equal(o3.DeadSince) {
		t.Errorf("o-3 DeadSince moved from %v to %v", o3.DeadSince, again.DeadSince)
	}
	CheckAccounting(t, s)
}

func testObjectStats(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	empty, err := s.ObjectStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []metastore.ObjectStat{
		{Kind: metastore.ObjectFlush}, {Kind: metastore.ObjectFlush, Dead: true},
		{Kind: metastore.ObjectSegment}, {Kind: metastore.ObjectSegment, Dead: true},
	}
	if !reflect.DeepEqual(empty, want) {
		t.Fatalf("ObjectStats of an empty store = %+v, want %+v", empty, want)
	}
	tp := replaceFixture(t, s) // obj-1 250 bytes, obj-2 70
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)
	if err := s.Replace(ctx, replacement(l, "seg-1", inputs[2:], 60)); err != nil { // obj-2 dies
		t.Fatal(err)
	}
	stats, err := s.ObjectStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o1, _ := object(t, s, "obj-1")
	o2, _ := object(t, s, "obj-2")
	seg, _ := object(t, s, "seg-1")
	want = []metastore.ObjectStat{
		{Kind: metastore.ObjectFlush, Count: 1, Bytes: 250, LiveBytes: 250, OldestCreated: o1.CreatedAt},
		{Kind: metastore.ObjectFlush, Dead: true, Count: 1, Bytes: 70, OldestCreated: o2.CreatedAt},
		{Kind: metastore.ObjectSegment, Count: 1, Bytes: 160, LiveBytes: 60, OldestCreated: seg.CreatedAt},
		{Kind: metastore.ObjectSegment, Dead: true},
	}
	if len(stats) != len(want) {
		t.Fatalf("ObjectStats = %+v, want %+v", stats, want)
	}
	for i := range want {
		if g, w := stats[i], want[i]; g.Kind != w.Kind || g.Dead != w.Dead || g.Count != w.Count ||
			g.Bytes != w.Bytes || g.LiveBytes != w.LiveBytes || !g.OldestCreated.Equal(w.OldestCreated) {
			t.Errorf("ObjectStats[%d] = %+v, want %+v", i, g, w)
		}
	}
	CheckAccounting(t, s)
}

func testRowCounts(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	if counts, err := s.RowCounts(ctx); err != nil || len(counts) != 0 {
		t.Fatalf("RowCounts of an empty store = %+v, %v", counts, err)
	}
	tp := replaceFixture(t, s)
	mustCreateTopic(t, s, "empty", 3)
	l := mustClaimLease(t, s, "c", tp.ID, 0, time.Now(), time.Minute)
	inputs := mustIndexRows(t, s, tp.ID, 0)
	if err := s.Replace(ctx, replacement(l, "seg-1", inputs[:2], 150)); err != nil {
		t.Fatal(err)
	}
	counts, err := s.RowCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o1, _ := object(t, s, "obj-1")
	o2, _ := object(t, s, "obj-2")
	want := []metastore.PartitionRows{
		{PartitionRef: metastore.PartitionRef{TopicID: tp.ID, Partition: 0}, FlushRows: 1, FlushBytes: 70,
			SegmentRows: 1, SegmentBytes: 150, OldestFlush: o2.CreatedAt},
		{PartitionRef: metastore.PartitionRef{TopicID: tp.ID, Partition: 1}, FlushRows: 1, FlushBytes: 50,
			OldestFlush: o1.CreatedAt},
	}
	if len(counts) != len(want) {
		t.Fatalf("RowCounts = %+v, want %+v", counts, want)
	}
	for i := range want {
		if g, w := counts[i], want[i]; g.PartitionRef != w.PartitionRef || g.FlushRows != w.FlushRows || g.FlushBytes != w.FlushBytes ||
			g.SegmentRows != w.SegmentRows || g.SegmentBytes != w.SegmentBytes || !g.OldestFlush.Equal(w.OldestFlush) {
			t.Errorf("RowCounts[%d] = %+v, want %+v", i, g, w)
		}
	}
	// Only segments left: no oldest flush.
	if err := s.Replace(ctx, replacement(l, "seg-2", mustIndexRows(t, s, tp.ID, 0), 220)); err != nil {
		t.Fatal(err)
	}
	counts, err = s.RowCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := counts[0]; c.FlushRows != 0 || c.FlushBytes != 0 || c.SegmentRows != 1 || c.SegmentBytes != 220 || !c.OldestFlush.IsZero() {
		t.Errorf("RowCounts[0] with only a segment = %+v", c)
	}
	CheckAccounting(t, s)
}

// Transactions of different partitions that remove rows of the same
// objects at once (trims, switches, a topic deletion, a retried commit
// adding rows) must leave each object's live bytes exact: under read
// committed, recomputing from a snapshot that misses another
// transaction's rows would lose its update.
func testAccountingConcurrent(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	const (
		parts   = 6
		objects = 3
	)
	tp := mustCreateTopic(t, s, "t", parts)
	gone := mustCreateTopic(t, s, "gone", 2)
	for p := range int32(parts) {
		claim(t, s, "a", tp.ID, p, 0)
	}
	claim(t, s, "a", gone.ID, 0, 0)
	claim(t, s, "a", gone.ID, 1, 0)
	// Every object has rows in every partition of both topics.
	for o := range int64(objects) {
		var pcs []metastore.PartitionCommit
		for p := range int32(parts) {
			pcs = append(pcs, pcommit(tp.ID, p, 1, 4*o, 4*o+4, row(4*o, 4*o+1, 100*int64(p), 10), row(4*o+2, 4*o+3, 100*int64(p)+10, 20)))
		}
		pcs = append(pcs, pcommit(gone.ID, 0, 1, o, o+1, row(o, o, 1000, 5)), pcommit(gone.ID, 1, 1, o, o+1, row(o, o, 2000, 7)))
		commit(t, s, "a", fmt.Sprintf("obj-%d", o), pcs...)
	}
	hwm := int64(4 * objects)

	var wg sync.WaitGroup
	errs := make(chan error, 2*parts+2)
	start := make(chan struct{})
	for p := range int32(parts) {
		wg.Go(func() {
			<-start
			switch p % 3 {
			case 0: // retention
				for off := int64(2); off <= hwm; off += 2 {
					if _, _, err := s.TrimLog(ctx, nil, tp.ID, p, off); err != nil {
						errs <- err
						return
					}
				}
			case 1: // compaction, one object's rows at a time
				l, err := s.ClaimLease(ctx, "c", tp.ID, p, time.Now(), time.Hour)
				if err != nil {
					errs <- err
					return
				}
				for o := range int64(objects) {
					in, err := s.IndexRows(ctx, tp.ID, p, 4*o, 2)
					if err == nil {
						err = s.Replace(ctx, replacement(l, fmt.Sprintf("seg-%d-%d", p, o), in, 30))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			case 2: // a retried commit adding rows to obj-0
				pc := pcommit(tp.ID, p, 1, hwm, hwm+1, row(hwm, hwm, 5000, 1))
				pc.Rows[0].ObjectKey = "obj-0"
				if err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj-0", ObjectSize: 1,
					Partitions: []metastore.PartitionCommit{pc}}); err != nil {
					errs <- err
					return
				}
				if _, _, err := s.TrimLog(ctx, nil, tp.ID, p, 4); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		<-start
		if _, err := s.DeleteTopic(ctx, "gone"); err != nil {
			errs <- err
		}
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	CheckAccounting(t, s)
}
