// Package pgtest gives tests their own empty PostgreSQL schema.
//
// # Basics
//
// URL reads the server from STRATA_TEST_POSTGRES_URL (scripts/test.sh
// provides it; locally, eval "$(scripts/start-postgres.sh)"), creates a
// fresh schema, drops it when the test ends, and returns the URL with
// search_path set to it, so tests using it can run in parallel against one
// database.
//
// # Caveats
//
// Without STRATA_TEST_POSTGRES_URL the test is skipped, except when
// CI=true: CI never skips the Postgres tests.
package pgtest
