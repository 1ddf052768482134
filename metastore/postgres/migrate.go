package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratalog/strata/metastore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema migration, migrations/NNNN_name.SQL.
// migrations returns the embedded migrations ordered by version.
func migrations() ([]metastore.MigrationFile, error) {
	return metastore.ReadMigrations(migrationFiles, "migrations")
}

// Migrate connects to the database at url, applies the migrations it has
// not seen, and returns those it applied (none when it was up to date).
// It is what Open does unless Options.NoMigrate; `strata migrate up` runs
// it before agents that open with NoMigrate.
func Migrate(ctx context.Context, url string) ([]metastore.Migration, error) {
	pool, err := newPool(ctx, url, 1)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate %s: %w", redact(url), err)
	}
	defer pool.Close()
	s := &Store{pool: pool, maxRetries: defaultMaxRetries}
	applied, err := s.migrate(ctx)
	if err != nil {
		return applied, fmt.Errorf("postgres: migrate %s: %w", redact(url), err)
	}
	return applied, nil
}

// MigrationStatus connects to the database at url and returns every
// migration this binary knows, in version order, each marked applied or
// not, followed by any the database has that this binary does not know (a
// newer binary migrated it). It changes nothing.
func MigrationStatus(ctx context.Context, url string) ([]metastore.Migration, error) {
	pool, err := newPool(ctx, url, 1)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status %s: %w", redact(url), err)
	}
	defer pool.Close()
	s := &Store{pool: pool, maxRetries: defaultMaxRetries}
	status, err := s.migrationStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status %s: %w", redact(url), err)
	}
	return status, nil
}

// migrationStatus merges the embedded migrations with the recorded ones.
func (s *Store) migrationStatus(ctx context.Context) ([]metastore.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var recorded map[int]metastore.Migration
	err = s.view(ctx, func(tx pgx.Tx) error {
		var err error
		recorded, err = recordedMigrations(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
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

// recordedMigrations reads schema_migrations; a database without the table
// has none.
func recordedMigrations(ctx context.Context, tx pgx.Tx) (map[int]metastore.Migration, error) {
	var schema *string
	if err := tx.QueryRow(ctx, selectCurrentSchema).Scan(&schema); err != nil {
		return nil, err
	}
	if schema == nil {
		return nil, errors.New("search_path names no existing schema")
	}
	var exists bool
	if err := tx.QueryRow(ctx, selectSchemaMigrationsExists).Scan(&exists); err != nil {
		return nil, err
	}
	out := map[int]metastore.Migration{}
	if !exists {
		return out, nil
	}
	rows, err := tx.Query(ctx, selectMigrations)
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

// migrate applies the migrations the database has not seen, each in its
// own transaction together with its schema_migrations row (Postgres DDL is
// transactional), so a crash leaves the schema at a recorded version. An
// advisory lock makes concurrent migrators of one schema take turns.
func (s *Store) migrate(ctx context.Context) ([]metastore.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	latest := ms[len(ms)-1].Version
	var applied []metastore.Migration
	for _, m := range ms {
		var done *metastore.Migration
		err := s.update(ctx, func(tx pgx.Tx) error {
			done = nil
			var schema *string
			if err := tx.QueryRow(ctx, selectCurrentSchema).Scan(&schema); err != nil {
				return err
			}
			if schema == nil {
				return errors.New("search_path names no existing schema")
			}
			if _, err := tx.Exec(ctx, lockMigrations); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, createSchemaMigrations); err != nil {
				return err
			}
			// Read under the lock: another process may have migrated.
			recorded, err := recordedMigrations(ctx, tx)
			if err != nil {
				return err
			}
			for v := range recorded {
				if v > latest {
					return fmt.Errorf("database schema version %d is newer than this binary's %d", v, latest)
				}
			}
			if _, ok := recorded[m.Version]; ok {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			now := time.Now()
			if _, err := tx.Exec(ctx, insertMigration, m.Version, m.Name, now.UnixNano()); err != nil {
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

// checkSchema fails unless the database has exactly the migrations this
// binary knows (Open with NoMigrate).
func (s *Store) checkSchema(ctx context.Context) error {
	status, err := s.migrationStatus(ctx)
	if err != nil {
		return err
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	var pending []string
	for _, m := range status {
		if m.Version > latest {
			return fmt.Errorf("database schema version %d is newer than this binary's %d", m.Version, latest)
		}
		if !m.Applied {
			pending = append(pending, m.Name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("schema is not up to date, pending migrations %s (run `strata migrate up`)", strings.Join(pending, ", "))
	}
	return nil
}

// redact returns url without its password, for error messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparseable URL>"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
