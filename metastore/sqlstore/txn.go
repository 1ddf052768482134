package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Transactional ids' rows, markers, pending offsets and aborted
// transactions (metastore.Transactions).

func (s *Store) scanTxn(row Row) (metastore.Txn, error) {
	var (
		t                  metastore.Txn
		state              string
		start, update      int64
		partitions, groups string
	)
	err := row.Scan(&t.ID, &t.ProducerID, &t.ProducerEpoch, &t.LastProducerID, &t.LastProducerEpoch,
		&state, &t.TimeoutMs, &start, &update, &partitions, &groups, &t.LastCommit, &t.CoordinatorEpoch, &t.Version)
	if err != nil {
		return t, err
	}
	t.State = metastore.TxnState(state)
	if start != 0 {
		t.StartTime = time.UnixMilli(start)
	}
	t.UpdateTime = time.UnixMilli(update)
	if err := json.Unmarshal([]byte(partitions), &t.Partitions); err != nil {
		return t, fmt.Errorf("transaction %q partitions: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(groups), &t.Groups); err != nil {
		return t, fmt.Errorf("transaction %q groups: %w", t.ID, err)
	}
	return t, nil
}

// txnArgs are t's columns in txnColumns order, with version.
func txnArgs(t metastore.Txn, version int64) ([]any, error) {
	parts := t.Partitions
	if parts == nil {
		parts = []metastore.TxnPartition{}
	}
	groups := t.Groups
	if groups == nil {
		groups = []string{}
	}
	p, err := json.Marshal(parts)
	if err != nil {
		return nil, err
	}
	g, err := json.Marshal(groups)
	if err != nil {
		return nil, err
	}
	var start int64
	if !t.StartTime.IsZero() {
		start = t.StartTime.UnixMilli()
	}
	update := t.UpdateTime
	if update.IsZero() {
		update = time.Now()
	}
	return []any{t.ID, t.ProducerID, t.ProducerEpoch, t.LastProducerID, t.LastProducerEpoch,
		string(t.State), t.TimeoutMs, start, update.UnixMilli(), string(p), string(g), t.LastCommit,
		t.CoordinatorEpoch, version}, nil
}

// Txn returns a transactional id's state. ErrNotFound if absent.
func (s *Store) Txn(ctx context.Context, id string) (metastore.Txn, error) {
	t, err := s.scanTxn(s.db.QueryRow(ctx, s.q.SelectTxn, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Txn{}, s.errorf("transaction %q: %w", id, err)
	}
	return t, nil
}

// Txns lists every transactional id, ordered by id.
func (s *Store) Txns(ctx context.Context) ([]metastore.Txn, error) {
	txns, err := queryAll(ctx, s.db, s.scanTxn, s.q.SelectTxns)
	if err != nil {
		return nil, s.errorf("transactions: %w", err)
	}
	return txns, nil
}

// putTxn writes t at version prev+1 inside tx (insert when prev is 0).
func (s *Store) putTxn(ctx context.Context, tx Tx, t *metastore.Txn, prev int64) error {
	args, err := txnArgs(*t, prev+1)
	if err != nil {
		return err
	}
	var n int64
	if prev == 0 {
		n, err = tx.Exec(ctx, s.q.InsertTxn, args...)
	} else {
		n, err = tx.Exec(ctx, s.q.UpdateTxn, append(args, prev)...)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: transaction %q is not at version %d", metastore.ErrConflict, t.ID, prev)
	}
	t.Version = prev + 1
	return nil
}

// PutTxn stores t if the stored version is prev (0: no row may exist).
func (s *Store) PutTxn(ctx context.Context, t metastore.Txn, prev int64) (metastore.Txn, error) {
	err := s.db.Update(ctx, func(tx Tx) error { return s.putTxn(ctx, tx, &t, prev) })
	if err != nil {
		return metastore.Txn{}, s.errorf("put transaction %q: %w", t.ID, err)
	}
	return t, nil
}

// EndTxn stores t (PrepareCommit or PrepareAbort) at prev+1, inserts its
// markers and applies or drops its pending offsets, in one transaction.
func (s *Store) EndTxn(ctx context.Context, t metastore.Txn, prev int64, markers []metastore.TxnMarker) (metastore.Txn, error) {
	if t.State != metastore.TxnPrepareCommit && t.State != metastore.TxnPrepareAbort {
		return metastore.Txn{}, s.errorf("end transaction %q: state %s is not a prepare state", t.ID, t.State)
	}
	commit := t.State == metastore.TxnPrepareCommit
	err := s.db.Update(ctx, func(tx Tx) error {
		if err := s.putTxn(ctx, tx, &t, prev); err != nil {
			return err
		}
		var stmts []Stmt
		for _, m := range markers {
			stmts = append(stmts, Stmt{s.q.InsertTxnMarker, []any{s.d.TopicID(m.TopicID), m.Partition, m.ProducerID,
				m.ProducerEpoch, m.Commit, m.CoordinatorEpoch, t.ID}})
		}
		if commit {
			stmts = append(stmts, Stmt{s.q.ApplyTxnOffsets, []any{t.ID}})
		}
		stmts = append(stmts, Stmt{s.q.DeleteTxnOffsets, []any{t.ID}})
		return tx.Batch(ctx, stmts)
	})
	if err != nil {
		return metastore.Txn{}, s.errorf("end transaction %q: %w", t.ID, err)
	}
	return t, nil
}

// TxnMarkersLeft counts the id's markers not yet committed.
func (s *Store) TxnMarkersLeft(ctx context.Context, id string) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, s.q.CountTxnMarkers, id).Scan(&n); err != nil {
		return 0, s.errorf("markers of transaction %q: %w", id, err)
	}
	return n, nil
}

// OwnedTxnMarkers lists markers of partitions agentID owns.
func (s *Store) OwnedTxnMarkers(ctx context.Context, agentID string) ([]metastore.TxnMarker, error) {
	ms, err := queryAll(ctx, s.db, func(row Row) (metastore.TxnMarker, error) {
		var m metastore.TxnMarker
		err := row.Scan(s.d.ScanTopicID(&m.TopicID), &m.Partition, &m.ProducerID, &m.ProducerEpoch, &m.Commit,
			&m.CoordinatorEpoch, &m.TransactionalID)
		return m, err
	}, s.q.SelectOwnedMarkers, agentID)
	if err != nil {
		return nil, s.errorf("markers of agent %q: %w", agentID, err)
	}
	return ms, nil
}

// AddTxnOffsets stores pending offsets if the id is still at version.
func (s *Store) AddTxnOffsets(ctx context.Context, id string, version int64, group string, offsets []metastore.GroupOffset) error {
	now := time.Now()
	err := s.db.Update(ctx, func(tx Tx) error {
		var v int64
		err := tx.QueryRow(ctx, s.q.SelectTxnVersion, id).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && v != version) {
			return fmt.Errorf("%w: transaction %q changed", metastore.ErrConflict, id)
		}
		if err != nil {
			return err
		}
		stmts := []Stmt{{s.q.LockOrCreateGroup, []any{group, now.UnixNano()}}}
		for _, o := range offsets {
			at := o.CommitTime
			if at.IsZero() {
				at = now
			}
			stmts = append(stmts, Stmt{s.q.UpsertTxnOffset, []any{id, group, o.Topic, o.Partition, o.Offset,
				o.LeaderEpoch, o.Metadata, timeToNanos(at)}})
		}
		return tx.Batch(ctx, stmts)
	})
	if err != nil {
		return s.errorf("transactional offsets of %q for group %q: %w", id, group, err)
	}
	return nil
}

// PendingTxnOffsets lists the partitions of group with pending offsets.
func (s *Store) PendingTxnOffsets(ctx context.Context, group string) ([]metastore.TxnPartition, error) {
	ps, err := queryAll(ctx, s.db, func(row Row) (metastore.TxnPartition, error) {
		var p metastore.TxnPartition
		err := row.Scan(&p.Topic, &p.Partition)
		return p, err
	}, s.q.SelectPendingTxnOffsets, group)
	if err != nil {
		return nil, s.errorf("pending offsets of group %q: %w", group, err)
	}
	return ps, nil
}

// AbortedTxns returns the partition's aborted transactions whose marker
// is at or after fromOffset.
func (s *Store) AbortedTxns(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64) ([]metastore.AbortedTxn, error) {
	as, err := queryAll(ctx, s.db, func(row Row) (metastore.AbortedTxn, error) {
		var a metastore.AbortedTxn
		err := row.Scan(&a.ProducerID, &a.FirstOffset, &a.LastOffset)
		return a, err
	}, s.q.SelectAbortedTxns, s.d.TopicID(id), partition, fromOffset)
	if err != nil {
		return nil, s.errorf("aborted transactions of %s/%d: %w", id.String(), partition, err)
	}
	return as, nil
}
