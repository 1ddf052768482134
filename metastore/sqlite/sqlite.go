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
	"strconv"
	"strings"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlstore"

	// Registers the "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// busyTimeout is how long a statement waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// sharedStore is embedded in Store under an unexported name, so that its
// methods are Store's without the field being part of the API.
type sharedStore = sqlstore.Store

// Store is a metastore.Store backed by one SQLite database file. It is safe
// for concurrent use.
type Store struct {
	*sharedStore
	// w is the only connection that writes (MaxOpenConns 1): SQLite allows
	// one writer at a time anyway, and queueing in database/sql is cheaper
	// and fairer than spinning on SQLITE_BUSY.
	w *sql.DB
	// r is a pool of query_only connections; in WAL mode they read while
	// w writes.
	r *sql.DB
	// path is the database file's absolute path (presence locks live
	// beside it).
	path string
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
			_, err = schema(db{w: w}).Migrate(ctx)
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
	shared := sqlstore.New(sqlstore.Config{Name: "sqlite", DB: db{w: w, r: r}, Dialect: dialect{}, Queries: queries})
	return &Store{sharedStore: shared, w: w, r: r, path: abs}, nil
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

// schema is the migrations of the database behind d.
func schema(d db) sqlstore.Schema {
	ms, err := metastore.ReadMigrations(migrationFiles, "migrations")
	if err != nil {
		// The files are embedded: a bad one fails every test.
		panic(fmt.Sprintf("sqlite: embedded migrations: %v", err))
	}
	return sqlstore.Schema{DB: d, Queries: queries, Migrations: ms}
}

// migrations returns the embedded migrations ordered by version.
func migrations() ([]metastore.MigrationFile, error) {
	return metastore.ReadMigrations(migrationFiles, "migrations")
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
	applied, err := schema(db{w: w}).Migrate(ctx)
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
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return sqlstore.MergeStatus(ms, nil), nil
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: migration status %s: %w", path, err)
	}
	status, err := readStatus(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration status %s: %w", path, err)
	}
	return status, nil
}

// readStatus reads the migration status of the existing database at path
// through a read-only connection.
func readStatus(ctx context.Context, path string) ([]metastore.Migration, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return schema(db{r: r}).Status(ctx)
}

// isBusy reports SQLite's "database is locked" (SQLITE_BUSY).
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
