package agent

// OffsetCommit v0-v9.
//
//   - Commits from a group member are checked against the group: an
//     unknown member is UNKNOWN_MEMBER_ID, a static member's stale id
//     FENCED_INSTANCE_ID (v7+), another generation ILLEGAL_GENERATION, and
//     a group between its join and sync phases REBALANCE_IN_PROGRESS.
//     Commits are accepted while the group waits for joins (members commit
//     before they rejoin), and extend the member's session.
//   - Simple commits (generation -1, empty member id; always so for v0)
//     are accepted while the group has no members (admin tools, consumers
//     that assign partitions themselves) and create the group if needed.
//   - Unknown topics or partitions are UNKNOWN_TOPIC_OR_PARTITION and
//     metadata over 4096 bytes OFFSET_METADATA_TOO_LARGE, per partition.
//   - Offsets, leader epoch (v6+; -1 before) and metadata are written to
//     the metastore in one transaction before the answer; the retention
//     time (v2-v4) and the commit timestamp (v1) are ignored.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleOffsetCommit(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.OffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := make([][]int16, len(r.Topics))
	for i, rt := range r.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
	}
	setAll := func(code int16) {
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
	}
	defer func() {
		for i, rt := range r.Topics {
			ot := kmsg.NewOffsetCommitResponseTopic()
			ot.Topic = rt.Topic
			for j, rp := range rt.Partitions {
				op := kmsg.NewOffsetCommitResponseTopicPartition()
				op.Partition, op.ErrorCode = rp.Partition, codes[i][j]
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
		f.finish(resp)
	}()
	if r.Group == "" {
		setAll(kerr.InvalidGroupID.Code)
		return
	}
	g, err := c.a.groups().lock(c.ctx, r.Group)
	if err != nil {
		setAll(groupErrorCode(err))
		return
	}
	defer g.unlock()
	if code := g.checkCommit(r.Generation, r.MemberID, r.InstanceID); code != 0 {
		setAll(code)
		return
	}
	var offsets []metastore.GroupOffset
	now := time.Now()
	for i, rt := range r.Topics {
		t := c.a.topicByName(rt.Topic)
		for j, rp := range rt.Partitions {
			switch {
			case t.Partition(rp.Partition) == nil:
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			case rp.Metadata != nil && len(*rp.Metadata) > maxOffsetMetadata:
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
			default:
				epoch := rp.LeaderEpoch
				if r.Version < 6 {
					epoch = -1
				}
				offsets = append(offsets, metastore.GroupOffset{
					Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset,
					LeaderEpoch: epoch, Metadata: rp.Metadata, CommitTime: now,
				})
			}
		}
	}
	if len(offsets) == 0 {
		return
	}
	// Written with the group locked: no rebalance can complete, and no new
	// owner fetch these partitions' offsets, before this commit is durable.
	if err := c.a.meta.CommitOffsets(c.ctx, r.Group, offsets); err != nil {
		c.a.log.Warn("commit offsets", "group", r.Group, "err", err)
		setAll(groupErrorCode(fmt.Errorf("%w: %v", errGroupStore, err)))
		return
	}
	g.mu.persisted = true
}

// checkCommit validates a commit's member and generation with the group
// locked, and extends the member's session.
func (g *group) checkCommit(generation int32, memberID string, instanceID *string) int16 {
	if len(g.mu.members) == 0 {
		if generation < 0 && memberID == "" {
			return 0 // a simple commit
		}
		if memberID != "" {
			return kerr.UnknownMemberID.Code
		}
		return kerr.IllegalGeneration.Code
	}
	if code := g.checkInstance(instanceID, memberID); code != 0 {
		return code
	}
	m := g.mu.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case generation != g.mu.generation:
		return kerr.IllegalGeneration.Code
	case g.mu.state == groupCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	g.touch(m)
	return 0
}
