package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// CommitOffsets upserts a group's committed offsets in one transaction,
// first creating an offset-only group row (ProtocolType "", State "Empty")
// if the group has none. A zero CommitTime is stored as the current time.
// The store does not check that the topics exist: offsets are keyed by
// name, as Kafka keys them. With no offsets nothing is written.
func (s *Store) CommitOffsets(ctx context.Context, group string, offsets []metastore.GroupOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	now := time.Now()
	err := s.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertEmptyGroup, group, now.UnixNano()); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, upsertGroupOffset)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, o := range offsets {
			at := o.CommitTime
			if at.IsZero() {
				at = now
			}
			if _, err := stmt.ExecContext(ctx, group, o.Topic, o.Partition, o.Offset, o.LeaderEpoch,
				nullString(o.Metadata), timeToNanos(at)); err != nil {
				return fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: commit offsets of group %q: %w", group, err)
	}
	return nil
}

// GroupOffsets returns a group's committed offsets ordered by topic and
// partition; an unknown group has none.
func (s *Store) GroupOffsets(ctx context.Context, group string) ([]metastore.GroupOffset, error) {
	rows, err := s.r.QueryContext(ctx, selectGroupOffsets, group)
	if err != nil {
		return nil, fmt.Errorf("sqlite: offsets of group %q: %w", group, err)
	}
	defer rows.Close()
	var offsets []metastore.GroupOffset
	for rows.Next() {
		var (
			o        metastore.GroupOffset
			metadata sql.NullString
			at       int64
		)
		if err := rows.Scan(&o.Topic, &o.Partition, &o.Offset, &o.LeaderEpoch, &metadata, &at); err != nil {
			return nil, fmt.Errorf("sqlite: offsets of group %q: %w", group, err)
		}
		if metadata.Valid {
			o.Metadata = &metadata.String
		}
		o.CommitTime = nanosToTime(at)
		offsets = append(offsets, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: offsets of group %q: %w", group, err)
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
	err := s.update(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, deleteGroupOffset)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, p := range partitions {
			if _, err := stmt.ExecContext(ctx, group, topic, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete offsets of group %q for %q: %w", group, topic, err)
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
	err := s.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, upsertGroup, g.Name, g.ProtocolType, g.Protocol, g.State,
			g.Generation, g.Leader, members, timeToNanos(g.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: save group %q: %w", g.Name, err)
	}
	return nil
}

// LoadGroup returns a group's state. ErrNotFound if absent.
func (s *Store) LoadGroup(ctx context.Context, name string) (metastore.Group, error) {
	g, err := scanGroup(s.r.QueryRowContext(ctx, selectGroup, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Group{}, fmt.Errorf("sqlite: load group %q: %w", name, err)
	}
	return g, nil
}

// Groups lists all groups ordered by name.
func (s *Store) Groups(ctx context.Context) ([]metastore.Group, error) {
	rows, err := s.r.QueryContext(ctx, selectGroups)
	if err != nil {
		return nil, fmt.Errorf("sqlite: groups: %w", err)
	}
	defer rows.Close()
	var groups []metastore.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: groups: %w", err)
		}
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: groups: %w", err)
	}
	return groups, nil
}

// DeleteGroup removes a group and its offsets in one transaction.
// ErrNotFound if absent.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, deleteAllGroupOffsets, name); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, deleteGroup, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return metastore.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete group %q: %w", name, err)
	}
	return nil
}

// scanGroup reads a row of groupColumns. Empty members scan as nil.
func scanGroup(row scanner) (metastore.Group, error) {
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

// nullString maps a nil *string to SQL NULL.
func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}
