package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/metastoretest"
	"github.com/stratalog/strata/metastore/sqlstore"
)

func TestMigrateAndStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "meta.db")
	metastoretest.RunMigrations(t, metastoretest.Migrator{
		Known: mustMigrations(t),
		Migrate: func(ctx context.Context) ([]metastore.Migration, error) {
			return Migrate(ctx, path)
		},
		Status: func(ctx context.Context) ([]metastore.Migration, error) {
			status, err := MigrationStatus(ctx, path)
			// Status of a missing file must not create it.
			if _, statErr := os.Stat(path); len(status) > 0 && !status[0].Applied && !os.IsNotExist(statErr) {
				t.Fatalf("MigrationStatus created the file (stat: %v)", statErr)
			}
			return status, err
		},
		Open: func(ctx context.Context) (metastore.Store, error) {
			s, err := Open(ctx, path)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	})
}

func TestLifecycleUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	metastoretest.RunLifecycleUpgrade(t, metastoretest.Upgrade{
		MigrateTo: func(ctx context.Context, version int) error {
			w, _, err := openWriter(path)
			if err != nil {
				return err
			}
			defer w.Close()
			var ms []metastore.MigrationFile
			for _, m := range mustMigrations(t) {
				if m.Version <= version {
					ms = append(ms, m)
				}
			}
			_, err = sqlstore.Schema{DB: db{w: w}, Queries: queries, Migrations: ms}.Migrate(ctx)
			return err
		},
		Exec: func(ctx context.Context, sql string, args ...any) error {
			w, _, err := openWriter(path)
			if err != nil {
				return err
			}
			defer w.Close()
			_, err = w.ExecContext(ctx, placeholders(sql), args...)
			return err
		},
		TopicID: func(id metastore.TopicID) any { return id[:] },
		Open: func(ctx context.Context) (metastore.Store, error) {
			s, err := Open(ctx, path)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	})
}
