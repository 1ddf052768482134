package ownership

import (
	"context"
	"time"
)

// watchPresence holds this agent's presence and checks the other
// registered agents' every PresenceInterval. An agent seen present once
// and then absent in two checks in a row is dead: Agents leaves it out
// of the live view and a pass runs at once, so its partitions are claimed
// without waiting for its lease. One absent check is not enough: a
// peer's connection to the metastore may be re-established in between
// (the metastore restarted). An agent present again is live again.
// Safety never rests on this: claims bump epochs, which fence the old
// owner's writes whether it is dead or not.
func (m *Manager) watchPresence() {
	defer m.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-m.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	hold, err := m.presence.HoldPresence(ctx, m.cfg.AgentID)
	if err != nil {
		m.log.Warn("presence: cannot hold this agent's presence; peers will wait for its lease", "err", err)
	} else {
		defer hold.Close()
	}
	seen := map[string]bool{}  // present at least once
	absent := map[string]int{} // consecutive absent checks
	t := time.NewTicker(m.cfg.PresenceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, ccancel := context.WithTimeout(ctx, m.cfg.LeaseTTL)
		if hold == nil {
			if hold, err = m.presence.HoldPresence(cctx, m.cfg.AgentID); err == nil {
				defer hold.Close()
			}
		} else if held, err := hold.Renew(cctx); err != nil || !held {
			m.log.Debug("presence not held", "err", err)
		}
		m.checkPeers(cctx, seen, absent)
		ccancel()
	}
}

// checkPeers runs one presence check of the registered agents.
func (m *Manager) checkPeers(ctx context.Context, seen map[string]bool, absent map[string]int) {
	var ids []string
	registered := map[string]bool{}
	for _, ag := range *m.registered.Load() {
		if ag.ID != m.cfg.AgentID {
			ids = append(ids, ag.ID)
			registered[ag.ID] = true
		}
	}
	for id := range seen {
		if !registered[id] { // its lease expired: leases take it from here
			delete(seen, id)
			delete(absent, id)
		}
	}
	if len(ids) == 0 {
		m.setDead(nil)
		return
	}
	present, err := m.presence.PresentAgents(ctx, ids)
	if err != nil {
		return // the metastore is unreachable: nobody is declared dead
	}
	dead := map[string]bool{}
	newly := false
	for _, id := range ids {
		switch {
		case present[id]:
			seen[id] = true
			absent[id] = 0
		case seen[id]:
			absent[id]++
			if absent[id] >= 2 {
				dead[id] = true
				if absent[id] == 2 {
					newly = true
					m.metrics.presenceDeaths.Inc()
					m.log.Info("agent's presence is gone: treating it as dead before its lease expires", "agent", id)
				}
			}
		}
	}
	m.setDead(dead)
	if newly {
		select {
		case m.passNow <- struct{}{}:
		default:
		}
	}
}

func (m *Manager) setDead(dead map[string]bool) {
	if dead == nil {
		dead = map[string]bool{}
	}
	m.dead.Store(&dead)
}
