package group

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/stratalog/strata/metastore"
)

// Description is a group as Describe reports it.
type Description struct {
	Err          error
	State        State // StateDead for an unknown group
	ProtocolType string
	Protocol     string   // Stable groups only, as in Kafka
	Members      []Member // in join order; Metadata and Assignment for Stable groups only (empty otherwise)
}

// Describe reports a group's state and members (loading it if needed).
func (gc *Coordinator) Describe(ctx context.Context, name string) Description {
	if name == "" {
		return Description{Err: ErrInvalidGroupID}
	}
	g, err := gc.lock(ctx, name)
	if err != nil {
		return Description{Err: err}
	}
	defer g.unlock()
	if !g.exists() {
		return Description{State: StateDead}
	}
	out := Description{State: g.mu.state, ProtocolType: g.mu.protocolType}
	stable := g.mu.state == StateStable
	if stable {
		out.Protocol = g.mu.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := Member{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			Metadata: []byte{}, Assignment: []byte{},
		}
		if stable {
			for _, p := range m.protocols {
				if p.Name == g.mu.protocol {
					dm.Metadata = p.Metadata
				}
			}
			if m.assignment != nil {
				dm.Assignment = m.assignment
			}
		}
		out.Members = append(out.Members, dm)
	}
	return out
}

// ListRequest filters List.
type ListRequest struct {
	// States keeps groups in these states (compared case-insensitively);
	// empty keeps all.
	States []string
}

// Listing is one group as List reports it.
type Listing struct {
	Name         string
	ProtocolType string
	State        State
}

// List reports the groups in the Store and those with members in memory,
// ordered by name. A group stored with members but not loaded (after a
// restart) is listed as PreparingRebalance, which it is once loaded.
func (gc *Coordinator) List(ctx context.Context, req ListRequest) ([]Listing, error) {
	type entry struct {
		protocolType string
		state        State
	}
	seen := map[string]entry{}
	stored, err := gc.cfg.Store.Groups(ctx)
	if err != nil {
		gc.log.Warn("list groups", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	for _, sg := range stored {
		state := StateEmpty
		if len(sg.Members) > 0 {
			state = StatePreparingRebalance
		}
		seen[sg.Name] = entry{sg.ProtocolType, state}
	}
	for _, name := range gc.names() {
		g := gc.peek(name)
		if g == nil {
			continue
		}
		g.mu.Lock()
		if g.mu.loaded && !g.mu.removed && g.exists() {
			seen[name] = entry{g.mu.protocolType, g.mu.state}
		}
		g.mu.Unlock()
	}
	states := map[string]bool{}
	for _, s := range req.States {
		states[strings.ToLower(s)] = true
	}
	out := make([]Listing, 0, len(seen))
	for n, e := range seen {
		if len(states) > 0 && !states[strings.ToLower(string(e.state))] {
			continue
		}
		out = append(out, Listing{Name: n, ProtocolType: e.protocolType, State: e.state})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete deletes a group's state and committed offsets. A group with
// members (or members still joining) fails with ErrNonEmptyGroup, an
// unknown group with ErrGroupNotFound.
func (gc *Coordinator) Delete(ctx context.Context, name string) error {
	if name == "" {
		return ErrInvalidGroupID
	}
	g, err := gc.lock(ctx, name)
	if err != nil {
		return err
	}
	defer g.unlock()
	switch {
	case len(g.mu.members) > 0 || len(g.mu.pending) > 0:
		return ErrNonEmptyGroup
	case !g.mu.persisted:
		return ErrGroupNotFound
	}
	if err := gc.cfg.Store.DeleteGroup(ctx, name); err != nil && !errors.Is(err, metastore.ErrNotFound) {
		gc.log.Warn("delete group", "group", name, "err", err)
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	g.stopTimers()
	g.setState(StateDead)
	g.mu.persisted = false
	g.mu.removed = true
	gc.forget(g)
	return nil
}
