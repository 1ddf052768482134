package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratalog/strata/metastore/postgres/pgtest"
)

// TestMigrate: status lists pending migrations, up applies them once, and
// status then lists them applied, for both backends.
func TestMigrate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "meta.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.url(t)
			code, stdout, stderr := run(t, nil, "migrate", "status", "--metastore", url)
			if code != 0 {
				t.Fatalf("migrate status: exit %d, stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "0001_init") || !strings.Contains(stdout, "pending") || strings.Contains(stdout, "applied") {
				t.Fatalf("migrate status of an empty metastore:\n%s", stdout)
			}
			if path, ok := strings.CutPrefix(url, "sqlite://"); ok {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatalf("migrate status created %s (stat: %v)", path, err)
				}
			}

			code, stdout, stderr = run(t, nil, "migrate", "up", "--metastore", url)
			if code != 0 {
				t.Fatalf("migrate up: exit %d, stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "applied 0001_init\n") || !strings.Contains(stdout, "applied 0002_groups\n") {
				t.Fatalf("migrate up printed:\n%s", stdout)
			}
			// The URL may come from the environment too.
			code, stdout, stderr = run(t, []string{"STRATA_METASTORE=" + url}, "migrate", "up")
			if code != 0 || stdout != "schema is up to date\n" {
				t.Fatalf("second migrate up: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
			}
			code, stdout, stderr = run(t, nil, "migrate", "status", "--metastore", url)
			if code != 0 || strings.Contains(stdout, "pending") || !strings.Contains(stdout, "applied") ||
				!strings.HasSuffix(stdout, "schema is up to date\n") {
				t.Fatalf("migrate status after up: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}
}

func TestMigrateUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"migrate"}, "subcommand"},
		{[]string{"migrate", "sideways"}, "sideways"},
		{[]string{"migrate", "up"}, "--metastore"},
		{[]string{"migrate", "status", "--metastore", "mysql://x"}, "mysql"},
		{[]string{"migrate", "up", "--metastore", "meta.db"}, "URL"},
		{[]string{"migrate", "up", "--metastore", "sqlite://"}, "empty path"},
		{[]string{"migrate", "up", "--metastore", "sqlite://x.db", "extra"}, "extra"},
		{[]string{"migrate", "up", "--no-such-flag"}, "no-such-flag"},
		{[]string{"migrate", "up", "--metastore", "sqlite://x.db", "--timeout", "0s"}, "timeout"},
	} {
		code, stdout, stderr := run(t, []string{"STRATA_METASTORE="}, tc.args...)
		if code != 2 {
			t.Errorf("strata %q: exit %d, want 2; stderr:\n%s", tc.args, code, stderr)
			continue
		}
		line := strings.TrimSuffix(stderr, "\n")
		if !strings.HasPrefix(line, "strata: ") || strings.Contains(line, "\n") || !strings.Contains(line, tc.mention) {
			t.Errorf("strata %q: stderr %q, want one line mentioning %q", tc.args, stderr, tc.mention)
		}
		if stdout != "" {
			t.Errorf("strata %q: stdout %q, want none", tc.args, stdout)
		}
	}
}

// TestMigrateUnreachableExit1: a metastore that cannot be reached is a
// runtime failure (exit 1), not a usage error, and the password is not
// printed.
func TestMigrateUnreachableExit1(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, nil, "migrate", "status", "--timeout", "5s",
		"--metastore", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
	if code != 1 || strings.Contains(stderr, "hunter2") || !strings.Contains(stderr, "postgres:") {
		t.Fatalf("unreachable postgres: exit %d, stderr %q; want 1 and no password", code, stderr)
	}
}
