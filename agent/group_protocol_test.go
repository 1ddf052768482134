package agent_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/internal/testkit"
)

// Group states as the tests compare them with the wire's strings.
const (
	groupEmpty              = string(group.StateEmpty)
	groupPreparingRebalance = string(group.StatePreparingRebalance)
	groupStable             = string(group.StateStable)
	groupDead               = string(group.StateDead)
)

// Protocol-level tests of the group coordinator over raw connections, so
// each test controls versions and the interleaving of waiting requests.

// recv reads the response to a request sent earlier with send.
func (r *rawConn) recv(req kmsg.Request, corr int32, resp kmsg.Response) {
	r.t.Helper()
	body, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		r.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if req.IsFlexible() {
		body = body[1:]
	}
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decode response: %v", err)
	}
}

func joinReq(v int16, group, member string, session, rebalance int32, protocols ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = v
	r.Group, r.MemberID, r.ProtocolType = group, member, "consumer"
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = session, rebalance
	for _, p := range protocols {
		r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte("md-" + p + "-" + member)})
	}
	return r
}

func syncReq(v int16, group, member string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version, r.Group, r.MemberID, r.Generation = v, group, member, gen
	for m, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	return r
}

func heartbeat(t *testing.T, rc *rawConn, group, member string, gen int32) int16 {
	t.Helper()
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version, r.Group, r.MemberID, r.Generation = 4, group, member, gen
	resp := kmsg.NewPtrHeartbeatResponse()
	rc.roundTrip(r, resp)
	return resp.ErrorCode
}

// joinNew joins a dynamic member with v9: MEMBER_ID_REQUIRED, then the
// real join, which may wait; it returns the sent request and correlation.
func joinNew(t *testing.T, rc *rawConn, group string, session, rebalance int32, protocols ...string) (*kmsg.JoinGroupRequest, int32) {
	t.Helper()
	req := joinReq(9, group, "", session, rebalance, protocols...)
	resp := kmsg.NewPtrJoinGroupResponse()
	rc.roundTrip(req, resp)
	if resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
		t.Fatalf("first join: code %v member %q, want MEMBER_ID_REQUIRED with an id", kerr.ErrorForCode(resp.ErrorCode), resp.MemberID)
	}
	req = joinReq(9, group, resp.MemberID, session, rebalance, protocols...)
	return req, rc.send(req)
}

func groupSnapshot(a *agent.Agent, name string) (state string, gen int32, members int) {
	s, ok := a.Groups().Peek(name)
	if !ok {
		return "", 0, 0
	}
	return string(s.State), s.Generation, len(s.Members)
}

func TestGroupJoinSyncHeartbeatLeave(t *testing.T) {
	a := testAgent(t, nil)
	c1, c2 := dialRaw(t, a), dialRaw(t, a)
	const g = "proto"

	// Member 1 joins alone: generation 1 at once, leader, protocol of its choice.
	req1, corr1 := joinNew(t, c1, g, 10000, 5000, "range", "roundrobin")
	j1 := kmsg.NewPtrJoinGroupResponse()
	c1.recv(req1, corr1, j1)
	if j1.ErrorCode != 0 || j1.Generation != 1 || j1.LeaderID != j1.MemberID || *j1.Protocol != "range" || len(j1.Members) != 1 {
		t.Fatalf("join 1: %+v", j1)
	}
	m1 := j1.MemberID
	s1 := kmsg.NewPtrSyncGroupResponse()
	c1.roundTrip(syncReq(5, g, m1, 1, map[string]string{m1: "all"}), s1)
	if s1.ErrorCode != 0 || string(s1.MemberAssignment) != "all" || *s1.Protocol != "range" {
		t.Fatalf("sync 1: %+v", s1)
	}
	if code := heartbeat(t, c1, g, m1, 1); code != 0 {
		t.Fatalf("heartbeat: %v", kerr.ErrorForCode(code))
	}
	if code := heartbeat(t, c1, g, m1, 7); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat wrong generation: %v", kerr.ErrorForCode(code))
	}
	if code := heartbeat(t, c1, g, "nobody", 1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat unknown member: %v", kerr.ErrorForCode(code))
	}

	// Member 2 prefers roundrobin and does not support range's rival
	// "sticky": the vote among common protocols (range, roundrobin) ties
	// 1:1 and goes to the longest-standing member's preference.
	if code := func() int16 {
		r := joinReq(9, g, "", 10000, 5000, "sticky")
		r.MemberID = ""
		resp := kmsg.NewPtrJoinGroupResponse()
		c2.roundTrip(r, resp)
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			r.MemberID = resp.MemberID
			c2.roundTrip(r, resp)
		}
		return resp.ErrorCode
	}(); code != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("join with an unshared protocol: %v", kerr.ErrorForCode(code))
	}
	req2, corr2 := joinNew(t, c2, g, 10000, 5000, "roundrobin", "range")
	testkit.WaitFor(t, 5*time.Second, func() bool { st, _, _ := groupSnapshot(a, g); return st == groupPreparingRebalance })
	// Member 2's join waits for member 1, which learns of the rebalance
	// from its heartbeat.
	if code := heartbeat(t, c1, g, m1, 1); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %v", kerr.ErrorForCode(code))
	}
	if st, _, _ := groupSnapshot(a, g); st != groupPreparingRebalance {
		t.Fatalf("state %s, want PreparingRebalance", st)
	}
	rj1 := joinReq(9, g, m1, 10000, 5000, "range", "roundrobin")
	corrRj1 := c1.send(rj1)
	j1, j2 := kmsg.NewPtrJoinGroupResponse(), kmsg.NewPtrJoinGroupResponse()
	c1.recv(rj1, corrRj1, j1)
	c2.recv(req2, corr2, j2)
	if j1.ErrorCode != 0 || j2.ErrorCode != 0 || j1.Generation != 2 || j2.Generation != 2 {
		t.Fatalf("rejoin: %+v / %+v", j1, j2)
	}
	if j1.LeaderID != m1 || len(j1.Members) != 2 || len(j2.Members) != 0 {
		t.Fatalf("leader %q (want %q), leader sees %d members, follower %d", j1.LeaderID, m1, len(j1.Members), len(j2.Members))
	}
	if *j1.Protocol != "range" {
		t.Fatalf("protocol %q, want range (tie goes to the leader's preference)", *j1.Protocol)
	}
	for _, m := range j1.Members {
		if want := "md-range-" + m.MemberID; string(m.ProtocolMetadata) != want {
			t.Fatalf("member %s metadata %q, want %q", m.MemberID, m.ProtocolMetadata, want)
		}
	}
	m2 := j2.MemberID

	// Follower syncs first and waits for the leader; the leader's
	// assignment is handed over byte for byte.
	sr2 := syncReq(3, g, m2, 2, nil)
	corrS2 := c2.send(sr2)
	// A sync with the wrong protocol name (v5) is refused.
	bad := syncReq(5, g, m1, 2, nil)
	bad.Protocol = kmsg.StringPtr("roundrobin")
	c1.roundTrip(bad, s1)
	if s1.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("sync with the wrong protocol: %v", kerr.ErrorForCode(s1.ErrorCode))
	}
	c1.roundTrip(syncReq(5, g, m1, 2, map[string]string{m1: "p0,p1", m2: "p2,p3"}), s1)
	s2 := kmsg.NewPtrSyncGroupResponse()
	c2.recv(sr2, corrS2, s2)
	if s1.ErrorCode != 0 || s2.ErrorCode != 0 || string(s1.MemberAssignment) != "p0,p1" || string(s2.MemberAssignment) != "p2,p3" {
		t.Fatalf("sync: %+v / %+v", s1, s2)
	}
	if st, gen, n := groupSnapshot(a, g); st != groupStable || gen != 2 || n != 2 {
		t.Fatalf("group %s gen %d members %d", st, gen, n)
	}

	// A follower rejoining with unchanged metadata gets the current
	// generation at once.
	same := joinReq(9, g, m2, 10000, 5000, "roundrobin", "range")
	c2.roundTrip(same, j2)
	if j2.ErrorCode != 0 || j2.Generation != 2 {
		t.Fatalf("unchanged rejoin: %+v", j2)
	}

	// LeaveGroup v3 (batched): one known, one unknown member.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group = 3, g
	lv.Members = []kmsg.LeaveGroupRequestMember{{MemberID: m2}, {MemberID: "ghost"}}
	lresp := kmsg.NewPtrLeaveGroupResponse()
	c2.roundTrip(lv, lresp)
	if len(lresp.Members) != 2 || lresp.Members[0].ErrorCode != 0 || lresp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", lresp)
	}
	if code := heartbeat(t, c1, g, m1, 2); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after a leave: %v", kerr.ErrorForCode(code))
	}
	rj1 = joinReq(9, g, m1, 10000, 5000, "range")
	c1.roundTrip(rj1, j1)
	if j1.ErrorCode != 0 || j1.Generation != 3 || len(j1.Members) != 1 {
		t.Fatalf("join after leave: %+v", j1)
	}
	c1.roundTrip(syncReq(5, g, m1, 3, map[string]string{m1: "all"}), s1)

	// LeaveGroup v0 for the last member: the group is Empty, generation 4.
	lv = kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group, lv.MemberID = 0, g, m1
	c1.roundTrip(lv, lresp)
	if lresp.ErrorCode != 0 {
		t.Fatalf("leave v0: %v", kerr.ErrorForCode(lresp.ErrorCode))
	}
	if st, gen, n := groupSnapshot(a, g); st != groupEmpty || gen != 4 || n != 0 {
		t.Fatalf("after the last leave: %s gen %d members %d", st, gen, n)
	}
}

func TestGroupOldJoinVersions(t *testing.T) {
	a := testAgent(t, nil)
	rc := dialRaw(t, a)
	// v0-v3 join at once with an empty member id; v0 has no rebalance
	// timeout (the session timeout is used).
	for _, v := range []int16{0, 1, 3} {
		g := "old-" + string(rune('0'+v))
		j := kmsg.NewPtrJoinGroupResponse()
		rc.roundTrip(joinReq(v, g, "", 6000, 6000, "range"), j)
		if j.ErrorCode != 0 || j.Generation != 1 || j.MemberID == "" || j.LeaderID != j.MemberID {
			t.Fatalf("v%d join: %+v", v, j)
		}
		s := kmsg.NewPtrSyncGroupResponse()
		rc.roundTrip(syncReq(0, g, j.MemberID, 1, map[string]string{j.MemberID: "x"}), s)
		if s.ErrorCode != 0 || string(s.MemberAssignment) != "x" {
			t.Fatalf("v0 sync: %+v", s)
		}
	}
	// Session timeout out of bounds; empty group id.
	j := kmsg.NewPtrJoinGroupResponse()
	rc.roundTrip(joinReq(5, "g", "", 10, 10, "range"), j)
	if j.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("tiny session timeout: %v", kerr.ErrorForCode(j.ErrorCode))
	}
	rc.roundTrip(joinReq(5, "", "", 6000, 6000, "range"), j)
	if j.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group: %v", kerr.ErrorForCode(j.ErrorCode))
	}
}

func TestFindCoordinator(t *testing.T) {
	a := testAgent(t, nil)
	rc := dialRaw(t, a)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = 0, "g"
	resp := kmsg.NewPtrFindCoordinatorResponse()
	rc.roundTrip(req, resp)
	advHost, advPort := a.Advertised()
	if resp.ErrorCode != 0 || resp.NodeID != a.NodeID() || resp.Host != advHost || resp.Port != advPort {
		t.Fatalf("v0: %+v", resp)
	}
	req.Version, req.CoordinatorType = 3, 1
	rc.roundTrip(req, resp)
	if resp.ErrorCode != 0 || resp.NodeID != a.NodeID() || resp.Port != advPort {
		t.Fatalf("transaction key: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp)
	}
	req.Version, req.CoordinatorType = 3, 7
	rc.roundTrip(req, resp)
	if resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("unknown key type: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	req.Version, req.CoordinatorType, req.CoordinatorKeys = 5, 0, []string{"a", "b", ""}
	rc.roundTrip(req, resp)
	if len(resp.Coordinators) != 3 {
		t.Fatalf("batched: %+v", resp)
	}
	for i, c := range resp.Coordinators[:2] {
		if c.ErrorCode != 0 || c.NodeID != a.NodeID() || c.Port != advPort || c.Key != req.CoordinatorKeys[i] {
			t.Fatalf("batched %d: %+v", i, c)
		}
	}
	if resp.Coordinators[2].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("empty key: %+v", resp.Coordinators[2])
	}
}

// TestGroupSessionAndRebalanceTimeouts: a member that stops heartbeating
// is removed after its session timeout and the group rebalances; a member
// that does not rejoin a rebalance is dropped at the rebalance timeout;
// a MEMBER_ID_REQUIRED id that is never used expires.
func TestGroupSessionAndRebalanceTimeouts(t *testing.T) {
	a := testAgent(t, func(c *agent.Config) { c.GroupMinSessionTimeout = 50 * time.Millisecond })
	c1, c2 := dialRaw(t, a), dialRaw(t, a)
	const g = "timeouts"

	// Session expiry of a lone member: the group empties.
	req, corr := joinNew(t, c1, g, 300, 300, "range")
	j := kmsg.NewPtrJoinGroupResponse()
	c1.recv(req, corr, j)
	s := kmsg.NewPtrSyncGroupResponse()
	c1.roundTrip(syncReq(5, g, j.MemberID, j.Generation, nil), s)
	testkit.WaitFor(t, 5*time.Second, func() bool { st, _, _ := groupSnapshot(a, g); return st == groupEmpty })
	if code := heartbeat(t, c1, g, j.MemberID, j.Generation); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after expiry: %v", kerr.ErrorForCode(code))
	}

	// Two members; member 2 never rejoins after member 1 (the leader)
	// does: the rebalance completes without it at the rebalance timeout.
	req1, corr1 := joinNew(t, c1, g, 10000, 400, "range")
	j1 := kmsg.NewPtrJoinGroupResponse()
	c1.recv(req1, corr1, j1)
	req2, corr2 := joinNew(t, c2, g, 10000, 400, "range")
	testkit.WaitFor(t, 5*time.Second, func() bool { st, _, _ := groupSnapshot(a, g); return st == groupPreparingRebalance })
	rj1 := joinReq(9, g, j1.MemberID, 10000, 400, "range")
	corrR := c1.send(rj1)
	j2 := kmsg.NewPtrJoinGroupResponse()
	c1.recv(rj1, corrR, j1)
	c2.recv(req2, corr2, j2)
	if j1.Generation != j2.Generation || len(j1.Members) != 2 {
		t.Fatalf("two members: %+v / %+v", j1, j2)
	}
	gen := j1.Generation
	sr2 := syncReq(5, g, j2.MemberID, gen, nil)
	corrS2 := c2.send(sr2)
	c1.roundTrip(syncReq(5, g, j1.MemberID, gen, map[string]string{j1.MemberID: "a", j2.MemberID: "b"}), s)
	s2 := kmsg.NewPtrSyncGroupResponse()
	c2.recv(sr2, corrS2, s2)
	if string(s2.MemberAssignment) != "b" {
		t.Fatalf("member 2 assignment %q", s2.MemberAssignment)
	}
	// The leader rejoins with new metadata: a rebalance that member 2
	// never joins.
	start := time.Now()
	rj1 = joinReq(9, g, j1.MemberID, 10000, 400, "range", "roundrobin")
	c1.roundTrip(rj1, j1)
	if j1.ErrorCode != 0 || j1.Generation != gen+1 || len(j1.Members) != 1 {
		t.Fatalf("rejoin without member 2: %+v", j1)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("rebalance completed after %v, before the rebalance timeout", el)
	}

	// A MEMBER_ID_REQUIRED id that is never used is forgotten after the
	// session timeout.
	c2.roundTrip(joinReq(9, "pending", "", 100, 100, "range"), j2)
	if j2.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: %v", kerr.ErrorForCode(j2.ErrorCode))
	}
	testkit.WaitFor(t, 5*time.Second, func() bool { _, ok := a.Groups().Peek("pending"); return !ok })
}

// TestOffsetCommitChecksAndOldFetch: member and generation checks of
// OffsetCommit, and OffsetFetch before v8 (null topics = all, -1 for
// uncommitted partitions).
func TestOffsetCommitChecksAndOldFetch(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "oc", 2, nil)
	rc := dialRaw(t, a)
	const g = "commits"
	commit := func(v int16, member string, gen int32, part int32, off int64) int16 {
		t.Helper()
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version, r.Group, r.MemberID, r.Generation = v, g, member, gen
		md := "meta"
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "oc", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: part, Offset: off, LeaderEpoch: 5, Metadata: &md}}}}
		resp := kmsg.NewPtrOffsetCommitResponse()
		rc.roundTrip(r, resp)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	// Simple commits (v0 has no generation) while the group has no members.
	if code := commit(0, "", -1, 0, 5); code != 0 {
		t.Fatalf("v0 simple commit: %v", kerr.ErrorForCode(code))
	}
	if code := commit(8, "someone", 3, 0, 5); code != kerr.UnknownMemberID.Code {
		t.Fatalf("member commit to an empty group: %v", kerr.ErrorForCode(code))
	}
	if code := commit(8, "", -1, 9, 5); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit to a missing partition: %v", kerr.ErrorForCode(code))
	}

	req, corr := joinNew(t, rc, g, 10000, 5000, "range")
	j := kmsg.NewPtrJoinGroupResponse()
	rc.recv(req, corr, j)
	// Between join and sync: REBALANCE_IN_PROGRESS.
	if code := commit(8, j.MemberID, j.Generation, 1, 7); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit before sync: %v", kerr.ErrorForCode(code))
	}
	s := kmsg.NewPtrSyncGroupResponse()
	rc.roundTrip(syncReq(5, g, j.MemberID, j.Generation, nil), s)
	if code := commit(8, "", -1, 1, 7); code != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit to an active group: %v", kerr.ErrorForCode(code))
	}
	if code := commit(8, j.MemberID, j.Generation+1, 1, 7); code != kerr.IllegalGeneration.Code {
		t.Fatalf("commit with another generation: %v", kerr.ErrorForCode(code))
	}
	if code := commit(8, j.MemberID, j.Generation, 1, 7); code != 0 {
		t.Fatalf("member commit: %v", kerr.ErrorForCode(code))
	}

	// OffsetFetch v1: explicit partitions; v5: null topics means all.
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version, f.Group = 1, g
	f.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "oc", Partitions: []int32{0, 1}}, {Topic: "other", Partitions: []int32{0}}}
	fr := kmsg.NewPtrOffsetFetchResponse()
	rc.roundTrip(f, fr)
	if len(fr.Topics) != 2 || fr.Topics[0].Partitions[0].Offset != 5 || fr.Topics[0].Partitions[1].Offset != 7 || fr.Topics[1].Partitions[0].Offset != -1 {
		t.Fatalf("fetch v1: %+v", fr)
	}
	f.Version, f.Topics = 5, nil
	rc.roundTrip(f, fr)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch v5 all: %+v", fr)
	}
	p0, p1 := fr.Topics[0].Partitions[0], fr.Topics[0].Partitions[1]
	if p0.Offset != 5 || p0.LeaderEpoch != -1 || p1.Offset != 7 || p1.LeaderEpoch != 5 || *p1.Metadata != "meta" {
		t.Fatalf("fetch v5 partitions: %+v %+v", p0, p1)
	}
}
