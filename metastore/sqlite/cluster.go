package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// ClusterID returns the cluster's ID, creating it on first call: 16 random
// bytes in unpadded base64url (22 characters), the form Kafka uses.
func (s *Store) ClusterID(ctx context.Context) (string, error) {
	var id string
	err := s.r.QueryRowContext(ctx, selectClusterID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: cluster id: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	candidate := base64.RawURLEncoding.EncodeToString(b[:])
	err = s.update(ctx, func(tx *sql.Tx) error {
		// Another caller (or process) may have won the race; its ID stands.
		if _, err := tx.ExecContext(ctx, insertClusterID, candidate); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, selectClusterID).Scan(&id)
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: cluster id: %w", err)
	}
	return id, nil
}

// RegisterAgent inserts or updates the agent (host, port, rack, lease) and
// returns it with its NodeID. NodeIDs count up from 1 in order of first
// registration; re-registering does not consume one.
func (s *Store) RegisterAgent(ctx context.Context, a metastore.Agent) (metastore.Agent, error) {
	if a.ID == "" {
		return metastore.Agent{}, errors.New("sqlite: register agent: empty agent ID")
	}
	lease := timeToNanos(a.LeaseExpires)
	var nodeID int64
	err := s.update(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, updateAgent, a.Host, a.Port, a.Rack, lease, a.ID).Scan(&nodeID)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRowContext(ctx, insertAgent, a.ID, a.Host, a.Port, a.Rack, lease).Scan(&nodeID)
	})
	if err != nil {
		return metastore.Agent{}, fmt.Errorf("sqlite: register agent %q: %w", a.ID, err)
	}
	if nodeID > 1<<31-1 {
		// AUTOINCREMENT cannot wrap; running out is a broken invariant
		// only reachable by registering two billion distinct agents.
		panic(fmt.Sprintf("sqlite: agent node id %d overflows int32", nodeID))
	}
	a.NodeID = int32(nodeID)
	a.LeaseExpires = nanosToTime(lease)
	return a, nil
}

// Agents lists the agents whose lease expires after now, ordered by NodeID.
func (s *Store) Agents(ctx context.Context, now time.Time) ([]metastore.Agent, error) {
	rows, err := s.r.QueryContext(ctx, selectLiveAgents, timeToNanos(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: agents: %w", err)
	}
	defer rows.Close()
	var agents []metastore.Agent
	for rows.Next() {
		var a metastore.Agent
		var lease int64
		if err := rows.Scan(&a.ID, &a.Host, &a.Port, &a.Rack, &a.NodeID, &lease); err != nil {
			return nil, fmt.Errorf("sqlite: agents: %w", err)
		}
		a.LeaseExpires = nanosToTime(lease)
		agents = append(agents, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: agents: %w", err)
	}
	return agents, nil
}

// NextProducerID allocates a new producer ID. IDs start at 1000, increase
// by one per call and are never reused, across restarts too.
func (s *Store) NextProducerID(ctx context.Context) (int64, error) {
	var id int64
	err := s.update(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, allocateProducerID).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: next producer id: %w", err)
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
