package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// DB is a backend's database as the store uses it.
type DB interface {
	// Query and QueryRow read outside a transaction; each statement sees
	// the data committed when it starts.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	// Exec runs one writing statement as a transaction of its own and
	// returns the number of rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Update runs fn in one write transaction, committing if fn returns
	// nil and rolling back otherwise. It may run fn again after a failure
	// that changed nothing (a serialization failure, a deadlock): fn must
	// be safe to repeat.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in one read-only transaction: every query in fn sees
	// the same snapshot.
	View(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Tx is a transaction, inside DB.Update or DB.View.
type Tx interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	// Exec runs one statement and returns the number of rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Batch runs the statements in order, stopping at the first error. A
	// driver may send them all in one round trip: callers cannot look at
	// one statement's result before the next is sent.
	Batch(ctx context.Context, stmts []Stmt) error
}

// Stmt is one statement of a Batch.
type Stmt struct {
	SQL  string
	Args []any
}

// Row is a single-row result. Scan reports "no row" with an error that
// matches sql.ErrNoRows.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set, read with Next and Scan until Next is false, then
// checked with Err. Close may be called more than once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is how a backend's driver represents the values whose SQL types
// differ between the backends.
type Dialect interface {
	// TopicID returns a topic ID as a query argument.
	TopicID(id metastore.TopicID) any
	// ScanTopicID returns a Scan destination that stores a topic ID column
	// into *id.
	ScanTopicID(id *metastore.TopicID) any
	// Limit returns the argument of a LIMIT clause; limit <= 0 means no
	// limit.
	Limit(limit int) any
	// IsUniqueViolation reports whether err is a violated unique or
	// primary key constraint.
	IsUniqueViolation(err error) bool
	// PartitionSet returns the arguments of Queries.LockFlushPartitions
	// for keys (distinct, in key order). It is only called when that query
	// is set.
	PartitionSet(keys []PartitionKey) []any
	// KeySet returns the $1 argument of the queries that take a set of
	// object keys (the keySet of StandardQueries).
	KeySet(keys []string) any
}

// PartitionKey names one partition; key order is by topic ID bytes, then
// partition, the order in which CommitFlush locks them.
type PartitionKey struct {
	TopicID   metastore.TopicID
	Partition int32
}

// Config is what New needs of a backend.
type Config struct {
	// Name prefixes every error, e.g. "sqlite".
	Name    string
	DB      DB
	Dialect Dialect
	Queries Queries
}

// Store implements metastore.Store on a Config's database. It is safe for
// concurrent use if its DB is.
type Store struct {
	name string
	db   DB
	d    Dialect
	q    Queries
}

// Every role but Presence, which each backend holds its own way (a
// database session, a file lock).
var _ interface {
	metastore.Cluster
	metastore.Catalog
	metastore.Ownership
	metastore.LogIndex
	metastore.Producers
	metastore.Groups
	metastore.Lifecycle
	Close() error
} = (*Store)(nil)

// New returns a Store on c.DB. It panics if c.Queries lacks a statement
// the store needs: that is a bug in the backend, not a runtime condition.
func New(c Config) *Store {
	if err := c.Queries.validate(); err != nil {
		panic(fmt.Sprintf("sqlstore: %s: %v", c.Name, err))
	}
	return &Store{name: c.Name, db: c.DB, d: c.Dialect, q: c.Queries}
}

// Close closes the database. Calls in flight may fail.
func (s *Store) Close() error {
	return s.db.Close()
}

// errorf formats an error prefixed with the backend's name.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf(s.name+": "+format, args...)
}

// timeToNanos stores t as unix nanoseconds; the zero time is stored as 0
// (its UnixNano is undefined). Both backends keep times as integers, not
// timestamp types, so that leases compare exactly.
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
