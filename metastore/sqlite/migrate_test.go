package sqlite

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMigrateAndStatus(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "meta.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}

	// Status of a missing file: all pending, and the file is not created.
	status, err := MigrationStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(ms) {
		t.Fatalf("status = %+v, want %d pending", status, len(ms))
	}
	for i, m := range status {
		if m.Applied || m.Version != ms[i].Version || m.Name != ms[i].Name {
			t.Fatalf("status[%d] = %+v, want %s pending", i, m, ms[i].Name)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("MigrationStatus created the file (stat: %v)", err)
	}

	applied, err := Migrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(ms) {
		t.Fatalf("Migrate applied %+v, want all %d", applied, len(ms))
	}
	again, err := Migrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second Migrate applied %+v", again)
	}
	status, err = MigrationStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range status {
		if !m.Applied || m.Name != ms[i].Name || m.AppliedAt.IsZero() {
			t.Fatalf("status[%d] after Migrate = %+v", i, m)
		}
	}
	// The migrated file opens as a store.
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
