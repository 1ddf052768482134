package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratalog/strata/internal/redact"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlstore"
)

// Options tunes Open. The zero value is the default.
type Options struct {
	// NoMigrate makes Open leave the schema alone: it fails unless the
	// database already has every migration this binary knows (apply them
	// with Migrate, i.e. `strata migrate up`). Default false: Open
	// migrates.
	NoMigrate bool
	// MaxConns caps the connection pool. Default (0): pgxpool's default,
	// the larger of 4 and the number of CPUs; a pool_max_conns parameter
	// in the URL is used when MaxConns is 0.
	MaxConns int32
	// MaxRetries is how many times a transaction that failed with a
	// serialization failure (SQLSTATE 40001) or a deadlock (40P01) is run
	// again before the error is returned. Default (0): 8. Negative: never.
	MaxRetries int
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	if o.MaxConns < 0 {
		return fmt.Errorf("postgres: options: MaxConns %d is negative", o.MaxConns)
	}
	return nil
}

func (o *Options) ensureDefaults() {
	if o.MaxRetries == 0 {
		o.MaxRetries = defaultMaxRetries
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
}

// defaultMaxRetries is Options.MaxRetries' default.
const defaultMaxRetries = 8

// Retry backoff: the first retry waits about retryBaseDelay, doubling up
// to retryMaxDelay, each with up to 50% random jitter so that the
// transactions that collided do not collide again.
const (
	retryBaseDelay = 5 * time.Millisecond
	retryMaxDelay  = 500 * time.Millisecond
)

// sharedStore is embedded in Store under an unexported name, so that its
// methods are Store's without the field being part of the API.
type sharedStore = sqlstore.Store

// Store is a metastore.Store backed by a PostgreSQL database. It is safe
// for concurrent use.
type Store struct {
	*sharedStore
	db *db
}

var _ metastore.Store = (*Store)(nil)

// Open connects to the database at url (postgres:// or postgresql://, any
// parameter libpq accepts, e.g. sslmode or search_path) with a connection
// pool and, unless opts.NoMigrate, brings its schema up to date.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.ensureDefaults()
	pool, err := newPool(ctx, url, opts.MaxConns)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", redact.URL(url), err)
	}
	d := &db{pool: pool, maxRetries: opts.MaxRetries}
	if opts.NoMigrate {
		err = schema(d).Check(ctx)
	} else {
		_, err = schema(d).Migrate(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", redact.URL(url), err)
	}
	shared := sqlstore.New(sqlstore.Config{Name: "postgres", DB: d, Dialect: dialect{}, Queries: queries})
	return &Store{sharedStore: shared, db: d}, nil
}

// newPool parses url and opens a pool, checking that the server answers.
func newPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the whole URL, password included.
		return nil, errors.New("cannot parse the URL")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// An agent frozen mid-transaction (SIGSTOP, a long GC or VM pause)
	// must not keep its partition row locks: they would block every other
	// agent's claim of those partitions, and so failover. The server ends
	// such a session after this long; the frozen agent's commit then
	// fails, and its epoch is stale by the time it could retry.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "5000"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// retry calls fn until it succeeds, fails with an error other than a
// serialization failure or deadlock, has been retried maxRetries times, or
// ctx ends while it waits between attempts.
func retry(ctx context.Context, maxRetries int, fn func() error) error {
	delay := retryBaseDelay
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt >= maxRetries || !retryable(err) {
			return err
		}
		wait := delay + rand.N(delay/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempts, last: %w)", context.Cause(ctx), attempt+1, err)
		case <-t.C:
		}
		delay = min(2*delay, retryMaxDelay)
	}
}

// SQLSTATE codes the store acts on.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
)

// retryable reports whether err means "the transaction lost a race and
// changed nothing": running it again may succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
}

// isCode reports whether err is a Postgres error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
