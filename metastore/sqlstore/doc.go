// Package sqlstore is the metastore.Store logic shared by the SQL
// backends, metastore/sqlite and metastore/postgres: transactions, row
// scanning, flush fencing, topics, groups, producer-state JSON, the
// cluster ID and the migration loop, written once against a small driver
// and dialect adapter.
//
// # Basics
//
// A backend opens its database and calls New with a Config: a DB (its
// driver: database/sql for SQLite, a pgx pool for Postgres, behind the DB
// and Tx interfaces), a Dialect (how topic IDs, LIMITs and constraint
// errors look to that driver), the Queries it runs and a name that prefixes
// every error ("sqlite: ..."). Schema applies and lists the backend's
// migrations.
//
// Queries are written once, in StandardQueries, with numbered $N
// placeholders; a backend overrides the few that its SQL dialect spells
// differently and rewrites the placeholders if its driver wants another
// form (Queries.Map). Row locks are part of the query text: forUpdate is
// " FOR UPDATE" where the database locks rows, "" where a write
// transaction locks the whole database (SQLite's BEGIN IMMEDIATE). Sets
// of object keys are one parameter, encoded by Dialect.KeySet and read by
// the backend's keySet query (a JSON array with json_each in SQLite, a
// text[] in Postgres), passed at most keyChunk keys at a time.
//
// Objects' live bytes are recomputed from their index rows, never added
// and subtracted, at the end of every transaction that adds or removes
// rows (the accounting protocol in lifecycle.go); lock order is partition
// rows, then object rows in key order.
//
// # Caveats
//
// DB.Update may run its function more than once (Postgres retries
// serialization failures and deadlocks), so the functions in this package
// assign their results rather than append to them, and prepare anything
// that does not need the database (JSON, sorting) before the transaction.
//
// A Row's Scan must report a missing row with an error matching
// sql.ErrNoRows; database/sql does, and pgx.ErrNoRows matches it too.
package sqlstore
