package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the test server.
const EnvURL = "STRATA_TEST_POSTGRES_URL"

// ServerURL returns the test server's URL, skipping the test when it is
// not set (failing it when CI=true).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI never skips the Postgres tests (scripts/test.sh starts a server)", EnvURL)
		}
		t.Skipf("%s is not set; start a server with: eval \"$(scripts/start-postgres.sh)\"", EnvURL)
	}
	return u
}

// URL creates an empty schema on the test server, dropped when the test
// ends, and returns a URL whose search_path selects it.
func URL(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	var b [8]byte
	rand.Read(b[:])
	schema := "strata_test_" + hex.EncodeToString(b[:])
	exec(t, server, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, server, "DROP SCHEMA "+schema+" CASCADE") })
	return WithSearchPath(t, server, schema)
}

// WithSearchPath returns server with its search_path parameter set to
// schema.
func WithSearchPath(t testing.TB, server, schema string) string {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on its own connection. It does not use the
// test's context: cleanups run after that is canceled.
func exec(t testing.TB, server, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
