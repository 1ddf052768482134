package kafka

// Metadata v0-v12.
//
//   - Brokers are the live agents registered in the metastore; a
//     partition's leader is its owner's node id and its leader epoch the
//     ownership epoch. Replicas and ISR list the leader only: durability
//     comes from object storage, not from broker replicas.
//   - A null topic list (v1+) or an empty one (v0) means every topic.
//     Topics may be named or, from v10, given by ID.
//   - Unknown topics answer UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by
//     ID), unless the agent runs with AutoCreateTopics and the request
//     allows auto-creation: then the topic is created with the default
//     partition count and answered at once.

import (
	"context"
	"github.com/stratalog/strata/partlog"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleMetadata(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	resp.ClusterID = &srv.clusterID
	var agentNodes map[string]int32
	resp.Brokers, resp.ControllerID, agentNodes = srv.brokers(c.ctx, c.lst.Name)
	nodes := agentNodes

	var want []*partlog.Topic
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		want = srv.allTopics()
		sort.Slice(want, func(i, j int) bool { return want[i].Name() < want[j].Name() })
	}
	for _, rt := range r.Topics {
		var t *partlog.Topic
		switch {
		case rt.Topic != nil:
			t = srv.topicByName(*rt.Topic)
			if t == nil && srv.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation) {
				t = srv.autoCreate(c.ctx, *rt.Topic)
			}
		default:
			t = srv.topicByID(metastore.TopicID(rt.TopicID))
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		want = append(want, t)
	}
	for _, t := range want {
		mt := kmsg.NewMetadataResponseTopic()
		name := t.Name()
		mt.Topic, mt.TopicID = &name, t.ID()
		for _, p := range t.Partitions() {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition = p.Index()
			st := p.Status()
			epoch, owner := st.Epoch, st.Owner
			if node, ok := nodes[owner]; ok && owner != "" {
				mp.Leader = node
				mp.LeaderEpoch = epoch
				mp.Replicas = []int32{mp.Leader}
				mp.ISR = []int32{mp.Leader}
			} else {
				mp.ErrorCode = kerr.LeaderNotAvailable.Code
				mp.Leader = -1
			}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	f.finish(resp)
}

// brokers lists the live agents, always including this one, at their
// addresses on the listener called listener; agents without that
// listener are left out.
func (srv *Server) brokers(ctx context.Context, listener string) ([]kmsg.MetadataResponseBroker, int32, map[string]int32) {
	self := kmsg.NewMetadataResponseBroker()
	me := srv.self(listener)
	self.NodeID, self.Host, self.Port = srv.nodeID, me.Host, me.Port
	if srv.cfg.Rack != "" {
		self.Rack = &srv.cfg.Rack
	}
	out := []kmsg.MetadataResponseBroker{self}
	nodes := map[string]int32{srv.agentID: srv.nodeID}
	// A fresh list (a client asks Metadata right after an agent came or
	// went), which also becomes ownership's view for FindCoordinator.
	agents, err := srv.own.Agents(ctx)
	if err != nil {
		srv.log.Warn("list agents", "err", err)
		return out, srv.nodeID, nodes
	}
	controller := srv.nodeID
	for _, ag := range agents {
		controller = min(controller, ag.NodeID)
		nodes[ag.ID] = ag.NodeID
		if ag.ID == srv.agentID {
			continue
		}
		host, port, ok := srv.addr(ctx, ag, listener)
		if !ok {
			continue
		}
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = ag.NodeID, host, port
		if ag.Rack != "" {
			rack := ag.Rack
			b.Rack = &rack
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out, controller, nodes
}

// autoCreate creates a topic for a Metadata request; nil if it fails.
func (srv *Server) autoCreate(ctx context.Context, name string) *partlog.Topic {
	if err := validateTopicName(name); err != nil {
		return nil
	}
	t, err := srv.createTopic(ctx, name, srv.cfg.DefaultPartitions, srv.cfg.DefaultReplicationFactor, nil)
	if err != nil {
		if t := srv.topicByName(name); t != nil {
			return t
		}
		srv.log.Warn("auto-create topic failed", "topic", name, "err", err)
		return nil
	}
	return t
}
