package open

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratalog/strata/metastore/postgres/pgtest"
)

func TestBadURLs(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct{ url, mention string }{
		{"meta.db", "want scheme://"},
		{"", "want scheme://"},
		{"sqlite://", "empty path"},
		{"sqlite://?x=1", "empty path"},
		{"mysql://u:hunter2@h/db", `unknown scheme "mysql"`},
	} {
		_, err := Metastore(ctx, tc.url)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Metastore(%q): err = %v, want ErrBadURL mentioning %q, no password", tc.url, err, tc.mention)
		}
		if _, err := Migrate(ctx, tc.url); !errors.Is(err, ErrBadURL) {
			t.Errorf("Migrate(%q): err = %v, want ErrBadURL", tc.url, err)
		}
		if _, err := MigrationStatus(ctx, tc.url); !errors.Is(err, ErrBadURL) {
			t.Errorf("MigrationStatus(%q): err = %v, want ErrBadURL", tc.url, err)
		}
		if err := CheckURL(tc.url); !errors.Is(err, ErrBadURL) {
			t.Errorf("CheckURL(%q): err = %v, want ErrBadURL", tc.url, err)
		}
	}
}

func TestSQLite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "meta.db")
	url := "sqlite://" + path + "?ignored=1"
	status, err := MigrationStatus(ctx, url)
	if err != nil || len(status) == 0 || status[0].Applied {
		t.Fatalf("MigrationStatus = %+v, %v; want all pending", status, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("MigrationStatus created %s (stat: %v)", path, err)
	}
	applied, err := Migrate(ctx, url)
	if err != nil || len(applied) != len(status) {
		t.Fatalf("Migrate = %+v, %v; want all %d applied", applied, err, len(status))
	}
	s, err := Metastore(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ClusterID(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPostgres(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	for _, u := range []string{url, "postgresql" + strings.TrimPrefix(url, "postgres")} {
		s, err := Metastore(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClusterID(ctx); err != nil {
			t.Fatal(err)
		}
		s.Close()
		status, err := MigrationStatus(ctx, u)
		if err != nil || len(status) == 0 || !status[len(status)-1].Applied {
			t.Fatalf("MigrationStatus(%q) = %+v, %v; want all applied", u, status, err)
		}
		if applied, err := Migrate(ctx, u); err != nil || len(applied) != 0 {
			t.Fatalf("Migrate(%q) = %+v, %v; want nothing to do", u, applied, err)
		}
	}
	// A connection failure is not a bad URL, and shows no password.
	_, err := Metastore(ctx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1")
	if err == nil || errors.Is(err, ErrBadURL) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("unreachable postgres: err = %v", err)
	}
}
