package group

import (
	"context"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// CommitRequest commits offsets for a group. A member's commit names its
// member id and generation; a simple commit (admin tools, consumers that
// assign partitions themselves) has an empty member id and generation -1.
type CommitRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
	// Offsets are of partitions the caller checked exist.
	Offsets []CommitOffset
}

// CommitOffset is one partition's committed offset.
type CommitOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32   // -1 when unknown
	Metadata    *string // nil is null
}

// CommitResponse answers a commit: Err applies to every partition; else
// Offsets holds each offset's outcome in the request's order.
type CommitResponse struct {
	Err     error
	Offsets []error
}

// CommitOffsets checks the member and generation against the group
// (extending the member's session) and writes the offsets to the Store in
// one transaction before it returns. Commits are accepted while the group
// waits for joins (members commit before they rejoin) but not between the
// join and sync phases (ErrRebalanceInProgress); simple commits only while
// the group has no members, and they create the group if needed.
func (gc *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) CommitResponse {
	if req.Group == "" {
		return CommitResponse{Err: ErrInvalidGroupID}
	}
	g, err := gc.lock(ctx, req.Group)
	if err != nil {
		return CommitResponse{Err: err}
	}
	defer g.unlock()
	if err := g.checkCommit(req.Generation, req.MemberID, req.InstanceID); err != nil {
		return CommitResponse{Err: err}
	}
	resp := CommitResponse{Offsets: make([]error, len(req.Offsets))}
	var (
		offsets []metastore.GroupOffset
		written []int
	)
	now := time.Now()
	for i, o := range req.Offsets {
		if o.Metadata != nil && len(*o.Metadata) > gc.cfg.MaxOffsetMetadata {
			resp.Offsets[i] = ErrOffsetMetadataTooLarge
			continue
		}
		offsets = append(offsets, metastore.GroupOffset{
			Topic: o.Topic, Partition: o.Partition, Offset: o.Offset,
			LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTime: now,
		})
		written = append(written, i)
	}
	if len(offsets) == 0 {
		return resp
	}
	// Written with the group locked: no rebalance can complete, and no new
	// owner fetch these partitions' offsets, before this commit is durable.
	if err := gc.cfg.Store.CommitOffsets(ctx, req.Group, offsets); err != nil {
		gc.log.Warn("commit offsets", "group", req.Group, "err", err)
		err = fmt.Errorf("%w: %v", ErrStore, err)
		for _, i := range written {
			resp.Offsets[i] = err
		}
		return resp
	}
	g.mu.persisted = true
	gc.metrics.commits.Add(float64(len(offsets)))
	return resp
}

// checkCommit validates a commit's member and generation with the group
// locked, and extends the member's session.
func (g *group) checkCommit(generation int32, memberID string, instanceID *string) error {
	if len(g.mu.members) == 0 {
		if generation < 0 && memberID == "" {
			return nil // a simple commit
		}
		if memberID != "" {
			return ErrUnknownMember
		}
		return ErrIllegalGeneration
	}
	if err := g.checkInstance(instanceID, memberID); err != nil {
		return err
	}
	m := g.mu.members[memberID]
	switch {
	case m == nil:
		return ErrUnknownMember
	case generation != g.mu.generation:
		return ErrIllegalGeneration
	case g.mu.state == StateCompletingRebalance:
		return ErrRebalanceInProgress
	}
	g.touch(m)
	return nil
}

// TopicPartitions names partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// FetchRequest asks for a group's committed offsets.
type FetchRequest struct {
	Group string
	// Topics are the partitions asked for; nil means every partition the
	// group has committed (an empty, non-nil list asks for none).
	Topics []TopicPartitions
}

// FetchResponse answers a fetch. On error (Err) every requested partition
// is reported as uncommitted.
type FetchResponse struct {
	Err    error
	Topics []FetchedTopic
}

// FetchedTopic is one topic's committed offsets.
type FetchedTopic struct {
	Topic      string
	Partitions []FetchedOffset
}

// FetchedOffset is one partition's committed offset. A partition with no
// committed offset has offset -1, leader epoch -1 and empty metadata.
type FetchedOffset struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string // never nil
}

// FetchOffsets reads a group's committed offsets from the Store. It does
// not load the group or check placement, and answers after Close with
// ErrClosed.
func (gc *Coordinator) FetchOffsets(ctx context.Context, req FetchRequest) FetchResponse {
	var out FetchResponse
	if req.Topics != nil {
		out.Topics = make([]FetchedTopic, len(req.Topics))
		for i, rt := range req.Topics {
			out.Topics[i].Topic = rt.Topic
			for _, p := range rt.Partitions {
				out.Topics[i].Partitions = append(out.Topics[i].Partitions, FetchedOffset{Partition: p})
			}
		}
	}
	unknown := func() {
		empty := ""
		for i := range out.Topics {
			for j := range out.Topics[i].Partitions {
				p := &out.Topics[i].Partitions[j]
				p.Offset, p.LeaderEpoch, p.Metadata = -1, -1, &empty
			}
		}
	}
	gc.mu.Lock()
	closed := gc.mu.closed
	gc.mu.Unlock()
	switch {
	case req.Group == "":
		out.Err = ErrInvalidGroupID
		unknown()
		return out
	case closed:
		out.Err = ErrClosed
		unknown()
		return out
	}
	offs, err := gc.cfg.Store.GroupOffsets(ctx, req.Group)
	if err != nil {
		gc.log.Warn("fetch group offsets", "group", req.Group, "err", err)
		out.Err = fmt.Errorf("%w: %w", ErrStore, err)
		unknown()
		return out
	}
	if req.Topics == nil {
		// GroupOffsets is ordered by topic, then partition.
		for _, o := range offs {
			if n := len(out.Topics); n == 0 || out.Topics[n-1].Topic != o.Topic {
				out.Topics = append(out.Topics, FetchedTopic{Topic: o.Topic})
			}
			ft := &out.Topics[len(out.Topics)-1]
			ft.Partitions = append(ft.Partitions, fetched(o))
		}
		return out
	}
	unknown()
	type key struct {
		topic string
		part  int32
	}
	have := make(map[key]metastore.GroupOffset, len(offs))
	for _, o := range offs {
		have[key{o.Topic, o.Partition}] = o
	}
	for i := range out.Topics {
		for j := range out.Topics[i].Partitions {
			p := &out.Topics[i].Partitions[j]
			if o, ok := have[key{out.Topics[i].Topic, p.Partition}]; ok {
				*p = fetched(o)
			}
		}
	}
	return out
}

func fetched(o metastore.GroupOffset) FetchedOffset {
	md := o.Metadata
	if md == nil {
		empty := ""
		md = &empty
	}
	return FetchedOffset{Partition: o.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: md}
}

// DeleteOffsetsRequest deletes a group's committed offsets.
type DeleteOffsetsRequest struct {
	Group string
	// Topics are of partitions the caller checked exist.
	Topics []TopicPartitions
}

// DeleteOffsetsResponse answers a DeleteOffsets: Err for the whole
// request, else Topics, each partition's outcome in the request's order.
type DeleteOffsetsResponse struct {
	Err    error
	Topics [][]error
}

// DeleteOffsets deletes committed offsets. An unknown group fails with
// ErrGroupNotFound. A group with members that does not use the consumer
// protocol (or whose metadata Config.ConsumerTopics cannot read) fails
// with ErrNonEmptyGroup; with consumer members, partitions of topics they
// subscribe to fail with ErrSubscribedToTopic and the rest are deleted.
func (gc *Coordinator) DeleteOffsets(ctx context.Context, req DeleteOffsetsRequest) DeleteOffsetsResponse {
	if req.Group == "" {
		return DeleteOffsetsResponse{Err: ErrInvalidGroupID}
	}
	g, err := gc.lock(ctx, req.Group)
	if err != nil {
		return DeleteOffsetsResponse{Err: err}
	}
	defer g.unlock()
	if !g.exists() {
		return DeleteOffsetsResponse{Err: ErrGroupNotFound}
	}
	var subscribed map[string]bool
	if len(g.mu.members) > 0 {
		var ok bool
		subscribed, ok = g.memberSubscriptions()
		if g.mu.protocolType != "consumer" || !ok {
			return DeleteOffsetsResponse{Err: ErrNonEmptyGroup}
		}
	}
	resp := DeleteOffsetsResponse{Topics: make([][]error, len(req.Topics))}
	for i, rt := range req.Topics {
		errs := make([]error, len(rt.Partitions))
		var del []int32
		for j, p := range rt.Partitions {
			if subscribed[rt.Topic] {
				errs[j] = ErrSubscribedToTopic
				continue
			}
			del = append(del, p)
		}
		if len(del) > 0 {
			if err := gc.cfg.Store.DeleteGroupOffsets(ctx, req.Group, rt.Topic, del); err != nil {
				gc.log.Warn("delete group offsets", "group", req.Group, "topic", rt.Topic, "err", err)
				err = fmt.Errorf("%w: %v", ErrStore, err)
				for j := range errs {
					if errs[j] == nil {
						errs[j] = err
					}
				}
			}
		}
		resp.Topics[i] = errs
	}
	return resp
}

// memberSubscriptions returns the topics the members subscribe to, from
// their consumer protocol metadata; ok is false if some member's metadata
// cannot be read.
func (g *group) memberSubscriptions() (map[string]bool, bool) {
	decode := g.gc.cfg.ConsumerTopics
	if decode == nil {
		return nil, false
	}
	topics := map[string]bool{}
	for _, m := range g.mu.members {
		for _, p := range m.protocols {
			if p.Name != g.mu.protocol && g.mu.protocol != "" {
				continue
			}
			ts, err := decode(p.Metadata)
			if err != nil {
				return nil, false
			}
			for _, t := range ts {
				topics[t] = true
			}
		}
	}
	return topics, true
}

// CheckTxnCommit checks a transactional offset commit (TxnOffsetCommit)
// against the group before the transaction coordinator stores its offsets
// as pending: this agent must coordinate the group, and a commit naming a
// member or a generation is checked as CommitOffsets checks one (the
// member's session is extended). One naming neither (TxnOffsetCommit
// before v3, admin tools) is not checked.
func (gc *Coordinator) CheckTxnCommit(ctx context.Context, name, memberID string, instanceID *string, generation int32) error {
	if name == "" {
		return ErrInvalidGroupID
	}
	g, err := gc.lock(ctx, name)
	if err != nil {
		return err
	}
	defer g.unlock()
	if memberID == "" && generation < 0 {
		return nil
	}
	return g.checkCommit(generation, memberID, instanceID)
}
