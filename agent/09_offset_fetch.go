package agent

// OffsetFetch v0-v9.
//
//   - Committed offsets come from the metastore: offset, leader epoch (v5+)
//     and metadata. A partition with no committed offset answers offset
//     -1, leader epoch -1 and empty metadata, without an error.
//   - A null topic list (v2+) means every partition the group has
//     committed.
//   - v8+ batch several groups, each answered on its own; the member id
//     and epoch of v9 (for KIP-848 groups) are ignored. RequireStable (v7+)
//     needs no waiting: there are no transactional offset commits.
//   - An empty group id is INVALID_GROUP_ID; a metastore failure
//     COORDINATOR_NOT_AVAILABLE (top-level from v2, per partition before).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

// fetchedOffsets is one group's answer, in a version-neutral shape.
type fetchedOffsets struct {
	code   int16
	topics []fetchedTopic
}

type fetchedTopic struct {
	name  string
	parts []fetchedPartition
}

type fetchedPartition struct {
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    *string
	code        int16
}

func handleOffsetFetch(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.OffsetFetchRequest)
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version >= 8 {
		for _, rg := range r.Groups {
			var want []fetchedTopic
			if rg.Topics != nil {
				want = []fetchedTopic{}
				for _, rt := range rg.Topics {
					want = append(want, requestedTopic(rt.Topic, rt.Partitions))
				}
			}
			got := c.a.fetchOffsets(c.ctx, rg.Group, want)
			og := kmsg.NewOffsetFetchResponseGroup()
			og.Group, og.ErrorCode = rg.Group, got.code
			for _, ft := range got.topics {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = ft.name
				for _, fp := range ft.parts {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition, op.Offset, op.LeaderEpoch, op.Metadata, op.ErrorCode = fp.partition, fp.offset, fp.leaderEpoch, fp.metadata, fp.code
					ot.Partitions = append(ot.Partitions, op)
				}
				og.Topics = append(og.Topics, ot)
			}
			resp.Groups = append(resp.Groups, og)
		}
		f.finish(resp)
		return
	}
	var want []fetchedTopic
	if r.Topics != nil || r.Version < 2 {
		want = []fetchedTopic{}
		for _, rt := range r.Topics {
			want = append(want, requestedTopic(rt.Topic, rt.Partitions))
		}
	}
	got := c.a.fetchOffsets(c.ctx, r.Group, want)
	if got.code != 0 {
		if r.Version >= 2 {
			resp.ErrorCode = got.code
		}
		// Before v2 the error can only be carried per partition.
		for i := range got.topics {
			for j := range got.topics[i].parts {
				got.topics[i].parts[j].code = got.code
			}
		}
	}
	for _, ft := range got.topics {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = ft.name
		for _, fp := range ft.parts {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch, op.Metadata, op.ErrorCode = fp.partition, fp.offset, fp.leaderEpoch, fp.metadata, fp.code
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	f.finish(resp)
}

func requestedTopic(name string, parts []int32) fetchedTopic {
	ft := fetchedTopic{name: name}
	for _, p := range parts {
		ft.parts = append(ft.parts, fetchedPartition{partition: p})
	}
	return ft
}

// fetchOffsets answers one group: want lists the requested partitions,
// nil means every committed partition.
func (a *Agent) fetchOffsets(ctx context.Context, group string, want []fetchedTopic) fetchedOffsets {
	out := fetchedOffsets{topics: want}
	unknown := func() {
		empty := ""
		for i := range out.topics {
			for j := range out.topics[i].parts {
				p := &out.topics[i].parts[j]
				p.offset, p.leaderEpoch, p.metadata = -1, -1, &empty
			}
		}
	}
	if group == "" {
		out.code = kerr.InvalidGroupID.Code
		unknown()
		return out
	}
	if a.closing.Load() {
		out.code = kerr.NotCoordinator.Code
		unknown()
		return out
	}
	offs, err := a.meta.GroupOffsets(ctx, group)
	if err != nil {
		a.log.Warn("fetch group offsets", "group", group, "err", err)
		out.code = groupErrorCode(err)
		if out.code == kerr.GroupIDNotFound.Code {
			out.code = kerr.CoordinatorNotAvailable.Code
		}
		unknown()
		return out
	}
	if want == nil {
		// GroupOffsets is ordered by topic, then partition.
		for _, o := range offs {
			if n := len(out.topics); n == 0 || out.topics[n-1].name != o.Topic {
				out.topics = append(out.topics, fetchedTopic{name: o.Topic})
			}
			ft := &out.topics[len(out.topics)-1]
			ft.parts = append(ft.parts, fromGroupOffset(o))
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
	for i := range out.topics {
		for j := range out.topics[i].parts {
			p := &out.topics[i].parts[j]
			if o, ok := have[key{out.topics[i].name, p.partition}]; ok {
				*p = fromGroupOffset(o)
			}
		}
	}
	return out
}

func fromGroupOffset(o metastore.GroupOffset) fetchedPartition {
	md := o.Metadata
	if md == nil {
		empty := ""
		md = &empty
	}
	return fetchedPartition{partition: o.Partition, offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: md}
}
