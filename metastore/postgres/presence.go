package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratalog/strata/metastore"
)

// Presence is a session-level advisory lock, held on a connection of its
// own taken out of the pool; the server releases it the moment that
// connection closes (the process died). Advisory locks belong to the
// database, not the schema, so the key hashes the schema with the agent
// ID: stores on other schemas of one database never collide.
const (
	presenceKey       = `hashtextextended('strata-presence/' || current_schema() || '/' || $1::text, 0)`
	presenceLockSQL   = `SELECT pg_try_advisory_lock(` + presenceKey + `)`
	presenceUnlockSQL = `SELECT pg_advisory_unlock(` + presenceKey + `)`
	presenceCheckSQL  = `SELECT a.id FROM unnest($1::text[]) AS a(id)
CROSS JOIN LATERAL (SELECT hashtextextended('strata-presence/' || current_schema() || '/' || a.id, 0) AS k) h
WHERE EXISTS (SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::int8 = (h.k >> 32) & 4294967295 AND l.objid::int8 = h.k & 4294967295)`
)

type presenceHold struct {
	s       *Store
	agentID string
	mu      sync.Mutex
	conn    *pgx.Conn // nil until held
}

// HoldPresence takes agentID's advisory lock on a dedicated connection.
func (s *Store) HoldPresence(ctx context.Context, agentID string) (metastore.PresenceHold, error) {
	h := &presenceHold{s: s, agentID: agentID}
	if _, err := h.Renew(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// Renew checks the dedicated connection and, if it is gone or the lock
// was not taken yet, takes it on a new one.
func (h *presenceHold) Renew(ctx context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn != nil {
		if _, err := h.conn.Exec(ctx, "SELECT 1"); err == nil {
			return true, nil
		}
		h.conn.Close(context.Background())
		h.conn = nil
	}
	pc, err := h.s.db.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: presence of %q: %w", h.agentID, err)
	}
	conn := pc.Hijack()
	var ok bool
	if err := conn.QueryRow(ctx, presenceLockSQL, h.agentID).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		if err != nil {
			return false, fmt.Errorf("postgres: presence of %q: %w", h.agentID, err)
		}
		return false, nil // another live session holds it
	}
	h.conn = conn
	return true, nil
}

// Close releases the lock and closes the dedicated connection. The
// unlock comes first so that peers see the presence gone when Close
// returns (the server releases a closed session's locks only once its
// backend has noticed the close).
func (h *presenceHold) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, uerr := h.conn.Exec(ctx, presenceUnlockSQL, h.agentID)
	err := h.conn.Close(ctx)
	h.conn = nil
	return errors.Join(uerr, err)
}

// PresentAgents reports which of agentIDs hold their advisory lock now.
func (s *Store) PresentAgents(ctx context.Context, agentIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(agentIDs))
	if len(agentIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.pool.Query(ctx, presenceCheckSQL, agentIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: presence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("postgres: presence: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: presence: %w", err)
	}
	return out, nil
}
