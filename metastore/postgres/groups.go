package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	// deadlock if they took row locks in different orders.
	sorted := slices.Clone(offsets)
	slices.SortStableFunc(sorted, func(a, b metastore.GroupOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	err := s.update(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(lockOrCreateGroup, group, now.UnixNano())
		for _, o := range sorted {
			at := o.CommitTime
			if at.IsZero() {
				at = now
			}
			b.Queue(upsertGroupOffset, group, o.Topic, o.Partition, o.Offset, o.LeaderEpoch,
				o.Metadata, timeToNanos(at))
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: commit offsets of group %q: %w", group, err)
	}
	return nil
}

// GroupOffsets returns a group's committed offsets ordered by topic (byte
// order) and partition; an unknown group has none.
func (s *Store) GroupOffsets(ctx context.Context, group string) ([]metastore.GroupOffset, error) {
	rows, err := s.pool.Query(ctx, selectGroupOffsets, group)
	if err != nil {
		return nil, fmt.Errorf("postgres: offsets of group %q: %w", group, err)
	}
	defer rows.Close()
	var offsets []metastore.GroupOffset
	for rows.Next() {
		var (
			o  metastore.GroupOffset
			at int64
		)
		if err := rows.Scan(&o.Topic, &o.Partition, &o.Offset, &o.LeaderEpoch, &o.Metadata, &at); err != nil {
			return nil, fmt.Errorf("postgres: offsets of group %q: %w", group, err)
		}
		o.CommitTime = nanosToTime(at)
		offsets = append(offsets, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: offsets of group %q: %w", group, err)
	}
	return offsets, nil
}

// DeleteGroupOffsets removes a group's offsets for the given partitions of
// a topic in one transaction. Offsets that do not exist are ignored; the
// group row stays.
func (s *Store) DeleteGroupOffsets(ctx context.Context, group, topic string, partitions []int32) error {
	if len(partitions) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(lockGroup, group)
		b.Queue(deleteGroupOffsets, group, topic, partitions)
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: delete offsets of group %q for %q: %w", group, topic, err)
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
	_, err := s.pool.Exec(ctx, upsertGroup, g.Name, g.ProtocolType, g.Protocol, g.State,
		g.Generation, g.Leader, members, timeToNanos(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("postgres: save group %q: %w", g.Name, err)
	}
	return nil
}

// LoadGroup returns a group's state. ErrNotFound if absent.
func (s *Store) LoadGroup(ctx context.Context, name string) (metastore.Group, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, selectGroup, name))
	if errors.Is(err, pgx.ErrNoRows) {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Group{}, fmt.Errorf("postgres: load group %q: %w", name, err)
	}
	return g, nil
}

// Groups lists all groups ordered by name (byte order).
func (s *Store) Groups(ctx context.Context) ([]metastore.Group, error) {
	rows, err := s.pool.Query(ctx, selectGroups)
	if err != nil {
		return nil, fmt.Errorf("postgres: groups: %w", err)
	}
	defer rows.Close()
	var groups []metastore.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: groups: %w", err)
		}
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: groups: %w", err)
	}
	return groups, nil
}

// DeleteGroup removes a group and its offsets in one transaction.
// ErrNotFound if absent.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	err := s.update(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, lockGroup, name).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		var b pgx.Batch
		b.Queue(deleteAllGroupOffsets, name)
		b.Queue(deleteGroup, name)
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: delete group %q: %w", name, err)
	}
	return nil
}

// scanGroup reads a row of groupColumns. Empty members scan as nil.
func scanGroup(row pgx.Row) (metastore.Group, error) {
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
