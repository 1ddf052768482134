package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/stratalog/strata/metastore"
)

// SetAgentListeners replaces the agent's listener rows in one transaction.
func (s *Store) SetAgentListeners(ctx context.Context, agentID string, ls []metastore.Listener) error {
	stmts := []Stmt{{s.q.DeleteAgentListeners, []any{agentID}}}
	for i, l := range ls {
		stmts = append(stmts, Stmt{s.q.InsertAgentListener, []any{agentID, i, l.Name, l.Host, l.Port}})
	}
	if err := s.db.Update(ctx, func(tx Tx) error { return tx.Batch(ctx, stmts) }); err != nil {
		return s.errorf("set listeners of agent %q: %w", agentID, err)
	}
	return nil
}

// AgentListeners returns every agent's listeners, in their order.
func (s *Store) AgentListeners(ctx context.Context) (map[string][]metastore.Listener, error) {
	type row struct {
		id string
		l  metastore.Listener
	}
	rows, err := queryAll(ctx, s.db, func(r Row) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.l.Name, &x.l.Host, &x.l.Port)
		return x, err
	}, s.q.SelectAgentListeners)
	if err != nil {
		return nil, s.errorf("agent listeners: %w", err)
	}
	out := map[string][]metastore.Listener{}
	for _, r := range rows {
		out[r.id] = append(out[r.id], r.l)
	}
	return out, nil
}

// PutScramCredential inserts or replaces a credential.
func (s *Store) PutScramCredential(ctx context.Context, c metastore.ScramCredential) error {
	if c.User == "" || c.Mechanism == "" {
		return s.errorf("put scram credential: empty user or mechanism")
	}
	_, err := s.db.Exec(ctx, s.q.UpsertScramCredential, c.User, c.Mechanism, c.Salt, c.StoredKey, c.ServerKey, c.Iterations)
	if err != nil {
		return s.errorf("put scram credential of %q: %w", c.User, err)
	}
	return nil
}

// DeleteScramCredential removes a credential; ErrNotFound if absent.
func (s *Store) DeleteScramCredential(ctx context.Context, user, mechanism string) error {
	n, err := s.db.Exec(ctx, s.q.DeleteScramCredential, user, mechanism)
	if err != nil {
		return s.errorf("delete scram credential of %q: %w", user, err)
	}
	if n == 0 {
		return s.errorf("scram credential %s of %q: %w", mechanism, user, metastore.ErrNotFound)
	}
	return nil
}

func scanScram(r Row) (metastore.ScramCredential, error) {
	var c metastore.ScramCredential
	err := r.Scan(&c.User, &c.Mechanism, &c.Salt, &c.StoredKey, &c.ServerKey, &c.Iterations)
	return c, err
}

// ScramCredential returns one credential; ErrNotFound if absent.
func (s *Store) ScramCredential(ctx context.Context, user, mechanism string) (metastore.ScramCredential, error) {
	c, err := scanScram(s.db.QueryRow(ctx, s.q.SelectScramCredential, user, mechanism))
	if errors.Is(err, sql.ErrNoRows) {
		return c, s.errorf("scram credential %s of %q: %w", mechanism, user, metastore.ErrNotFound)
	}
	if err != nil {
		return c, s.errorf("scram credential of %q: %w", user, err)
	}
	return c, nil
}

// ScramCredentials lists every credential by user and mechanism.
func (s *Store) ScramCredentials(ctx context.Context) ([]metastore.ScramCredential, error) {
	cs, err := queryAll(ctx, s.db, scanScram, s.q.SelectScramCredentials)
	if err != nil {
		return nil, s.errorf("scram credentials: %w", err)
	}
	return cs, nil
}
