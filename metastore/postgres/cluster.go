package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratalog/strata/metastore"
)

// ClusterID returns the cluster's ID, creating it on first call: 16 random
// bytes in unpadded base64url (22 characters), the form Kafka uses.
func (s *Store) ClusterID(ctx context.Context) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, selectClusterID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("postgres: cluster id: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	candidate := base64.RawURLEncoding.EncodeToString(b[:])
	err = s.update(ctx, func(tx pgx.Tx) error {
		// Another caller (or agent) may have won the race; its ID stands.
		// In read committed the SELECT sees the winner's committed row.
		if _, err := tx.Exec(ctx, insertClusterID, candidate); err != nil {
			return err
		}
		return tx.QueryRow(ctx, selectClusterID).Scan(&id)
	})
	if err != nil {
		return "", fmt.Errorf("postgres: cluster id: %w", err)
	}
	return id, nil
}

// RegisterAgent inserts or updates the agent (host, port, rack, lease) and
// returns it with its NodeID. NodeIDs are positive, assigned in order of
// first registration, and never reused; re-registering does not consume
// one. Unlike the SQLite store's they may have gaps (an identity sequence
// does not roll back).
func (s *Store) RegisterAgent(ctx context.Context, a metastore.Agent) (metastore.Agent, error) {
	if a.ID == "" {
		return metastore.Agent{}, errors.New("postgres: register agent: empty agent ID")
	}
	lease := timeToNanos(a.LeaseExpires)
	var nodeID int32
	err := s.update(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateAgent, a.ID, a.Host, a.Port, a.Rack, lease).Scan(&nodeID)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return tx.QueryRow(ctx, upsertAgent, a.ID, a.Host, a.Port, a.Rack, lease).Scan(&nodeID)
	})
	if err != nil {
		return metastore.Agent{}, fmt.Errorf("postgres: register agent %q: %w", a.ID, err)
	}
	a.NodeID = nodeID
	a.LeaseExpires = nanosToTime(lease)
	return a, nil
}

// Agents lists the agents whose lease expires after now, ordered by NodeID.
func (s *Store) Agents(ctx context.Context, now time.Time) ([]metastore.Agent, error) {
	rows, err := s.pool.Query(ctx, selectLiveAgents, timeToNanos(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: agents: %w", err)
	}
	defer rows.Close()
	var agents []metastore.Agent
	for rows.Next() {
		var (
			a     metastore.Agent
			lease int64
		)
		if err := rows.Scan(&a.ID, &a.Host, &a.Port, &a.Rack, &a.NodeID, &lease); err != nil {
			return nil, fmt.Errorf("postgres: agents: %w", err)
		}
		a.LeaseExpires = nanosToTime(lease)
		agents = append(agents, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: agents: %w", err)
	}
	return agents, nil
}

// NextProducerID allocates a new producer ID from a sequence. IDs start at
// 1000 and are never reused; one caller's IDs increase, but IDs handed to
// concurrent callers may commit out of order and leave gaps.
func (s *Store) NextProducerID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, allocateProducerID).Scan(&id); err != nil {
		return 0, fmt.Errorf("postgres: next producer id: %w", err)
	}
	return id, nil
}

// timeToNanos stores t as unix nanoseconds; the zero time is stored as 0
// (its UnixNano is undefined).
func timeToNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// nanosToTime inverts timeToNanos, returning times in UTC.
func nanosToTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
