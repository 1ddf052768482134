package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlstore"
)

// db is the sqlstore.DB of a pgx pool.
type db struct {
	pool       *pgxpool.Pool
	maxRetries int
}

func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.pool.Query(ctx, query, args...)
}

func (d *db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.pool.QueryRow(ctx, query, args...)
}

func (d *db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d *db) Update(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return d.update(ctx, func(t pgx.Tx) error { return fn(tx{t}) })
}

// update runs fn in one read-committed transaction, committing if fn
// returns nil and rolling back otherwise. A transaction that fails with a
// serialization failure or a deadlock is run again, fn included, after a
// backoff: fn must be safe to repeat (assign its results, do not append).
func (d *db) update(ctx context.Context, fn func(pgx.Tx) error) error {
	return retry(ctx, d.maxRetries, func() error {
		return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{}, fn)
	})
}

// View runs fn in one read-only repeatable-read transaction: every query
// in fn sees the same snapshot.
func (d *db) View(ctx context.Context, fn func(sqlstore.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return retry(ctx, d.maxRetries, func() error {
		return pgx.BeginTxFunc(ctx, d.pool, opts, func(t pgx.Tx) error { return fn(tx{t}) })
	})
}

// Close closes the pool, waiting for connections in use to be returned.
func (d *db) Close() error {
	d.pool.Close()
	return nil
}

// tx is a sqlstore.Tx of pgx.
type tx struct{ t pgx.Tx }

func (t tx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return t.t.Query(ctx, query, args...)
}

func (t tx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return t.t.QueryRow(ctx, query, args...)
}

func (t tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.t.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// Batch sends the statements to the server in one round trip: a flush's
// writes cost one, however many partitions and index rows it has.
func (t tx) Batch(ctx context.Context, stmts []sqlstore.Stmt) error {
	var b pgx.Batch
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	return t.t.SendBatch(ctx, &b).Close()
}

// dialect is Postgres' sqlstore.Dialect: topic IDs are UUIDs.
type dialect struct{}

func (dialect) TopicID(id metastore.TopicID) any { return uuid(id) }

func (dialect) ScanTopicID(id *metastore.TopicID) any { return uuidTopicID{id} }

// Limit maps "no limit" (<= 0) to LIMIT NULL.
func (dialect) Limit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}

func (dialect) IsUniqueViolation(err error) bool { return isCode(err, codeUniqueViolation) }

// PartitionSet returns the parallel arrays queries.LockFlushPartitions
// joins the partitions with.
func (dialect) PartitionSet(keys []sqlstore.PartitionKey) []any {
	ids := make([]pgtype.UUID, len(keys))
	parts := make([]int32, len(keys))
	for i, k := range keys {
		ids[i], parts[i] = uuid(k.TopicID), k.Partition
	}
	return []any{ids, parts}
}

// KeySet passes keys as one text[] parameter.
func (dialect) KeySet(keys []string) any { return keys }

// uuid is a topic ID as a query parameter.
func uuid(id metastore.TopicID) pgtype.UUID {
	return pgtype.UUID{Bytes: id, Valid: true}
}

// uuidTopicID scans a topic_id UUID into a TopicID.
type uuidTopicID struct{ id *metastore.TopicID }

func (d uuidTopicID) ScanUUID(v pgtype.UUID) error {
	if !v.Valid {
		return errors.New("topic id is NULL")
	}
	*d.id = v.Bytes
	return nil
}
