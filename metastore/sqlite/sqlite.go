package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stratalog/strata/metastore"

	// Registers the "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// busyTimeout is how long a statement waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a metastore.Store backed by one SQLite database file. It is safe
// for concurrent use.
type Store struct {
	// w is the only connection that writes (MaxOpenConns 1): SQLite allows
	// one writer at a time anyway, and queueing in database/sql is cheaper
	// and fairer than spinning on SQLITE_BUSY.
	w *sql.DB
	// r is a pool of query_only connections; in WAL mode they read while
	// w writes.
	r *sql.DB
}

var _ metastore.Store = (*Store)(nil)

// Open opens the SQLite metastore at path, creating the file and its parent
// directories if they do not exist, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	// The first connection switches the file to WAL mode; the read pool
	// must not open before that, or it would race the switch. Switching
	// the journal mode does not wait on busy_timeout, so two processes
	// opening a new file at once can see SQLITE_BUSY: retry, bounded.
	var w *sql.DB
	var abs string
	deadline := time.Now().Add(busyTimeout)
	for backoff := 10 * time.Millisecond; ; backoff = min(backoff*2, 500*time.Millisecond) {
		var err error
		w, abs, err = openWriter(path)
		if err == nil {
			_, err = migrate(ctx, w)
			if err != nil {
				w.Close()
			}
		}
		if err == nil {
			break
		}
		if !isBusy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		time.Sleep(backoff)
	}

	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &Store{w: w, r: r}, nil
}

// openWriter opens the single-connection write pool of the database at
// path, creating its parent directories, and returns it with the absolute
// path.
func openWriter(path string) (*sql.DB, string, error) {
	if path == "" {
		return nil, "", errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, "", err
	}
	w, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, "", err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	return w, abs, nil
}

// dsn returns the driver's data source name for the database file at the
// absolute path abs. It is a file: URI so that any byte of the path
// (including '?' and '#') survives.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// BEGIN IMMEDIATE takes the write lock up front, so a
		// transaction that reads then writes never fails on upgrade.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Close closes the database. Calls in flight may fail.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// update runs fn in one write transaction, committing if fn returns nil
// and rolling back otherwise.
func (s *Store) update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.w, nil, fn)
}

// view runs fn in one read transaction: every query in fn sees the same
// snapshot.
func (s *Store) view(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.r, &sql.TxOptions{ReadOnly: true}, fn)
}

func inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// The rollback error is uninteresting next to fn's: the
		// transaction is abandoned either way.
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// migration is one embedded schema migration, migrations/NNNN_name.SQL.
// migrations returns the embedded migrations ordered by version.
func migrations() ([]metastore.MigrationFile, error) {
	return metastore.ReadMigrations(migrationFiles, "migrations")
}

// migrate applies the migrations the database has not seen, each in its
// own transaction together with its schema_migrations row, so a crash
// leaves the schema at a recorded version, and returns those it applied.
func migrate(ctx context.Context, db *sql.DB) ([]metastore.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, createSchemaMigrations); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	latest := ms[len(ms)-1].Version
	var applied []metastore.Migration
	for _, m := range ms {
		var done *metastore.Migration
		err := inTx(ctx, db, nil, func(tx *sql.Tx) error {
			done = nil
			// Re-read inside the write transaction: another process may
			// have migrated since.
			var current int
			if err := tx.QueryRowContext(ctx, selectSchemaVersion).Scan(&current); err != nil {
				return err
			}
			if current > latest {
				return fmt.Errorf("database schema version %d is newer than this binary's %d", current, latest)
			}
			var applied bool
			if err := tx.QueryRowContext(ctx, selectMigrationApplied, m.Version).Scan(&applied); err != nil {
				return err
			}
			if applied {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			now := time.Now()
			if _, err := tx.ExecContext(ctx, insertMigration, m.Version, m.Name, now.UnixNano()); err != nil {
				return err
			}
			done = &metastore.Migration{Version: m.Version, Name: m.Name, Applied: true, AppliedAt: now.UTC()}
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if done != nil {
			applied = append(applied, *done)
		}
	}
	return applied, nil
}

// Migrate brings the database at path up to date, creating the file if
// needed, and returns the migrations it applied (none when it was up to
// date). Open does the same; `strata migrate up` runs this.
func Migrate(ctx context.Context, path string) ([]metastore.Migration, error) {
	w, _, err := openWriter(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	defer w.Close()
	applied, err := migrate(ctx, w)
	if err != nil {
		return applied, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return applied, nil
}

// MigrationStatus returns every migration this binary knows, in version
// order, each marked applied or not, followed by any the database has that
// this binary does not know (a newer binary migrated it). It changes
// nothing: a missing file has every migration pending and is not created.
func MigrationStatus(ctx context.Context, path string) ([]metastore.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration status %s: %w", path, err)
	}
	recorded := map[int]metastore.Migration{}
	if _, err := os.Stat(path); err == nil {
		recorded, err = recordedMigrations(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("sqlite: migration status %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: migration status %s: %w", path, err)
	}
	var out []metastore.Migration
	for _, m := range ms {
		if r, ok := recorded[m.Version]; ok {
			out = append(out, r)
			delete(recorded, m.Version)
		} else {
			out = append(out, metastore.Migration{Version: m.Version, Name: m.Name})
		}
	}
	var unknown []metastore.Migration
	for _, r := range recorded {
		unknown = append(unknown, r)
	}
	sort.Slice(unknown, func(i, j int) bool { return unknown[i].Version < unknown[j].Version })
	return append(out, unknown...), nil
}

// recordedMigrations reads schema_migrations of the existing database at
// path through a read-only connection; no table means none.
func recordedMigrations(ctx context.Context, path string) (map[int]metastore.Migration, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := map[int]metastore.Migration{}
	var exists bool
	if err := r.QueryRowContext(ctx, selectSchemaMigrationsExists).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return out, nil
	}
	rows, err := r.QueryContext(ctx, selectMigrations)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			m  metastore.Migration
			at int64
		)
		if err := rows.Scan(&m.Version, &m.Name, &at); err != nil {
			return nil, err
		}
		m.Applied, m.AppliedAt = true, nanosToTime(at)
		out[m.Version] = m
	}
	return out, rows.Err()
}

// isBusy reports SQLite's "database is locked" (SQLITE_BUSY).
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
