package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stratalog/strata/metastore/postgres/pgtest"
	"github.com/stratalog/strata/tiering/objstore/s3/s3test"
)

// EnvBackend selects the backends Backends hands out: "" or "embedded"
// for SQLite and a directory, "remote" for Postgres and S3.
const EnvBackend = "STRATA_TEST_BACKEND"

// Backends returns a metastore URL and an object-store URL for the test:
// a fresh Postgres schema and S3 prefix when STRATA_TEST_BACKEND=remote
// (scripts/test.sh runs the end-to-end suites a second time that way),
// else a SQLite file and a directory in a temporary directory. Agents
// given the same pair share one cluster's state; an agent restarted with
// the same pair finds its metadata and objects again.
func Backends(t testing.TB) (metastoreURL, objstoreURL string) {
	t.Helper()
	switch b := os.Getenv(EnvBackend); b {
	case "", "embedded":
		dir := t.TempDir()
		return "sqlite://" + filepath.Join(dir, "meta.db"), "file://" + filepath.Join(dir, "objects")
	case "remote":
		return RemoteBackends(t)
	default:
		t.Fatalf("%s=%q: want embedded or remote", EnvBackend, b)
		return "", ""
	}
}

// RemoteBackends returns a fresh Postgres schema and S3 prefix whatever
// STRATA_TEST_BACKEND says, for tests that need the production backends
// in both passes (several agent processes, say, which a shared SQLite
// file would serialise). Without STRATA_TEST_POSTGRES_URL or
// STRATA_TEST_S3_URL the test is skipped, except when CI=true, where it
// fails: pgtest and s3test decide.
func RemoteBackends(t testing.TB) (metastoreURL, objstoreURL string) {
	t.Helper()
	return pgtest.URL(t), s3test.URL(t)
}
