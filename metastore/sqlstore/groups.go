package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/stratalog/strata/metastore"
)

// CommitOffsets upserts a group's committed offsets in one transaction,
// first creating an offset-only group row (ProtocolType "", State "Empty")
// if the group has none. A zero CommitTime is stored as the current time.
// The store does not check that the topics exist: offsets are keyed by
// name, as Kafka keys them. With no offsets nothing is written.
//
// The group's row is locked first, so commits to one group are applied one
// after another and never race DeleteGroup.
func (s *Store) CommitOffsets(ctx context.Context, group string, offsets []metastore.GroupOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	now := time.Now()
	// Rows in key order: two commits of overlapping offsets could only
	// deadlock if they took row locks in different orders. Stable, so of
	// one partition named twice the last still wins.
	sorted := slices.Clone(offsets)
	slices.SortStableFunc(sorted, func(a, b metastore.GroupOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	stmts := []Stmt{{s.q.LockOrCreateGroup, []any{group, now.UnixNano()}}}
	for _, o := range sorted {
		at := o.CommitTime
		if at.IsZero() {
			at = now
		}
		stmts = append(stmts, Stmt{s.q.UpsertGroupOffset, []any{group, o.Topic, o.Partition, o.Offset,
			o.LeaderEpoch, o.Metadata, timeToNanos(at)}})
	}
	err := s.db.Update(ctx, func(tx Tx) error { return tx.Batch(ctx, stmts) })
	if err != nil {
		return s.errorf("commit offsets of group %q: %w", group, err)
	}
	return nil
}

// GroupOffsets returns a group's committed offsets ordered by topic (byte
// order) and partition; an unknown group has none.
func (s *Store) GroupOffsets(ctx context.Context, group string) ([]metastore.GroupOffset, error) {
	offsets, err := queryAll(ctx, s.db, func(row Row) (metastore.GroupOffset, error) {
		var (
			o  metastore.GroupOffset
			at int64
		)
		err := row.Scan(&o.Topic, &o.Partition, &o.Offset, &o.LeaderEpoch, &o.Metadata, &at)
		o.CommitTime = nanosToTime(at)
		return o, err
	}, s.q.SelectGroupOffsets, group)
	if err != nil {
		return nil, s.errorf("offsets of group %q: %w", group, err)
	}
	return offsets, nil
}

// DeleteGroupOffsets removes a group's offsets for the given partitions of
// a topic in one transaction, under the group's lock. Offsets that do not
// exist are ignored; the group row stays.
func (s *Store) DeleteGroupOffsets(ctx context.Context, group, topic string, partitions []int32) error {
	if len(partitions) == 0 {
		return nil
	}
	stmts := []Stmt{{s.q.LockGroup, []any{group}}}
	for _, p := range partitions {
		stmts = append(stmts, Stmt{s.q.DeleteGroupOffset, []any{group, topic, p}})
	}
	err := s.db.Update(ctx, func(tx Tx) error { return tx.Batch(ctx, stmts) })
	if err != nil {
		return s.errorf("delete offsets of group %q for %q: %w", group, topic, err)
	}
	return nil
}

// SaveGroup inserts or replaces a group's state, leaving its offsets
// alone. A zero UpdatedAt is stored as the current time.
func (s *Store) SaveGroup(ctx context.Context, g metastore.Group) error {
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = time.Now()
	}
	members := g.Members
	if members == nil {
		members = []byte{} // the column is NOT NULL
	}
	_, err := s.db.Exec(ctx, s.q.UpsertGroup, g.Name, g.ProtocolType, g.Protocol, g.State,
		g.Generation, g.Leader, members, timeToNanos(g.UpdatedAt))
	if err != nil {
		return s.errorf("save group %q: %w", g.Name, err)
	}
	return nil
}

// LoadGroup returns a group's state. ErrNotFound if absent.
func (s *Store) LoadGroup(ctx context.Context, name string) (metastore.Group, error) {
	g, err := scanGroup(s.db.QueryRow(ctx, s.q.SelectGroup, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Group{}, s.errorf("load group %q: %w", name, err)
	}
	return g, nil
}

// Groups lists all groups ordered by name (byte order).
func (s *Store) Groups(ctx context.Context) ([]metastore.Group, error) {
	groups, err := queryAll(ctx, s.db, scanGroup, s.q.SelectGroups)
	if err != nil {
		return nil, s.errorf("groups: %w", err)
	}
	return groups, nil
}

// DeleteGroup removes a group and its offsets in one transaction, under
// the group's lock. ErrNotFound if absent.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	err := s.db.Update(ctx, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, s.q.LockGroup, name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		return tx.Batch(ctx, []Stmt{
			{s.q.DeleteAllGroupOffsets, []any{name}},
			{s.q.DeleteGroup, []any{name}},
		})
	})
	if err != nil {
		return s.errorf("delete group %q: %w", name, err)
	}
	return nil
}

// scanGroup reads a row of groupColumns. Empty members scan as nil.
func scanGroup(row Row) (metastore.Group, error) {
	var (
		g  metastore.Group
		at int64
	)
	if err := row.Scan(&g.Name, &g.ProtocolType, &g.Protocol, &g.State, &g.Generation,
		&g.Leader, &g.Members, &at); err != nil {
		return metastore.Group{}, err
	}
	if len(g.Members) == 0 {
		g.Members = nil
	}
	g.UpdatedAt = nanosToTime(at)
	return g, nil
}
