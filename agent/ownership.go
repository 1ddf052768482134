package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Partition ownership across agents.
//
// Every LeaseTTL/3 the agent lists the live agents (unexpired leases) and,
// for every partition, computes the desired owner by rendezvous hashing
// over them. It claims partitions it should own whose owner is absent or
// dead (the metastore bumps the epoch, fencing any write of the previous
// owner), and releases partitions it should no longer own once their
// buffered data is committed. A partition it finds owned by someone else
// is dropped at once: its commits would be fenced anyway. With one live
// agent, that agent owns everything.
//
// Consumer groups are placed the same way, by the group name
// (coordinatorFor); an agent that is no longer a group's coordinator
// answers NOT_COORDINATOR and drops the group from memory, and the new
// coordinator loads it from the metastore.

// rendezvousOwner returns the live agent with the highest hash for the
// partition ("" with no agents); ties go to the smaller agent ID.
func rendezvousOwner(agents []metastore.Agent, id metastore.TopicID, partition int32) string {
	key := make([]byte, 0, 21)
	key = append(key, 'p')
	key = append(key, id[:]...)
	key = binary.BigEndian.AppendUint32(key, uint32(partition))
	return rendezvous(agents, key)
}

// rendezvous returns the live agent with the highest hash of (agent, key).
func rendezvous(agents []metastore.Agent, key []byte) string {
	var best string
	var bestHash uint64
	for _, ag := range agents {
		h := fnv.New64a()
		h.Write(key)
		h.Write([]byte{0})
		h.Write([]byte(ag.ID))
		v := mix64(h.Sum64())
		if best == "" || v > bestHash || (v == bestHash && ag.ID < best) {
			best, bestHash = ag.ID, v
		}
	}
	return best
}

// coordinatorFor returns the agent coordinating a consumer group: the
// rendezvous winner for the group name over the live agents of the last
// ownership pass (this agent when it knows of no other).
func (a *Agent) coordinatorFor(group string) metastore.Agent {
	agents := *a.liveAgents.Load()
	id := rendezvous(agents, append([]byte{'g'}, group...))
	for _, ag := range agents {
		if ag.ID == id && ag.ID != a.agentID {
			return ag
		}
	}
	return metastore.Agent{ID: a.agentID, NodeID: a.nodeID, Host: a.advHost, Port: a.advPort}
}

// mix64 is the splitmix64 finalizer: FNV-1a alone barely separates keys
// that differ only in a prefix, which made every partition hash to one agent.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// ownershipLoop runs rebalance every LeaseTTL/3 until shutdown.
func (a *Agent) ownershipLoop() {
	defer a.bgWG.Done()
	t := time.NewTicker(a.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.LeaseTTL)
			if err := a.rebalance(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("ownership pass failed", "err", err)
			}
			cancel()
		}
	}
}

// rebalance is one ownership pass over every topic, also picking up topics
// created, grown or deleted through other agents.
func (a *Agent) rebalance(ctx context.Context) error {
	agents, err := a.meta.Agents(ctx, time.Now())
	if err != nil {
		return err
	}
	a.liveAgents.Store(&agents)
	a.groups().evictMoved()
	topics, err := a.meta.Topics(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, mt := range topics {
		known[mt.Name] = true
		t := a.topicByName(mt.Name)
		if t != nil && t.meta.ID != mt.ID {
			a.removeTopic(mt.Name) // deleted and re-created elsewhere
			t = nil
		}
		if t == nil {
			if t, err = a.addTopic(ctx, mt); err != nil {
				return err
			}
		}
		if err := a.rebalanceTopic(ctx, t, agents); err != nil {
			return err
		}
	}
	for _, t := range a.allTopics() {
		if !known[t.meta.Name] {
			a.removeTopic(t.meta.Name)
		}
	}
	return nil
}

// rebalanceTopic claims, keeps or releases each partition of t.
func (a *Agent) rebalanceTopic(ctx context.Context, t *topic, agents []metastore.Agent) error {
	rows, err := a.meta.Partitions(ctx, t.meta.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(rows) > len(t.partitions()) {
		if err := a.extendTopic(ctx, t, rows); err != nil {
			return err
		}
	}
	live := map[string]bool{}
	for _, ag := range agents {
		live[ag.ID] = true
	}
	for _, row := range rows {
		p := t.partition(row.Partition)
		if p == nil {
			continue
		}
		desired := rendezvousOwner(agents, t.meta.ID, row.Partition)
		p.mu.Lock()
		p.mu.owner = row.Owner
		owned, releasing, epoch := p.mu.owned, p.mu.releasing, p.mu.epoch
		p.mu.Unlock()
		switch {
		case row.Owner == a.agentID && row.Epoch == epoch && (owned || releasing):
			if desired != a.agentID && live[desired] {
				a.release(ctx, p, epoch)
			}
		case row.Owner != a.agentID && (owned || releasing):
			a.log.Warn("partition taken over by another agent", "topic", t.meta.Name, "partition", row.Partition, "owner", row.Owner, "epoch", row.Epoch)
			p.mu.Lock()
			p.mu.owned, p.mu.releasing = false, false
			p.mu.Unlock()
			a.notifyHWM()
		case desired == a.agentID && (row.Owner == "" || !live[row.Owner] || row.Owner == a.agentID):
			a.claim(ctx, p, row)
		}
	}
	return nil
}

// claim takes the partition over at row.Epoch+1 and loads its state.
func (a *Agent) claim(ctx context.Context, p *partition, row metastore.Partition) {
	np, err := a.meta.Claim(ctx, a.agentID, p.id, p.index, row.Epoch)
	if err != nil {
		if !errors.Is(err, metastore.ErrFenced) {
			a.log.Warn("claim failed", "topic", p.topicName(), "partition", p.index, "err", err)
		}
		return
	}
	states, err := a.meta.ProducerStates(ctx, p.id, p.index)
	if err != nil {
		// Owned in the metastore but unusable here: the next pass sees
		// row.Owner == us at an epoch we do not hold, and claims again.
		a.log.Warn("load producer state after claim", "topic", p.topicName(), "partition", p.index, "err", err)
		return
	}
	claimed := map[int64]*producerEntry{}
	live := map[int64]*producerEntry{}
	for _, s := range states {
		claimed[s.ProducerID] = entryFromState(s)
		live[s.ProducerID] = entryFromState(s)
	}
	p.segs.set(nil)
	p.tail.drop(&a.tailMem)
	p.mu.Lock()
	p.hwm.Store(np.HighWatermark)
	p.logStart.Store(np.LogStartOffset)
	p.mu.epoch, p.mu.owner = np.Epoch, a.agentID
	p.mu.nextOffset = np.HighWatermark
	p.mu.producers, p.mu.claimProducers = live, claimed
	p.mu.owned, p.mu.releasing = true, false
	p.mu.Unlock()
	a.log.Info("claimed partition", "topic", p.topicName(), "partition", p.index, "epoch", np.Epoch, "high_watermark", np.HighWatermark)
	a.notifyHWM()
}

// release stops appends to the partition and, once everything buffered
// for it is committed, gives up ownership in the metastore. Until then it
// is retried on every pass.
func (a *Agent) release(ctx context.Context, p *partition, epoch int32) {
	p.mu.Lock()
	p.mu.owned, p.mu.releasing = false, true
	p.mu.Unlock()
	a.notifyHWM()
	if p.buffered.Load() > 0 {
		a.kickFlush()
		return
	}
	if err := a.meta.Release(ctx, a.agentID, p.id, p.index, epoch); err != nil && !errors.Is(err, metastore.ErrFenced) {
		a.log.Warn("release failed", "topic", p.topicName(), "partition", p.index, "err", err)
		return
	}
	p.mu.Lock()
	p.mu.releasing, p.mu.owner = false, ""
	p.mu.Unlock()
	a.log.Info("released partition", "topic", p.topicName(), "partition", p.index, "epoch", epoch)
}

// releaseAll gives up every partition this agent owns (graceful shutdown,
// after everything buffered was committed).
func (a *Agent) releaseAll(ctx context.Context) {
	for _, t := range a.allTopics() {
		for _, p := range t.partitions() {
			if epoch, owned := p.ownership(); owned || p.isReleasing() {
				a.release(ctx, p, epoch)
			}
		}
	}
}

func (p *partition) isReleasing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.releasing
}

// extendTopic adds partitions created through another agent.
func (a *Agent) extendTopic(ctx context.Context, t *topic, rows []metastore.Partition) error {
	a.catalogMu.Lock()
	defer a.catalogMu.Unlock()
	old := t.state.Load()
	parts := append([]*partition(nil), old.parts...)
	for _, mp := range rows {
		if int(mp.Partition) < len(parts) {
			continue
		}
		p, err := a.loadPartition(ctx, t, mp)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	t.state.Store(&topicState{configs: old.configs, settings: old.settings, parts: parts})
	return nil
}
