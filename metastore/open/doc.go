// Package open opens a metastore backend by URL: the one place that maps
// URL schemes to the metastore implementations (package metastore itself
// cannot import them, they import it).
//
// # Basics
//
// Metastore opens a store, migrating its schema; Migrate and
// MigrationStatus apply or list the migrations (`strata migrate`). The
// schemes are sqlite://PATH (metastore/sqlite; PATH relative or absolute,
// sqlite:///abs/path works too, a ?query is ignored) and postgres:// or
// postgresql:// (metastore/postgres, the URL passed on whole, any libpq
// parameter).
//
// # Caveats
//
// A malformed URL or an unknown scheme is ErrBadURL, a configuration
// error; anything else (an unreachable server, a schema from a newer
// binary) is the backend's own error. URLs in error texts pass through
// redact.URL, so they are safe to log.
package open
