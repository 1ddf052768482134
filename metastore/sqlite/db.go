package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlstore"
)

// db is the sqlstore.DB of a database file: writes go to w, one
// connection, reads to r, a pool of query_only connections. Either may be
// nil where it is not used (migrating needs only w, reading the migration
// status only r).
type db struct {
	w *sql.DB
	r *sql.DB
}

func (d db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return wrapRows(d.r.QueryContext(ctx, query, args...))
}

func (d db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.r.QueryRowContext(ctx, query, args...)
}

// Exec runs the statement in a write transaction of its own, like every
// other write: the IMMEDIATE lock is taken before it starts.
func (d db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := d.Update(ctx, func(t sqlstore.Tx) error {
		var err error
		n, err = t.Exec(ctx, query, args...)
		return err
	})
	return n, err
}

// Update runs fn in one write transaction (BEGIN IMMEDIATE, see dsn), so
// a transaction that reads then writes never fails on a lock upgrade.
// Nothing is retried: busy_timeout already waits for other processes.
func (d db) Update(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return inTx(ctx, d.w, nil, fn)
}

// View runs fn in one read transaction: every query in fn sees the same
// snapshot.
func (d db) View(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return inTx(ctx, d.r, &sql.TxOptions{ReadOnly: true}, fn)
}

func (d db) Close() error {
	var errs []error
	for _, p := range []*sql.DB{d.r, d.w} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

func inTx(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(sqlstore.Tx) error) error {
	t, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx{t}); err != nil {
		// The rollback error is uninteresting next to fn's: the
		// transaction is abandoned either way.
		_ = t.Rollback()
		return err
	}
	return t.Commit()
}

// tx is a sqlstore.Tx of database/sql.
type tx struct{ t *sql.Tx }

func (t tx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return wrapRows(t.t.QueryContext(ctx, query, args...))
}

func (t tx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return t.t.QueryRowContext(ctx, query, args...)
}

func (t tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.t.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Batch runs the statements one by one (the database is in-process: there
// are no round trips to save), preparing each distinct statement once.
func (t tx) Batch(ctx context.Context, stmts []sqlstore.Stmt) error {
	prepared := map[string]*sql.Stmt{}
	defer func() {
		for _, p := range prepared {
			p.Close()
		}
	}()
	for i, st := range stmts {
		p, ok := prepared[st.SQL]
		if !ok {
			var err error
			if p, err = t.t.PrepareContext(ctx, st.SQL); err != nil {
				return fmt.Errorf("statement %d: %w", i, err)
			}
			prepared[st.SQL] = p
		}
		if _, err := p.ExecContext(ctx, st.Args...); err != nil {
			return fmt.Errorf("statement %d: %w", i, err)
		}
	}
	return nil
}

// sqlRows adapts *sql.Rows, whose Close returns an error that is also
// reported by Err, to sqlstore.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// wrapRows adapts a database/sql query's result; on error there are no
// rows to wrap (a nil *sql.Rows in sqlRows would not be a nil Rows).
func wrapRows(rows *sql.Rows, err error) (sqlstore.Rows, error) {
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// dialect is SQLite's sqlstore.Dialect: topic IDs are 16-byte BLOBs.
type dialect struct{}

func (dialect) TopicID(id metastore.TopicID) any { return id[:] }

func (dialect) ScanTopicID(id *metastore.TopicID) any { return blobTopicID{id} }

// Limit maps "no limit" (<= 0) to SQLite's LIMIT -1.
func (dialect) Limit(limit int) any {
	if limit <= 0 {
		return int64(-1)
	}
	return int64(limit)
}

func (dialect) IsUniqueViolation(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// PartitionSet is never called: SQLite takes no array parameters, so
// queries.LockFlushPartitions is empty and CommitFlush reads one partition
// at a time (under the IMMEDIATE lock, which already excludes every other
// writer).
func (dialect) PartitionSet([]sqlstore.PartitionKey) []any { return nil }

// KeySet encodes keys as a JSON array of strings: SQLite takes no array
// parameters, and json_each reads it back. Object keys are UTF-8 (object
// stores require it), which JSON carries unchanged.
func (dialect) KeySet(keys []string) any {
	b, err := json.Marshal(keys)
	if err != nil {
		// Marshalling a []string cannot fail.
		panic(fmt.Sprintf("sqlite: encode key set: %v", err))
	}
	return string(b)
}

// blobTopicID scans a topic_id BLOB into a TopicID.
type blobTopicID struct{ id *metastore.TopicID }

func (d blobTopicID) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("topic id is a %T, want %d bytes", src, len(d.id))
	}
	if len(b) != len(d.id) {
		return fmt.Errorf("topic id has %d bytes, want %d", len(b), len(d.id))
	}
	copy(d.id[:], b)
	return nil
}
