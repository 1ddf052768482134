package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/metastoretest"
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
