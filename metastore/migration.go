package metastore

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

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

// MigrationFile is one embedded schema migration: NNNN_name.sql.
type MigrationFile struct {
	Version int
	Name    string // the file name without ".sql"
	SQL     string
}

// ReadMigrations reads the *.sql files of dir in fsys, ordered by the
// version number their names start with; versions are positive and
// unique. Both SQL implementations embed their migrations and read them
// with it.
func ReadMigrations(fsys fs.FS, dir string) ([]MigrationFile, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []MigrationFile
	seen := map[int]string{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, MigrationFile{Version: v, Name: base, SQL: string(b)})
	}
	if len(ms) == 0 {
		return nil, errors.New("no embedded migrations")
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}
