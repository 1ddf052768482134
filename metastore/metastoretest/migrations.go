package metastoretest

import (
	"context"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Migrator is a SQL backend's migration entry points, each on the same
// fresh, empty database.
type Migrator struct {
	// Known is the backend's embedded migrations, in version order.
	Known []metastore.MigrationFile
	// Migrate and Status are the backend's Migrate and MigrationStatus.
	Migrate func(ctx context.Context) ([]metastore.Migration, error)
	Status  func(ctx context.Context) ([]metastore.Migration, error)
	// Open opens the migrated database as a store.
	Open func(ctx context.Context) (metastore.Store, error)
}

// RunMigrations checks the migration life cycle every SQL backend shares:
// an empty database has every migration pending, Migrate applies them all
// once, after which Status lists them applied and the database opens.
func RunMigrations(t *testing.T, m Migrator) {
	t.Helper()
	ctx := t.Context()
	if len(m.Known) == 0 || m.Known[0].Version != 1 {
		t.Fatalf("migrations = %+v, want versions from 1", m.Known)
	}
	status, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(m.Known) {
		t.Fatalf("status of an empty database = %+v, want %d pending", status, len(m.Known))
	}
	for i, s := range status {
		if s.Applied || s.Version != m.Known[i].Version || s.Name != m.Known[i].Name {
			t.Fatalf("status[%d] = %+v, want %s pending", i, s, m.Known[i].Name)
		}
	}

	// Applied times may come from another clock (a database server's);
	// a minute's slack is plenty for tests.
	before := time.Now().Add(-time.Minute)
	applied, err := m.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(m.Known) {
		t.Fatalf("Migrate applied %+v, want all %d", applied, len(m.Known))
	}
	again, err := m.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second Migrate applied %+v, want nothing", again)
	}
	status, err = m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range status {
		if !s.Applied || s.Name != m.Known[i].Name || s.AppliedAt.Before(before) {
			t.Fatalf("status[%d] after Migrate = %+v", i, s)
		}
	}

	s, err := m.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ClusterID(ctx); err != nil {
		t.Fatal(err)
	}
}
