package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Schema applies and lists a backend's migrations on its database.
type Schema struct {
	DB         DB
	Queries    Queries
	Migrations []metastore.MigrationFile // in version order, from metastore.ReadMigrations
}

// errNoSchema is a search_path that names no existing schema.
var errNoSchema = errors.New("search_path names no existing schema")

// Migrate applies the migrations the database has not seen, each in its
// own transaction together with its schema_migrations row (SQLite and
// Postgres DDL are transactional), so a crash leaves the schema at a
// recorded version, and returns those it applied. Concurrent migrators
// take turns: Queries.LockMigrations or the write transaction's own lock
// serialises them, and each reads what is recorded under that lock.
func (sc Schema) Migrate(ctx context.Context) ([]metastore.Migration, error) {
	latest, err := sc.latest()
	if err != nil {
		return nil, err
	}
	q := sc.Queries
	var applied []metastore.Migration
	for _, m := range sc.Migrations {
		var done *metastore.Migration
		err := sc.DB.Update(ctx, func(tx Tx) error {
			done = nil
			if err := checkCurrentSchema(ctx, tx, q); err != nil {
				return err
			}
			if q.LockMigrations != "" {
				if _, err := tx.Exec(ctx, q.LockMigrations); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, q.CreateSchemaMigrations); err != nil {
				return err
			}
			// Read under the lock: another process may have migrated.
			recorded, err := recordedMigrations(ctx, tx, q)
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
			if _, err := tx.Exec(ctx, q.InsertMigration, m.Version, m.Name, now.UnixNano()); err != nil {
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

// Status returns every migration sc knows, in version order, each marked
// applied or not, followed by any the database has that sc does not know
// (a newer binary migrated it). It changes nothing.
func (sc Schema) Status(ctx context.Context) ([]metastore.Migration, error) {
	var recorded map[int]metastore.Migration
	err := sc.DB.View(ctx, func(tx Tx) error {
		var err error
		recorded, err = recordedMigrations(ctx, tx, sc.Queries)
		return err
	})
	if err != nil {
		return nil, err
	}
	return MergeStatus(sc.Migrations, recorded), nil
}

// Check fails unless the database has exactly the migrations sc knows: a
// store opened without migrating must not run on an older or newer schema.
func (sc Schema) Check(ctx context.Context) error {
	latest, err := sc.latest()
	if err != nil {
		return err
	}
	status, err := sc.Status(ctx)
	if err != nil {
		return err
	}
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

func (sc Schema) latest() (int, error) {
	if len(sc.Migrations) == 0 {
		return 0, errors.New("no migrations")
	}
	return sc.Migrations[len(sc.Migrations)-1].Version, nil
}

// MergeStatus merges the known migrations with the recorded ones (which
// it consumes): known ones in order, applied or pending, then the unknown
// recorded ones in version order. With recorded nil, all are pending.
func MergeStatus(known []metastore.MigrationFile, recorded map[int]metastore.Migration) []metastore.Migration {
	var out []metastore.Migration
	for _, m := range known {
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
	return append(out, unknown...)
}

// checkCurrentSchema fails usefully where the database has schemas and
// none is selected: later statements would fail obscurely.
func checkCurrentSchema(ctx context.Context, tx Tx, q Queries) error {
	if q.SelectCurrentSchema == "" {
		return nil
	}
	var schema *string
	if err := tx.QueryRow(ctx, q.SelectCurrentSchema).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errNoSchema
	}
	return nil
}

// recordedMigrations reads schema_migrations; a database without the table
// has none.
func recordedMigrations(ctx context.Context, tx Tx, q Queries) (map[int]metastore.Migration, error) {
	if err := checkCurrentSchema(ctx, tx, q); err != nil {
		return nil, err
	}
	var exists bool
	if err := tx.QueryRow(ctx, q.SelectSchemaMigrationsExists).Scan(&exists); err != nil {
		return nil, err
	}
	out := map[int]metastore.Migration{}
	if !exists {
		return out, nil
	}
	ms, err := queryAll(ctx, tx, func(row Row) (metastore.Migration, error) {
		var (
			m  metastore.Migration
			at int64
		)
		err := row.Scan(&m.Version, &m.Name, &at)
		m.Applied, m.AppliedAt = true, nanosToTime(at)
		return m, err
	}, q.SelectMigrations)
	for _, m := range ms {
		out[m.Version] = m
	}
	return out, err
}
