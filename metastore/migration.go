package metastore

import "time"

// Migration is one versioned schema migration of a SQL-backed Store, as
// reported by the implementations' Migrate and MigrationStatus functions
// (used by `strata migrate`).
type Migration struct {
	// Version orders migrations; each is applied once, in order.
	Version int
	// Name is the migration's file name without ".sql", e.g. "0001_init".
	Name string
	// Applied reports whether the database has the migration.
	Applied bool
	// AppliedAt is when it was applied; zero if it was not.
	AppliedAt time.Time
}
