// Package sqlite implements metastore.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go), for a single machine: one agent, local
// development and tests.
//
// # Basics
//
// Open creates the database file (and its parent directories) if needed and
// applies the schema migrations embedded from migrations/*.sql, recording
// each in the schema_migrations table. The database runs in WAL journal mode
// with synchronous=FULL, so a committed flush survives a power loss, and
// with foreign keys enforced.
//
// All writes go through one connection and each is one IMMEDIATE
// transaction, so writers never deadlock on lock upgrades; reads use a
// separate pool of read-only connections and see every write that has
// returned.
//
// The store's logic is metastore/sqlstore's; this package opens the file,
// adapts database/sql to it (topic IDs are 16-byte BLOBs, LIMIT -1 is no
// limit, $N placeholders become ?N) and holds the few statements SQLite
// spells its own way.
//
// # Caveats
//
// Several processes may open the same file (SQLite serialises their writes,
// waiting up to the busy timeout), but the file must be on a local disk:
// WAL mode does not work over network file systems.
//
// A database written by a newer binary (with migrations this one does not
// know) is refused rather than silently misread.
package sqlite
