package group

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The state machine driven directly, without TCP or Kafka types.

func newTestCoordinator(t *testing.T, store Store, mod func(*Config)) *Coordinator {
	t.Helper()
	cfg := Config{
		Store:             store,
		MinSessionTimeout: 10 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	gc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gc.Close)
	return gc
}

// joinAsync starts a Join and returns its answer's channel.
func joinAsync(ctx context.Context, gc *Coordinator, req JoinRequest) <-chan JoinResponse {
	ch := make(chan JoinResponse, 1)
	gc.Join(ctx, req, func(r JoinResponse) { ch <- r })
	return ch
}

func syncAsync(ctx context.Context, gc *Coordinator, req SyncRequest) <-chan SyncResponse {
	ch := make(chan SyncResponse, 1)
	gc.Sync(ctx, req, func(r SyncResponse) { ch <- r })
	return ch
}

// answer waits for a waiting request's answer.
func answer[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5s")
		panic("unreachable")
	}
}

// waiting asserts the request is still parked.
func waiting[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("answered while it should wait: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
}

func req(group, member string, protocols ...string) JoinRequest {
	r := JoinRequest{
		Group: group, MemberID: member, ClientID: "client", ClientHost: "/127.0.0.1",
		ProtocolType: "consumer", SessionTimeout: 10 * time.Second, RebalanceTimeout: 5 * time.Second,
		RequireMemberID: true,
	}
	for _, p := range protocols {
		r.Protocols = append(r.Protocols, Protocol{Name: p, Metadata: []byte("md-" + p)})
	}
	return r
}

// joinNew joins a dynamic member: ErrMemberIDRequired, then the real join,
// which may wait.
func joinNew(t *testing.T, gc *Coordinator, r JoinRequest) (string, <-chan JoinResponse) {
	t.Helper()
	first := answer(t, joinAsync(context.Background(), gc, r))
	if !errors.Is(first.Err, ErrMemberIDRequired) || first.MemberID == "" || first.Generation != -1 {
		t.Fatalf("first join: %+v, want ErrMemberIDRequired with an id", first)
	}
	r.MemberID = first.MemberID
	return first.MemberID, joinAsync(context.Background(), gc, r)
}

func state(t *testing.T, gc *Coordinator, name string) Snapshot {
	t.Helper()
	s, ok := gc.Peek(name)
	if !ok {
		t.Fatalf("group %q not in memory", name)
	}
	return s
}

func waitState(t *testing.T, gc *Coordinator, name string, want State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s, ok := gc.Peek(name); ok && s.State == want {
			return
		}
		if time.Now().After(deadline) {
			s, _ := gc.Peek(name)
			t.Fatalf("group %q: state %s, want %s", name, s.State, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func hb(gc *Coordinator, group, member string, gen int32) error {
	return gc.Heartbeat(context.Background(), HeartbeatRequest{Group: group, MemberID: member, Generation: gen})
}

func TestJoinSyncHeartbeatLeave(t *testing.T) {
	store := newMemStore()
	gc := newTestCoordinator(t, store, nil)
	ctx := context.Background()
	const g = "g"

	// One member: generation 1 at once, leader, its first protocol.
	m1, ch1 := joinNew(t, gc, req(g, "", "range", "roundrobin"))
	j1 := answer(t, ch1)
	if j1.Err != nil || j1.Generation != 1 || j1.LeaderID != m1 || j1.MemberID != m1 || j1.Protocol != "range" || j1.ProtocolType != "consumer" || len(j1.Members) != 1 {
		t.Fatalf("join 1: %+v", j1)
	}
	if s := state(t, gc, g); s.State != StateCompletingRebalance || s.Generation != 1 {
		t.Fatalf("after join: %+v", s)
	}
	if err := hb(gc, g, m1, 1); err != nil {
		t.Fatalf("heartbeat before sync: %v", err)
	}
	s1 := answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m1, Generation: 1, Assignments: []Assignment{{m1, []byte("all")}}}))
	if s1.Err != nil || string(s1.Assignment) != "all" || s1.Protocol != "range" {
		t.Fatalf("sync 1: %+v", s1)
	}
	if saved, _ := store.saved(g); saved.State != "Stable" || saved.Generation != 1 || saved.Leader != m1 {
		t.Fatalf("saved after sync: %+v", saved)
	}
	for _, tc := range []struct {
		member string
		gen    int32
		want   error
	}{{m1, 1, nil}, {m1, 7, ErrIllegalGeneration}, {"nobody", 1, ErrUnknownMember}} {
		if err := hb(gc, g, tc.member, tc.gen); !errors.Is(err, tc.want) {
			t.Fatalf("heartbeat %s gen %d: %v, want %v", tc.member, tc.gen, err, tc.want)
		}
	}

	// A protocol the group does not share.
	if r := answer(t, joinAsync(ctx, gc, req(g, "", "sticky"))); !errors.Is(r.Err, ErrInconsistentProtocol) {
		t.Fatalf("unshared protocol: %+v", r)
	}

	// Member 2 waits for member 1, which learns of the rebalance from its
	// heartbeat and rejoins.
	m2, ch2 := joinNew(t, gc, req(g, "", "roundrobin", "range"))
	waiting(t, ch2)
	if err := hb(gc, g, m1, 1); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat during rebalance: %v", err)
	}
	// Commits are accepted while the group waits for joins.
	if r := gc.CommitOffsets(ctx, CommitRequest{Group: g, MemberID: m1, Generation: 1, Offsets: []CommitOffset{{Topic: "t", Offset: 3, LeaderEpoch: -1}}}); r.Err != nil || r.Offsets[0] != nil {
		t.Fatalf("commit while preparing: %+v", r)
	}
	ch1 = joinAsync(ctx, gc, req(g, m1, "range", "roundrobin"))
	j1, j2 := answer(t, ch1), answer(t, ch2)
	if j1.Err != nil || j2.Err != nil || j1.Generation != 2 || j2.Generation != 2 || j1.LeaderID != m1 || j2.LeaderID != m1 {
		t.Fatalf("rejoin: %+v / %+v", j1, j2)
	}
	if len(j1.Members) != 2 || len(j2.Members) != 0 || j1.Protocol != "range" {
		t.Fatalf("leader sees %d members, follower %d, protocol %q (the tie goes to the leader's preference)", len(j1.Members), len(j2.Members), j1.Protocol)
	}
	// Each member's metadata for the chosen protocol, in join order.
	if j1.Members[0].MemberID != m1 || string(j1.Members[0].Metadata) != "md-range" ||
		j1.Members[1].MemberID != m2 || string(j1.Members[1].Metadata) != "md-range" {
		t.Fatalf("leader's member list: %+v", j1.Members)
	}

	// The follower's sync waits for the leader's; a sync naming another
	// protocol is refused.
	sc2 := syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m2, Generation: 2})
	waiting(t, sc2)
	other := "roundrobin"
	if r := answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m1, Generation: 2, Protocol: &other})); !errors.Is(r.Err, ErrInconsistentProtocol) {
		t.Fatalf("sync with another protocol: %+v", r)
	}
	s1 = answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m1, Generation: 2,
		Assignments: []Assignment{{m1, []byte("p0,p1")}, {m2, []byte("p2,p3")}}}))
	s2 := answer(t, sc2)
	if s1.Err != nil || s2.Err != nil || string(s1.Assignment) != "p0,p1" || string(s2.Assignment) != "p2,p3" {
		t.Fatalf("sync: %+v / %+v", s1, s2)
	}
	if s := state(t, gc, g); s.State != StateStable || s.Generation != 2 || len(s.Members) != 2 {
		t.Fatalf("after sync: %+v", s)
	}
	// A follower rejoining unchanged gets the current generation at once;
	// a Sync in a Stable group answers the current assignment.
	if r := answer(t, joinAsync(ctx, gc, req(g, m2, "roundrobin", "range"))); r.Err != nil || r.Generation != 2 {
		t.Fatalf("unchanged rejoin: %+v", r)
	}
	if r := answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m2, Generation: 2})); r.Err != nil || string(r.Assignment) != "p2,p3" {
		t.Fatalf("sync when stable: %+v", r)
	}
	d := gc.Describe(ctx, g)
	if d.Err != nil || d.State != StateStable || d.Protocol != "range" || len(d.Members) != 2 || string(d.Members[1].Assignment) != "p2,p3" || d.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("describe: %+v", d)
	}

	// Leave: one known member, one unknown; the rest must rejoin.
	lr := gc.Leave(ctx, LeaveRequest{Group: g, Members: []LeavingMember{{MemberID: m2}, {MemberID: "ghost"}}})
	if lr.Err != nil || len(lr.Members) != 2 || lr.Members[0] != nil || !errors.Is(lr.Members[1], ErrUnknownMember) {
		t.Fatalf("leave: %+v", lr)
	}
	if err := hb(gc, g, m1, 2); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after a leave: %v", err)
	}
	if r := answer(t, joinAsync(ctx, gc, req(g, m1, "range"))); r.Err != nil || r.Generation != 3 || len(r.Members) != 1 {
		t.Fatalf("join after leave: %+v", r)
	}
	// The last member leaving: Empty, a new generation.
	if lr := gc.Leave(ctx, LeaveRequest{Group: g, Members: []LeavingMember{{MemberID: m1}}}); lr.Err != nil || lr.Members[0] != nil {
		t.Fatalf("last leave: %+v", lr)
	}
	if s := state(t, gc, g); s.State != StateEmpty || s.Generation != 4 || len(s.Members) != 0 {
		t.Fatalf("after the last leave: %+v", s)
	}
}

func TestJoinChecks(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), func(c *Config) { c.MinSessionTimeout = 0 }) // the 6s default
	ctx := context.Background()
	bad := req("g", "", "range")
	bad.SessionTimeout = time.Second
	if r := answer(t, joinAsync(ctx, gc, bad)); !errors.Is(r.Err, ErrInvalidSessionTimeout) || r.Generation != -1 {
		t.Fatalf("short session: %+v", r)
	}
	bad.SessionTimeout = time.Hour
	if r := answer(t, joinAsync(ctx, gc, bad)); !errors.Is(r.Err, ErrInvalidSessionTimeout) {
		t.Fatalf("long session: %+v", r)
	}
	if r := answer(t, joinAsync(ctx, gc, req("", "", "range"))); !errors.Is(r.Err, ErrInvalidGroupID) {
		t.Fatalf("empty group: %+v", r)
	}
	if r := answer(t, joinAsync(ctx, gc, req("g", ""))); !errors.Is(r.Err, ErrInconsistentProtocol) {
		t.Fatalf("no protocols: %+v", r)
	}
	unknown := req("g", "made-up", "range")
	if r := answer(t, joinAsync(ctx, gc, unknown)); !errors.Is(r.Err, ErrUnknownMember) || r.MemberID != "made-up" {
		t.Fatalf("unknown member id: %+v", r)
	}
	// Without RequireMemberID (JoinGroup v0-v3) a first join joins at once.
	old := req("old", "", "range")
	old.RequireMemberID = false
	if r := answer(t, joinAsync(ctx, gc, old)); r.Err != nil || r.Generation != 1 || r.MemberID == "" || r.LeaderID != r.MemberID {
		t.Fatalf("join without member id required: %+v", r)
	}
	if _, ok := gc.Peek("g"); ok {
		t.Fatal("refused joins left group g in memory")
	}
}

// TestMemberIDRequiredExpires: an id handed out with ErrMemberIDRequired
// that is never used is forgotten after the session timeout; a used one
// joins.
func TestMemberIDRequiredExpires(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	r := req("pending", "", "range")
	r.SessionTimeout = 50 * time.Millisecond
	first := answer(t, joinAsync(context.Background(), gc, r))
	if !errors.Is(first.Err, ErrMemberIDRequired) {
		t.Fatalf("first join: %+v", first)
	}
	if s := state(t, gc, "pending"); s.Pending != 1 || len(s.Members) != 0 {
		t.Fatalf("pending: %+v", s)
	}
	if d := gc.Describe(context.Background(), "pending"); d.State != StateEmpty {
		t.Fatalf("describe a group with a pending member: %+v", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := gc.Peek("pending"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pending member id never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The expired id is unknown now.
	r.MemberID = first.MemberID
	if j := answer(t, joinAsync(context.Background(), gc, r)); !errors.Is(j.Err, ErrUnknownMember) {
		t.Fatalf("join with an expired id: %+v", j)
	}
}

func TestCommitChecks(t *testing.T) {
	store := newMemStore()
	gc := newTestCoordinator(t, store, func(c *Config) { c.MaxOffsetMetadata = 8 })
	ctx := context.Background()
	const g = "commits"
	commit := func(member string, gen int32, md string) CommitResponse {
		return gc.CommitOffsets(ctx, CommitRequest{Group: g, MemberID: member, Generation: gen,
			Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: 2, Metadata: &md}}})
	}
	// Simple commits while the group has no members; a member's commit to
	// an empty group is refused.
	if r := commit("", -1, "ok"); r.Err != nil || r.Offsets[0] != nil {
		t.Fatalf("simple commit: %+v", r)
	}
	if r := commit("someone", 3, "ok"); !errors.Is(r.Err, ErrUnknownMember) {
		t.Fatalf("member commit to an empty group: %+v", r)
	}
	if r := commit("", 3, "ok"); !errors.Is(r.Err, ErrIllegalGeneration) {
		t.Fatalf("generation without member: %+v", r)
	}
	if r := commit("", -1, "too long metadata"); r.Err != nil || !errors.Is(r.Offsets[0], ErrOffsetMetadataTooLarge) {
		t.Fatalf("long metadata: %+v", r)
	}
	// The simple commit created the group.
	if d := gc.Describe(ctx, g); d.State != StateEmpty {
		t.Fatalf("describe after a simple commit: %+v", d)
	}

	m, ch := joinNew(t, gc, req(g, "", "range"))
	j := answer(t, ch)
	if r := commit(m, j.Generation, "x"); !errors.Is(r.Err, ErrRebalanceInProgress) {
		t.Fatalf("commit between join and sync: %+v", r)
	}
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m, Generation: j.Generation}))
	if r := commit("", -1, "x"); !errors.Is(r.Err, ErrUnknownMember) {
		t.Fatalf("simple commit to an active group: %+v", r)
	}
	if r := commit(m, j.Generation+1, "x"); !errors.Is(r.Err, ErrIllegalGeneration) {
		t.Fatalf("commit with another generation: %+v", r)
	}
	if r := commit(m, j.Generation, "member"); r.Err != nil || r.Offsets[0] != nil {
		t.Fatalf("member commit: %+v", r)
	}
	f := gc.FetchOffsets(ctx, FetchRequest{Group: g, Topics: []TopicPartitions{{"t", []int32{0, 1}}}})
	if f.Err != nil || len(f.Topics) != 1 || len(f.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch: %+v", f)
	}
	if p := f.Topics[0].Partitions[0]; p.Offset != 5 || p.LeaderEpoch != 2 || *p.Metadata != "member" {
		t.Fatalf("fetched p0: %+v", p)
	}
	if p := f.Topics[0].Partitions[1]; p.Offset != -1 || p.LeaderEpoch != -1 || *p.Metadata != "" {
		t.Fatalf("uncommitted p1: %+v", p)
	}
	if all := gc.FetchOffsets(ctx, FetchRequest{Group: g}); len(all.Topics) != 1 || len(all.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch all: %+v", all)
	}

	// A metastore failure is ErrStore, per written partition.
	store.mu.Lock()
	store.fail = errors.New("injected")
	store.mu.Unlock()
	if r := commit(m, j.Generation, "x"); r.Err != nil || !errors.Is(r.Offsets[0], ErrStore) {
		t.Fatalf("commit with a failing store: %+v", r)
	}
	if f := gc.FetchOffsets(ctx, FetchRequest{Group: g, Topics: []TopicPartitions{{"t", []int32{0}}}}); !errors.Is(f.Err, ErrStore) || f.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("fetch with a failing store: %+v", f)
	}
}

// TestStaticMemberReplacement: a static member rejoining with an empty
// member id replaces its old id without a rebalance and keeps its
// assignment; the old id is fenced.
func TestStaticMemberReplacement(t *testing.T) {
	store := newMemStore()
	gc := newTestCoordinator(t, store, nil)
	ctx := context.Background()
	const g = "static"
	static := func(instance, member string) JoinRequest {
		r := req(g, member, "range")
		r.InstanceID = &instance
		return r
	}
	// Static members join at once, without ErrMemberIDRequired.
	j1 := answer(t, joinAsync(ctx, gc, static("s1", "")))
	if j1.Err != nil || j1.Generation != 1 {
		t.Fatalf("static join: %+v", j1)
	}
	ch2 := joinAsync(ctx, gc, static("s2", ""))
	waitState(t, gc, g, StatePreparingRebalance)
	ch1 := joinAsync(ctx, gc, static("s1", j1.MemberID))
	j1, j2 := answer(t, ch1), answer(t, ch2)
	if j1.Err != nil || j2.Err != nil || j1.Generation != 2 || j1.LeaderID != j1.MemberID {
		t.Fatalf("two static members: %+v / %+v", j1, j2)
	}
	sc2 := syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: j2.MemberID, Generation: 2})
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: j1.MemberID, Generation: 2,
		Assignments: []Assignment{{j1.MemberID, []byte("a")}, {j2.MemberID, []byte("b")}}}))
	answer(t, sc2)
	saves := store.saves

	// The follower restarts: a new member id at once, same generation, its
	// old assignment.
	r := answer(t, joinAsync(ctx, gc, static("s2", "")))
	if r.Err != nil || r.Generation != 2 || r.MemberID == j2.MemberID || r.SkipAssignment || len(r.Members) != 0 {
		t.Fatalf("static rejoin: %+v", r)
	}
	if s := state(t, gc, g); s.State != StateStable || s.Generation != 2 || len(s.Members) != 2 || s.Members[1].MemberID != r.MemberID {
		t.Fatalf("after the static rejoin: %+v", s)
	}
	if store.saves != saves+1 {
		t.Fatalf("the replacement was not saved (%d saves, was %d)", store.saves, saves)
	}
	if s := answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: r.MemberID, Generation: 2})); s.Err != nil || string(s.Assignment) != "b" {
		t.Fatalf("sync of the replaced member: %+v", s)
	}
	s2 := "s2"
	if err := gc.Heartbeat(ctx, HeartbeatRequest{Group: g, MemberID: j2.MemberID, InstanceID: &s2, Generation: 2}); !errors.Is(err, ErrFencedInstance) {
		t.Fatalf("heartbeat with the old id: %v", err)
	}
	if c := gc.CommitOffsets(ctx, CommitRequest{Group: g, MemberID: j2.MemberID, InstanceID: &s2, Generation: 2}); !errors.Is(c.Err, ErrFencedInstance) {
		t.Fatalf("commit with the old id: %+v", c)
	}
	// The leader restarting is told to skip assignment.
	r = answer(t, joinAsync(ctx, gc, static("s1", "")))
	if r.Err != nil || !r.SkipAssignment || r.LeaderID != r.MemberID || len(r.Members) != 2 {
		t.Fatalf("static leader rejoin: %+v", r)
	}
	// A static member leaves by its instance id; another member id for it
	// is fenced.
	s1 := "s1"
	lr := gc.Leave(ctx, LeaveRequest{Group: g, Members: []LeavingMember{{MemberID: "wrong", InstanceID: &s1}, {InstanceID: &s1}}})
	if !errors.Is(lr.Members[0], ErrFencedInstance) || lr.Members[1] != nil {
		t.Fatalf("static leave: %+v", lr)
	}
}

// TestStaticReplaceWakesWaiter: the old member id's waiting Join is
// answered with ErrFencedInstance.
func TestStaticReplaceWakesWaiter(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	ctx := context.Background()
	inst := "s"
	dyn, ch := joinNew(t, gc, req("w", "", "range"))
	jd := answer(t, ch)
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: "w", MemberID: dyn, Generation: jd.Generation}))
	sr := req("w", "", "range")
	sr.InstanceID = &inst
	waitS := joinAsync(ctx, gc, sr) // waits for the dynamic member
	waitState(t, gc, "w", StatePreparingRebalance)
	waiting(t, waitS)
	replaced := joinAsync(ctx, gc, sr) // waits for the dynamic member too
	if old := answer(t, waitS); !errors.Is(old.Err, ErrFencedInstance) {
		t.Fatalf("old waiting join: %+v", old)
	}
	waiting(t, replaced)
	jd = answer(t, joinAsync(ctx, gc, req("w", dyn, "range"))) // completes the rebalance
	js := answer(t, replaced)
	if jd.Err != nil || js.Err != nil || js.Generation != 2 || js.MemberID == "" || len(jd.Members) != 2 {
		t.Fatalf("after the replacement: %+v / %+v", jd, js)
	}
}

// TestSessionExpiry: a member that stops heartbeating is removed after
// its session timeout and the group rebalances without it.
func TestSessionExpiry(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	ctx := context.Background()
	r := req("s", "", "range")
	r.SessionTimeout, r.RebalanceTimeout = 400*time.Millisecond, 400*time.Millisecond
	m, ch := joinNew(t, gc, r)
	j := answer(t, ch)
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: "s", MemberID: m, Generation: j.Generation}))
	// Heartbeats keep it alive past its session timeout.
	for range 8 {
		time.Sleep(80 * time.Millisecond)
		if err := hb(gc, "s", m, j.Generation); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
	}
	waitState(t, gc, "s", StateEmpty)
	if err := hb(gc, "s", m, j.Generation); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("heartbeat after expiry: %v", err)
	}
	if s := state(t, gc, "s"); s.Generation != j.Generation+1 {
		t.Fatalf("after expiry: %+v", s)
	}
}

// TestRebalanceTimeoutDropsMember: a member that does not rejoin is
// dropped at the rebalance timeout, and its heartbeat is
// ErrUnknownMember.
func TestRebalanceTimeoutDropsMember(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	ctx := context.Background()
	const g = "rt"
	r := req(g, "", "range")
	r.RebalanceTimeout = 200 * time.Millisecond
	m1, ch1 := joinNew(t, gc, r)
	j1 := answer(t, ch1)
	m2, ch2 := joinNew(t, gc, r)
	waitState(t, gc, g, StatePreparingRebalance)
	r1 := r
	r1.MemberID = m1
	ch1 = joinAsync(ctx, gc, r1)
	j1, j2 := answer(t, ch1), answer(t, ch2)
	gen := j1.Generation
	sc2 := syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m2, Generation: gen})
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: g, MemberID: m1, Generation: gen}))
	if s := answer(t, sc2); s.Err != nil || j2.Err != nil {
		t.Fatalf("member 2: %+v %+v", j2, s)
	}
	// The leader rejoins with new metadata; member 2 never does.
	start := time.Now()
	r1.Protocols = append(r1.Protocols, Protocol{Name: "roundrobin"})
	j1 = answer(t, joinAsync(ctx, gc, r1))
	if j1.Err != nil || j1.Generation != gen+1 || len(j1.Members) != 1 {
		t.Fatalf("rejoin without member 2: %+v", j1)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("rebalance completed after %v, before the rebalance timeout", el)
	}
	if err := hb(gc, g, m2, gen); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("dropped member's heartbeat: %v", err)
	}
}

// TestSyncTimeoutDropsMembers: after a rebalance, members that do not
// sync within the rebalance timeout are dropped (the leader among them)
// and the group rebalances.
func TestSyncTimeoutDropsMembers(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	r := req("st", "", "range")
	r.RebalanceTimeout = 100 * time.Millisecond
	m1, ch1 := joinNew(t, gc, r)
	j1 := answer(t, ch1)
	if s := state(t, gc, "st"); s.State != StateCompletingRebalance {
		t.Fatalf("after join: %+v", s)
	}
	waitState(t, gc, "st", StateEmpty)
	if err := hb(gc, "st", m1, j1.Generation); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("heartbeat of a member that never synced: %v", err)
	}
}

// TestCloseAnswersWaiters: Close answers parked Joins and Syncs with
// ErrClosed, and every later request fails with ErrClosed.
func TestCloseAnswersWaiters(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	ctx := context.Background()
	m1, ch1 := joinNew(t, gc, req("c", "", "range"))
	j1 := answer(t, ch1)
	m2, ch2 := joinNew(t, gc, req("c", "", "range"))
	waiting(t, ch2)
	j1 = answer(t, joinAsync(ctx, gc, req("c", m1, "range"))) // completes the rebalance
	j2 := answer(t, ch2)
	sc2 := syncAsync(ctx, gc, SyncRequest{Group: "c", MemberID: m2, Generation: j2.Generation})
	waiting(t, sc2)
	_, ch3 := joinNew(t, gc, req("c2", "", "range"))
	answer(t, ch3)
	m4, ch4 := joinNew(t, gc, req("c2", "", "range"))
	waiting(t, ch4)
	gc.Close()
	if s := answer(t, sc2); !errors.Is(s.Err, ErrClosed) {
		t.Fatalf("waiting sync at close: %+v", s)
	}
	if j := answer(t, ch4); !errors.Is(j.Err, ErrClosed) || j.Generation != -1 {
		t.Fatalf("waiting join at close: %+v (member %s)", j, m4)
	}
	if err := hb(gc, "c", m1, j1.Generation); !errors.Is(err, ErrClosed) {
		t.Fatalf("heartbeat after close: %v", err)
	}
	if f := gc.FetchOffsets(ctx, FetchRequest{Group: "c"}); !errors.Is(f.Err, ErrClosed) {
		t.Fatalf("fetch after close: %+v", f)
	}
	gc.Close() // twice is fine
}

// TestAbandonedWaiter: a parked Join whose context ends is answered with
// ErrAbandoned, and the rebalance goes on without that request.
func TestAbandonedWaiter(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), nil)
	ctx := context.Background()
	m1, ch1 := joinNew(t, gc, req("a", "", "range"))
	answer(t, ch1)
	first := answer(t, joinAsync(ctx, gc, req("a", "", "range")))
	cctx, cancel := context.WithCancel(ctx)
	r := req("a", first.MemberID, "range")
	ch2 := joinAsync(cctx, gc, r)
	waiting(t, ch2)
	cancel()
	if j := answer(t, ch2); !errors.Is(j.Err, ErrAbandoned) || !errors.Is(j.Err, context.Canceled) {
		t.Fatalf("abandoned join: %+v", j)
	}
	// Member 2 joined the rebalance; it need not ask again for it to
	// complete once the leader rejoins.
	j1 := answer(t, joinAsync(ctx, gc, req("a", m1, "range")))
	if j1.Err != nil || len(j1.Members) != 2 {
		t.Fatalf("leader's rejoin: %+v", j1)
	}
}

// TestEvictMoved: a group placed on another agent is dropped: its waiters
// get ErrNotCoordinator and requests fail until it comes back, when it is
// loaded from the store in PreparingRebalance.
func TestEvictMoved(t *testing.T) {
	var moved atomic.Bool
	gc := newTestCoordinator(t, newMemStore(), func(c *Config) {
		c.Coordinates = func(name string) bool { return name != "m" || !moved.Load() }
	})
	ctx := context.Background()
	m1, ch1 := joinNew(t, gc, req("m", "", "range"))
	j1 := answer(t, ch1)
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: "m", MemberID: m1, Generation: j1.Generation}))
	_, ch2 := joinNew(t, gc, req("m", "", "range"))
	waiting(t, ch2)
	moved.Store(true)
	gc.EvictMoved()
	if j := answer(t, ch2); !errors.Is(j.Err, ErrNotCoordinator) {
		t.Fatalf("waiter of a moved group: %+v", j)
	}
	if _, ok := gc.Peek("m"); ok {
		t.Fatal("moved group still in memory")
	}
	if err := hb(gc, "m", m1, j1.Generation); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("heartbeat to a moved group: %v", err)
	}
	moved.Store(false)
	if err := hb(gc, "m", m1, j1.Generation); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after the group came back: %v", err)
	}
}

func TestAdmin(t *testing.T) {
	gc := newTestCoordinator(t, newMemStore(), func(c *Config) {
		c.ConsumerTopics = func(md []byte) ([]string, error) {
			if string(md) == "bad" {
				return nil, errors.New("unreadable")
			}
			return []string{"consumed"}, nil
		}
	})
	ctx := context.Background()
	for _, name := range []string{"offsets-b", "offsets-a"} {
		if r := gc.CommitOffsets(ctx, CommitRequest{Group: name, Generation: -1, Offsets: []CommitOffset{
			{Topic: "consumed", Partition: 0, Offset: 1}, {Topic: "free", Partition: 0, Offset: 2}, {Topic: "free", Partition: 1, Offset: 3},
		}}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	r := req("active", "", "range")
	r.RequireMemberID = false
	r.Protocols[0].Metadata = []byte("consumer metadata")
	j := answer(t, joinAsync(ctx, gc, r))
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: "active", MemberID: j.MemberID, Generation: j.Generation}))
	gc.CommitOffsets(ctx, CommitRequest{Group: "active", MemberID: j.MemberID, Generation: j.Generation, Offsets: []CommitOffset{
		{Topic: "consumed", Partition: 0, Offset: 1}, {Topic: "free", Partition: 0, Offset: 2},
	}})

	ls, err := gc.List(ctx, ListRequest{})
	if err != nil || len(ls) != 3 || ls[0].Name != "active" || ls[0].State != StateStable || ls[0].ProtocolType != "consumer" || ls[1].Name != "offsets-a" || ls[1].State != StateEmpty {
		t.Fatalf("list: %+v %v", ls, err)
	}
	if ls, _ := gc.List(ctx, ListRequest{States: []string{"stable"}}); len(ls) != 1 || ls[0].Name != "active" {
		t.Fatalf("list stable: %+v", ls)
	}
	if d := gc.Describe(ctx, "nope"); d.Err != nil || d.State != StateDead {
		t.Fatalf("describe unknown: %+v", d)
	}
	if d := gc.Describe(ctx, ""); !errors.Is(d.Err, ErrInvalidGroupID) {
		t.Fatalf("describe empty: %+v", d)
	}

	// DeleteOffsets: subscribed topics refused, the rest deleted.
	dr := gc.DeleteOffsets(ctx, DeleteOffsetsRequest{Group: "active", Topics: []TopicPartitions{{"consumed", []int32{0}}, {"free", []int32{0}}}})
	if dr.Err != nil || !errors.Is(dr.Topics[0][0], ErrSubscribedToTopic) || dr.Topics[1][0] != nil {
		t.Fatalf("delete offsets of an active group: %+v", dr)
	}
	if f := gc.FetchOffsets(ctx, FetchRequest{Group: "active"}); len(f.Topics) != 1 || f.Topics[0].Topic != "consumed" {
		t.Fatalf("offsets after delete: %+v", f)
	}
	if dr := gc.DeleteOffsets(ctx, DeleteOffsetsRequest{Group: "nope", Topics: []TopicPartitions{{"free", []int32{0}}}}); !errors.Is(dr.Err, ErrGroupNotFound) {
		t.Fatalf("delete offsets of an unknown group: %+v", dr)
	}
	if dr := gc.DeleteOffsets(ctx, DeleteOffsetsRequest{Group: "offsets-a", Topics: []TopicPartitions{{"free", []int32{1}}}}); dr.Err != nil || dr.Topics[0][0] != nil {
		t.Fatalf("delete offsets of an empty group: %+v", dr)
	}

	// Delete: refused with members, allowed once they left.
	if err := gc.Delete(ctx, "active"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete an active group: %v", err)
	}
	if err := gc.Delete(ctx, "nope"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("delete an unknown group: %v", err)
	}
	gc.Leave(ctx, LeaveRequest{Group: "active", Members: []LeavingMember{{MemberID: j.MemberID}}})
	if err := gc.Delete(ctx, "active"); err != nil {
		t.Fatalf("delete an empty group: %v", err)
	}
	if f := gc.FetchOffsets(ctx, FetchRequest{Group: "active"}); len(f.Topics) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", f)
	}
	if ls, _ := gc.List(ctx, ListRequest{}); len(ls) != 2 {
		t.Fatalf("list after delete: %+v", ls)
	}

	// A member whose metadata is unreadable makes the group refuse.
	bad := req("bad", "", "range")
	bad.RequireMemberID = false
	bad.Protocols[0].Metadata = []byte("bad")
	answer(t, joinAsync(ctx, gc, bad))
	if dr := gc.DeleteOffsets(ctx, DeleteOffsetsRequest{Group: "bad"}); !errors.Is(dr.Err, ErrNonEmptyGroup) {
		t.Fatalf("delete offsets with unreadable metadata: %+v", dr)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("no store accepted")
	}
	if _, err := New(Config{Store: newMemStore(), MinSessionTimeout: time.Minute, MaxSessionTimeout: time.Second}); err == nil {
		t.Fatal("max below min accepted")
	}
	c := Config{Store: newMemStore()}
	c.EnsureDefaults()
	if c.MinSessionTimeout != 6*time.Second || c.MaxSessionTimeout != 30*time.Minute || c.MaxOffsetMetadata != 4096 || c.Logger == nil || !c.Coordinates("x") {
		t.Fatalf("defaults: %+v", c)
	}
}

// metricValue gathers one metric's value ("reason" label value if given).
func metricValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != reason) {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s %s", name, reason)
	return 0
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	gc := newTestCoordinator(t, newMemStore(), func(c *Config) { c.Registerer = reg })
	ctx := context.Background()
	r := req("m", "", "range")
	r.RequireMemberID = false
	j := answer(t, joinAsync(ctx, gc, r))
	answer(t, syncAsync(ctx, gc, SyncRequest{Group: "m", MemberID: j.MemberID, Generation: j.Generation}))
	gc.CommitOffsets(ctx, CommitRequest{Group: "m", MemberID: j.MemberID, Generation: j.Generation,
		Offsets: []CommitOffset{{Topic: "t", Offset: 1}, {Topic: "t", Partition: 1, Offset: 1}}})
	if n := metricValue(t, reg, "strata_group_groups", ""); n != 1 {
		t.Fatalf("groups %v", n)
	}
	gc.Leave(ctx, LeaveRequest{Group: "m", Members: []LeavingMember{{MemberID: j.MemberID}}})
	if n := metricValue(t, reg, "strata_group_rebalances_total", ""); n != 2 {
		t.Fatalf("rebalances %v, want 2 (the join, the leave)", n)
	}
	if n := metricValue(t, reg, "strata_group_members_removed_total", removedLeave); n != 1 {
		t.Fatalf("members removed by leave: %v", n)
	}
	if n := metricValue(t, reg, "strata_group_offset_commits_total", ""); n != 2 {
		t.Fatalf("commits %v", n)
	}
	if _, err := New(Config{Store: newMemStore(), Registerer: reg}); err == nil {
		t.Fatal("registering the metrics twice went unnoticed")
	}
}
