package agent_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

// End-to-end consumer group tests with franz-go against a real agent.

// seenRecords counts how often each record (by value) was processed.
type seenRecords struct {
	mu       sync.Mutex
	count    map[string]int
	failures []string
}

func newSeen() *seenRecords { return &seenRecords{count: map[string]int{}} }

func (s *seenRecords) add(rs []*kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.count[string(r.Value)]++
	}
}

func (s *seenRecords) fail(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, msg)
}

func (s *seenRecords) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count)
}

// check asserts every record 0..n-1 was processed exactly once.
func (s *seenRecords) check(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		t.Error(f)
	}
	var dups, missing int
	for i := range n {
		switch c := s.count[strconv.Itoa(i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups++
		}
	}
	if dups > 0 || missing > 0 || len(s.count) != n {
		t.Fatalf("of %d records: %d processed more than once, %d never, %d distinct", n, dups, missing, len(s.count))
	}
}

// groupConsumer processes records and commits them before it lets the
// client rebalance (BlockRebalanceOnPoll), the pattern that gives
// exactly-once processing across rebalances when nothing crashes.
type groupConsumer struct {
	cl   *kgo.Client
	stop chan struct{}
	done chan struct{}
}

func startGroupConsumer(t *testing.T, a *agent.Agent, group, topic string, seen *seenRecords, opts ...kgo.Opt) *groupConsumer {
	t.Helper()
	base := []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(100 * time.Millisecond), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RetryTimeout(30 * time.Second),
	}
	cl := testkit.NewClient(t, a.Addr(), append(base, opts...)...)
	gc := &groupConsumer{cl: cl, stop: make(chan struct{}), done: make(chan struct{})}
	go gc.run(seen)
	return gc
}

func (gc *groupConsumer) run(seen *seenRecords) {
	defer close(gc.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-gc.stop:
			cancel()
		case <-gc.done:
		}
	}()
	for {
		fs := gc.cl.PollRecords(ctx, 1000)
		if fs.IsClientClosed() {
			return
		}
		recs := fs.Records()
		seen.add(recs)
		if len(recs) > 0 {
			gc.commit(recs, seen)
		}
		gc.cl.AllowRebalance()
		if ctx.Err() != nil {
			return
		}
	}
}

// commit retries until the commit lands (the coordinator may be
// restarting); a commit refused for good means duplicates will follow.
func (gc *groupConsumer) commit(recs []*kgo.Record, seen *seenRecords) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := gc.cl.CommitRecords(ctx, recs...)
		cancel()
		if err == nil {
			return
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable || time.Now().After(deadline) {
			seen.fail(fmt.Sprintf("commit of %d records failed: %v", len(recs), err))
			return
		}
	}
}

// close stops processing (after the last commit) and leaves the group.
func (gc *groupConsumer) close() {
	close(gc.stop)
	<-gc.done
	gc.cl.Close()
}

func produceRange(t *testing.T, a *agent.Agent, topic string, from, to int) {
	t.Helper()
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		v := strconv.Itoa(i)
		rs = append(rs, &kgo.Record{Key: []byte(v), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.Close()
}

// waitAssignment waits until the group is Stable with n members and each
// of the topic's partitions is assigned to exactly one member.
func waitAssignment(t *testing.T, a *agent.Agent, group, topic string, members, partitions int) {
	t.Helper()
	adm := kadm.NewClient(testkit.NewClient(t, a.Addr()))
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		dg, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			d := dg[group]
			owners := map[int32]int{}
			for _, m := range d.Members {
				if ca, ok := m.Assigned.AsConsumer(); ok {
					for _, tp := range ca.Topics {
						if tp.Topic == topic {
							for _, p := range tp.Partitions {
								owners[p]++
							}
						}
					}
				}
			}
			ok := d.State == groupStable && len(d.Members) == members && len(owners) == partitions
			for _, n := range owners {
				ok = ok && n == 1
			}
			if ok {
				return
			}
			last = fmt.Sprintf("state %s, %d members, owners %v", d.State, len(d.Members), owners)
		}
		if time.Now().After(deadline) {
			t.Fatalf("group never settled with %d members owning %d partitions once each: %s", members, partitions, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitSeen(t *testing.T, seen *seenRecords, n int) {
	t.Helper()
	testkit.WaitFor(t, 60*time.Second, func() bool { return seen.distinct() >= n })
}

// TestGroupExactlyOnceAcrossRebalances: three consumers share six
// partitions (each owned by exactly one), one leaves and another joins
// while records flow; every one of 20,000 records is processed exactly
// once. Eager (range) and cooperative-sticky assignors.
func TestGroupExactlyOnceAcrossRebalances(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := testAgent(t, nil)
			const topic, group, total = "orders", "billing", 20000
			testkit.CreateTopic(t, a.Addr(), topic, 6, nil)
			seen := newSeen()
			bal := kgo.Balancers(tc.balancer)
			produceRange(t, a, topic, 0, 5000)
			c1 := startGroupConsumer(t, a, group, topic, seen, bal)
			c2 := startGroupConsumer(t, a, group, topic, seen, bal)
			c3 := startGroupConsumer(t, a, group, topic, seen, bal)
			waitAssignment(t, a, group, topic, 3, 6)
			produceRange(t, a, topic, 5000, 10000)
			waitSeen(t, seen, 7000)
			c2.close() // leaves mid-stream
			produceRange(t, a, topic, 10000, 15000)
			c4 := startGroupConsumer(t, a, group, topic, seen, bal)
			produceRange(t, a, topic, 15000, total)
			waitAssignment(t, a, group, topic, 3, 6)
			waitSeen(t, seen, total)
			for _, c := range []*groupConsumer{c1, c3, c4} {
				c.close()
			}
			seen.check(t, total)
			checkCommittedAtEnd(t, a, group, topic, total)
		})
	}
}

// checkCommittedAtEnd: the group's committed offsets add up to every
// record.
func checkCommittedAtEnd(t *testing.T, a *agent.Agent, group, topic string, total int) {
	t.Helper()
	adm := kadm.NewClient(testkit.NewClient(t, a.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			sum += o.At
		}
	})
	if sum != int64(total) {
		t.Fatalf("committed offsets add up to %d, want %d", sum, total)
	}
}

// TestGroupResumesAfterRestart: the agent is closed (not shut down) while
// consumers run and restarted on the same address and data dir; the
// consumers' members are restored from the metastore, rejoin, and carry on
// from the committed offsets: no record is missed or processed twice.
func TestGroupResumesAfterRestart(t *testing.T) {
	cfg := agent.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "off",
		FlushInterval: 20 * time.Millisecond, Logger: testkit.Logger(),
	}
	cfg.MetastoreURL, cfg.ObjstoreURL = testkit.Backends(t)
	a := testkit.StartAgent(t, cfg)
	const topic, group, total = "events", "indexer", 20000
	testkit.CreateTopic(t, a.Addr(), topic, 6, nil)
	produceRange(t, a, topic, 0, 10000)
	seen := newSeen()
	cs := []*groupConsumer{
		startGroupConsumer(t, a, group, topic, seen),
		startGroupConsumer(t, a, group, topic, seen),
	}
	waitSeen(t, seen, 3000)
	_, genBefore, _ := groupSnapshot(a, group)
	a.Close()
	cfg.Listen = a.Addr()
	a2 := testkit.StartAgent(t, cfg)
	produceRange(t, a2, topic, 10000, total)
	waitSeen(t, seen, total)
	state, genAfter, members := groupSnapshot(a2, group)
	if genAfter <= genBefore || members != 2 {
		t.Fatalf("after restart: %s generation %d (before %d), %d members", state, genAfter, genBefore, members)
	}
	for _, c := range cs {
		c.close()
	}
	seen.check(t, total)
	checkCommittedAtEnd(t, a2, group, topic, total)
}

// TestGroupStaticMemberRestart: a static member (group.instance.id)
// restarted within its session timeout takes its place back without a
// rebalance; its old member id is fenced. The restarted member is a
// follower: a restarted static leader is told to skip assignment
// (KIP-814), and franz-go then rebalances by itself whenever its own plan
// differs from the old one, as it would against Kafka.
func TestGroupStaticMemberRestart(t *testing.T) {
	a := testAgent(t, nil)
	const topic, group = "static", "static-group"
	testkit.CreateTopic(t, a.Addr(), topic, 4, nil)
	seen := newSeen()
	start := func(id string) *groupConsumer {
		return startGroupConsumer(t, a, group, topic, seen, kgo.InstanceID(id), kgo.SessionTimeout(20*time.Second))
	}
	cs := map[string]*groupConsumer{"s1": start("s1"), "s2": start("s2")}
	waitAssignment(t, a, group, topic, 2, 4)
	_, gen, _ := groupSnapshot(a, group)
	follower := "s1"
	if s, ok := a.Groups().Peek(group); ok && s.Leader == staticMemberID(a, group, "s1") {
		follower = "s2"
	}
	oldID := staticMemberID(a, group, follower)

	cs[follower].close() // static members do not leave the group on close
	cs[follower] = start(follower)
	testkit.WaitFor(t, 30*time.Second, func() bool {
		id := staticMemberID(a, group, follower)
		return id != "" && id != oldID
	})
	waitAssignment(t, a, group, topic, 2, 4)
	if st, g2, n := groupSnapshot(a, group); g2 != gen || n != 2 || st != groupStable {
		t.Fatalf("after the static restart: %s generation %d (was %d), %d members", st, g2, gen, n)
	}

	// The old member id is fenced.
	cl := testkit.NewClient(t, a.Addr())
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = group, oldID, gen, kmsg.StringPtr(follower)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := hb.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("heartbeat with the old member id: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, c := range cs {
		c.close()
	}
}

func staticMemberID(a *agent.Agent, name, instance string) string {
	s, _ := a.Groups().Peek(name)
	for _, m := range s.Members {
		if m.InstanceID != nil && *m.InstanceID == instance {
			return m.MemberID
		}
	}
	return ""
}

// TestGroupRestoredMembersMustRejoin: after a restart a restored member's
// heartbeat answers REBALANCE_IN_PROGRESS; it rejoins with its member id,
// and a restored member that does not is dropped at the rebalance timeout.
func TestGroupRestoredMembersMustRejoin(t *testing.T) {
	cfg := agent.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "off",
		FlushInterval: 20 * time.Millisecond, Logger: testkit.Logger(),
	}
	cfg.MetastoreURL, cfg.ObjstoreURL = testkit.Backends(t)
	a := testkit.StartAgent(t, cfg)
	const g = "restored"
	c1, c2 := dialRaw(t, a), dialRaw(t, a)
	req1, corr1 := joinNew(t, c1, g, 30000, 1000, "range")
	j1 := kmsg.NewPtrJoinGroupResponse()
	c1.recv(req1, corr1, j1)
	req2, corr2 := joinNew(t, c2, g, 30000, 1000, "range")
	testkit.WaitFor(t, 5*time.Second, func() bool { st, _, _ := groupSnapshot(a, g); return st == groupPreparingRebalance })
	rj := joinReq(9, g, j1.MemberID, 30000, 1000, "range")
	corr := c1.send(rj)
	j2 := kmsg.NewPtrJoinGroupResponse()
	c1.recv(rj, corr, j1)
	c2.recv(req2, corr2, j2)
	sr2 := syncReq(5, g, j2.MemberID, j2.Generation, nil)
	corrS := c2.send(sr2)
	s := kmsg.NewPtrSyncGroupResponse()
	c1.roundTrip(syncReq(5, g, j1.MemberID, j1.Generation, map[string]string{j1.MemberID: "A", j2.MemberID: "B"}), s)
	c2.recv(sr2, corrS, s)
	gen := j1.Generation

	a.Close()
	a2 := testkit.StartAgent(t, cfg)
	n1 := dialRaw(t, a2)
	if code := heartbeat(t, n1, g, j1.MemberID, gen); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("restored member's heartbeat: %v", kerr.ErrorForCode(code))
	}
	// Member 1 commits with its restored generation, then rejoins; member
	// 2 never comes back.
	testkit.CreateTopic(t, a2.Addr(), "t", 1, nil)
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.MemberID, oc.Generation = 9, g, j1.MemberID, gen
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42, LeaderEpoch: -1}}}}
	ocr := kmsg.NewPtrOffsetCommitResponse()
	n1.roundTrip(oc, ocr)
	if code := ocr.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit by a restored member: %v", kerr.ErrorForCode(code))
	}
	n1.roundTrip(joinReq(9, g, j1.MemberID, 30000, 1000, "range"), j1)
	if j1.ErrorCode != 0 || j1.Generation != gen+1 || len(j1.Members) != 1 || j1.LeaderID != j1.MemberID {
		t.Fatalf("rejoin after restart: %+v", j1)
	}
	if code := heartbeat(t, n1, g, j2.MemberID, gen); code != kerr.UnknownMemberID.Code {
		t.Fatalf("dropped member's heartbeat: %v", kerr.ErrorForCode(code))
	}
}

// TestGroupAdmin drives DescribeGroups, ListGroups, DeleteGroups,
// OffsetDelete and batched OffsetFetch through kadm.
func TestGroupAdmin(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "t1", 3, nil)
	testkit.CreateTopic(t, a.Addr(), "t2", 2, nil)
	adm := kadm.NewClient(testkit.NewClient(t, a.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Simple commits create offset-only groups.
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "t1", Partition: 0, At: 10, LeaderEpoch: 3, Metadata: "m0"})
	os.Add(kadm.Offset{Topic: "t1", Partition: 2, At: 12, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "t2", Partition: 1, At: 21, LeaderEpoch: -1})
	for _, g := range []string{"offsets-a", "offsets-b"} {
		if r, err := adm.CommitOffsets(ctx, g, os); err != nil || r.Error() != nil {
			t.Fatalf("commit %s: %v %v", g, err, r.Error())
		}
	}
	var bad kadm.Offsets
	bad.Add(kadm.Offset{Topic: "nope", Partition: 0, At: 1, LeaderEpoch: -1})
	if r, err := adm.CommitOffsets(ctx, "offsets-a", bad); err != nil || !errors.Is(r.Error(), kerr.UnknownTopicOrPartition) {
		t.Fatalf("commit to an unknown topic: %v %v", err, r.Error())
	}

	// Batched fetch (OffsetFetch v8+), including an unknown group.
	many := adm.FetchManyOffsets(ctx, "offsets-a", "offsets-b", "no-such-group")
	if err := many.Error(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"offsets-a", "offsets-b"} {
		got := many[g].Fetched
		if o, _ := got.Lookup("t1", 0); o.At != 10 || o.LeaderEpoch != 3 || o.Metadata != "m0" {
			t.Fatalf("%s t1/0: %+v", g, o)
		}
		if o, _ := got.Lookup("t2", 1); o.At != 21 {
			t.Fatalf("%s t2/1: %+v", g, o)
		}
		if n := len(got.Offsets()["t1"]) + len(got.Offsets()["t2"]); n != 3 {
			t.Fatalf("%s: %d offsets, want 3", g, n)
		}
	}
	if n := len(many["no-such-group"].Fetched.Offsets()); n != 0 {
		t.Fatalf("unknown group has %d offsets", n)
	}
	// Unknown partitions answer -1 (FetchOffsetsForTopics asks for every
	// partition of the topics).
	ft, err := adm.FetchOffsetsForTopics(ctx, "offsets-a", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ft.Lookup("t1", 1); o.At != -1 {
		t.Fatalf("uncommitted t1/1: %+v", o)
	}

	// An active consumer group.
	seen := newSeen()
	c := startGroupConsumer(t, a, "active", "t1", seen)
	waitAssignment(t, a, "active", "t1", 1, 3)
	dg, err := adm.DescribeGroups(ctx, "active", "offsets-a", "no-such-group")
	if err != nil {
		t.Fatal(err)
	}
	if d := dg["active"]; d.State != groupStable || d.ProtocolType != "consumer" || d.Protocol == "" || len(d.Members) != 1 || d.Members[0].ClientHost == "" {
		t.Fatalf("describe active: %+v", d)
	}
	if d := dg["offsets-a"]; d.State != groupEmpty || len(d.Members) != 0 {
		t.Fatalf("describe offsets-a: %+v", d)
	}
	if d := dg["no-such-group"]; d.State != groupDead {
		t.Fatalf("describe unknown: %+v", d)
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := lg.Groups(); fmt.Sprint(sortedStrings(names)) != "[active offsets-a offsets-b]" {
		t.Fatalf("list groups: %v", names)
	}
	lg, err = adm.ListGroups(ctx, "Stable")
	if err != nil {
		t.Fatal(err)
	}
	if names := lg.Groups(); len(names) != 1 || names[0] != "active" {
		t.Fatalf("list stable groups: %v", names)
	}

	// OffsetDelete: refused for a topic the members consume, allowed
	// otherwise.
	var del kadm.TopicsSet
	del.Add("t1", 0)
	dr, err := adm.DeleteOffsets(ctx, "active", del)
	if err != nil || !errors.Is(dr.Error(), kerr.GroupSubscribedToTopic) {
		t.Fatalf("delete offsets of a consumed topic: %v %v", err, dr.Error())
	}
	del = kadm.TopicsSet{}
	del.Add("t1", 0)
	del.Add("t2", 1)
	if dr, err := adm.DeleteOffsets(ctx, "offsets-a", del); err != nil || dr.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, dr.Error())
	}
	got, err := adm.FetchOffsets(ctx, "offsets-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Lookup("t1", 0); ok {
		t.Fatal("t1/0 still committed after OffsetDelete")
	}
	if o, ok := got.Lookup("t1", 2); !ok || o.At != 12 {
		t.Fatalf("t1/2 after OffsetDelete: %+v %v", o, ok)
	}

	// DeleteGroups: NON_EMPTY_GROUP while a member is in, then success.
	gr, err := adm.DeleteGroups(ctx, "active", "no-such-group")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(gr["active"].Err, kerr.NonEmptyGroup) || !errors.Is(gr["no-such-group"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: %+v", gr)
	}
	c.close()
	gr, err = adm.DeleteGroups(ctx, "active", "offsets-b")
	if err != nil || gr.Error() != nil {
		t.Fatalf("delete empty groups: %v %v", err, gr.Error())
	}
	lg, err = adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := lg.Groups(); len(names) != 1 || names[0] != "offsets-a" {
		t.Fatalf("groups after delete: %v", names)
	}
	if o, err := adm.FetchOffsets(ctx, "offsets-b"); err != nil || len(o.Offsets()) != 0 {
		t.Fatalf("offsets of a deleted group: %v %v", o, err)
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestGroupRebalanceAfterLeaveTiming measures how long a group takes to be
// Stable again after a member leaves (LeaveGroup) with franz-go consumers
// heartbeating every 100ms. Reported, not asserted.
func TestGroupRebalanceAfterLeaveTiming(t *testing.T) {
	a := testAgent(t, nil)
	const topic, group = "timing", "timing-group"
	testkit.CreateTopic(t, a.Addr(), topic, 6, nil)
	seen := newSeen()
	stay := []*groupConsumer{
		startGroupConsumer(t, a, group, topic, seen),
		startGroupConsumer(t, a, group, topic, seen),
	}
	var took []time.Duration
	for range 10 {
		leaver := startGroupConsumer(t, a, group, topic, seen)
		waitAssignment(t, a, group, topic, 3, 6)
		_, gen, _ := groupSnapshot(a, group)
		start := time.Now()
		leaver.close()
		testkit.WaitFor(t, 30*time.Second, func() bool {
			st, g, n := groupSnapshot(a, group)
			return st == groupStable && g > gen && n == 2
		})
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("LeaveGroup → Stable again (2 remaining members, heartbeat interval 100ms): median %v, min %v, max %v over %d runs",
		took[len(took)/2], took[0], took[len(took)-1], len(took))
	for _, c := range stay {
		c.close()
	}
}
