package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/stratalog/strata/internal/redact"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations ordered by version.
func migrations() ([]metastore.MigrationFile, error) {
	return metastore.ReadMigrations(migrationFiles, "migrations")
}

// schema is the migrations of the database behind d.
func schema(d *db) sqlstore.Schema {
	ms, err := migrations()
	if err != nil {
		// The files are embedded: a bad one fails every test.
		panic(fmt.Sprintf("postgres: embedded migrations: %v", err))
	}
	return sqlstore.Schema{DB: d, Queries: queries, Migrations: ms}
}

// Migrate connects to the database at url, applies the migrations it has
// not seen, and returns those it applied (none when it was up to date).
// It is what Open does unless Options.NoMigrate; `strata migrate up` runs
// it before agents that open with NoMigrate. Each migration is applied in
// one transaction with its schema_migrations row, under an advisory lock
// per schema, so agents starting together take turns.
func Migrate(ctx context.Context, url string) ([]metastore.Migration, error) {
	pool, err := newPool(ctx, url, 1)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate %s: %w", redact.URL(url), err)
	}
	defer pool.Close()
	applied, err := schema(&db{pool: pool, maxRetries: defaultMaxRetries}).Migrate(ctx)
	if err != nil {
		return applied, fmt.Errorf("postgres: migrate %s: %w", redact.URL(url), err)
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
		return nil, fmt.Errorf("postgres: migration status %s: %w", redact.URL(url), err)
	}
	defer pool.Close()
	status, err := schema(&db{pool: pool, maxRetries: defaultMaxRetries}).Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status %s: %w", redact.URL(url), err)
	}
	return status, nil
}
