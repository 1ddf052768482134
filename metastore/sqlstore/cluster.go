package sqlstore

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
	err := s.db.QueryRow(ctx, s.q.SelectClusterID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", s.errorf("cluster id: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	candidate := base64.RawURLEncoding.EncodeToString(b[:])
	err = s.db.Update(ctx, func(tx Tx) error {
		// Another caller (or agent) may have won the race; its ID stands.
		// The SELECT sees the winner's committed row: in read committed
		// because the INSERT waited for it, in SQLite because the write
		// transaction started after it.
		if _, err := tx.Exec(ctx, s.q.InsertClusterID, candidate); err != nil {
			return err
		}
		return tx.QueryRow(ctx, s.q.SelectClusterID).Scan(&id)
	})
	if err != nil {
		return "", s.errorf("cluster id: %w", err)
	}
	return id, nil
}

// RegisterAgent inserts or updates the agent (host, port, rack, lease) and
// returns it with its NodeID. NodeIDs are positive, assigned in order of
// first registration and never reused; re-registering does not consume
// one. SQLite's count up from 1 without gaps; Postgres' come from an
// identity sequence, which does not roll back, so they may have gaps.
func (s *Store) RegisterAgent(ctx context.Context, a metastore.Agent) (metastore.Agent, error) {
	if a.ID == "" {
		return metastore.Agent{}, s.errorf("register agent: empty agent ID")
	}
	lease := timeToNanos(a.LeaseExpires)
	var nodeID int64
	err := s.db.Update(ctx, func(tx Tx) error {
		err := tx.QueryRow(ctx, s.q.UpdateAgent, a.ID, a.Host, a.Port, a.Rack, lease).Scan(&nodeID)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRow(ctx, s.q.InsertAgent, a.ID, a.Host, a.Port, a.Rack, lease).Scan(&nodeID)
	})
	if err != nil {
		return metastore.Agent{}, s.errorf("register agent %q: %w", a.ID, err)
	}
	if nodeID > 1<<31-1 {
		// Neither an AUTOINCREMENT nor an INTEGER identity wraps; running
		// out is a broken invariant only reachable by registering two
		// billion distinct agents.
		panic(fmt.Sprintf("%s: agent node id %d overflows int32", s.name, nodeID))
	}
	a.NodeID = int32(nodeID)
	a.LeaseExpires = nanosToTime(lease)
	return a, nil
}

// Agents lists the agents whose lease expires after now, ordered by NodeID.
func (s *Store) Agents(ctx context.Context, now time.Time) ([]metastore.Agent, error) {
	agents, err := queryAll(ctx, s.db, func(row Row) (metastore.Agent, error) {
		var (
			a     metastore.Agent
			lease int64
		)
		err := row.Scan(&a.ID, &a.Host, &a.Port, &a.Rack, &a.NodeID, &lease)
		a.LeaseExpires = nanosToTime(lease)
		return a, err
	}, s.q.SelectLiveAgents, timeToNanos(now))
	if err != nil {
		return nil, s.errorf("agents: %w", err)
	}
	return agents, nil
}

// NextProducerID allocates a new producer ID. IDs start at 1000 and are
// never reused, across restarts too. SQLite's increase by one per call;
// Postgres' come from a sequence, so IDs handed to concurrent callers may
// commit out of order and leave gaps.
func (s *Store) NextProducerID(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.Update(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, s.q.AllocateProducerID).Scan(&id)
	})
	if err != nil {
		return 0, s.errorf("next producer id: %w", err)
	}
	return id, nil
}

// querier is what DB and Tx share for reading.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// queryAll runs a query and scans every row with scan; no rows is a nil
// slice.
func queryAll[T any](ctx context.Context, q querier, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
