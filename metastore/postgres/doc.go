// Package postgres implements metastore.Store on PostgreSQL with pgx: the
// production metastore, shared by every agent of a cluster.
//
// # Basics
//
// Open takes a postgres:// URL (any libpq parameter; search_path selects
// the schema, so one database can hold several metastores) and opens a
// connection pool. Unless Options.NoMigrate, it applies the schema
// migrations embedded from migrations/*.sql, each in one transaction with
// its schema_migrations row, under an advisory lock so that agents
// starting together take turns. Migrate and MigrationStatus do the same
// for `strata migrate up|status`.
//
// Every change of more than one row is one READ COMMITTED transaction.
// Fencing uses row locks: CommitFlush locks the partitions it writes
// (SELECT ... FOR UPDATE, in key order) and checks owner, epoch (else
// metastore.ErrFenced) and high watermark (else metastore.ErrConflict)
// before writing; Claim is a conditional UPDATE. So of two agents
// committing the same partition from the same high watermark exactly one
// wins, whichever connection or process they use.
//
// A transaction that fails with a serialization failure (SQLSTATE 40001)
// or a deadlock (40P01) changed nothing and is run again after a jittered,
// doubling backoff, up to Options.MaxRetries times; the context bounds
// every attempt and every wait.
//
// The store's logic is metastore/sqlstore's; this package opens the pool,
// adapts pgx to it (writes of one transaction go to the server as one
// batch) and holds the statements only Postgres has: row locks, advisory
// locks, arrays, sequences and generate_series.
//
// # Caveats
//
// Times (created_at, leases, commit times) are BIGINT unix nanoseconds,
// like the SQLite store's, not timestamptz: leases compare exactly. Names
// listed in order (topics, groups, offsets' topics) use COLLATE "C", byte
// order, as Kafka tools expect, whatever the database's locale.
//
// NodeIDs and producer IDs come from sequences: never reused, but with
// gaps.
//
// A database migrated by a newer binary (with migrations this one does not
// know) is refused rather than silently misread.
package postgres
