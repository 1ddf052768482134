package metastoretest

import (
	"context"
	"reflect"
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

// Upgrade reaches a SQL backend's fresh, empty database below the
// latest schema version, for RunLifecycleUpgrade.
type Upgrade struct {
	// MigrateTo applies the backend's migrations up to and including
	// version.
	MigrateTo func(ctx context.Context, version int) error
	// Exec runs one statement written with $N placeholders.
	Exec func(ctx context.Context, sql string, args ...any) error
	// TopicID is a topic ID as a statement argument.
	TopicID func(metastore.TopicID) any
	// Open migrates the database to the latest version and opens it.
	Open func(ctx context.Context) (metastore.Store, error)
}

// RunLifecycleUpgrade checks that migration 0003 (metastore.Lifecycle)
// carries a version-2 database's log index and objects over: existing
// objects become flush objects with their rows' live bytes, those no row
// references are dead from the migration on, existing rows are flush
// rows, and the store's accounting holds.
func RunLifecycleUpgrade(t *testing.T, u Upgrade) {
	t.Helper()
	ctx := t.Context()
	if err := u.MigrateTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	id := newID()
	tid := u.TopicID(id)
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO topics (topic_id, name, partitions, replication_factor, created_at) VALUES ($1, 'old', 2, 1, 1)`, []any{tid}},
		{`INSERT INTO partitions (topic_id, partition, owner, epoch, high_watermark)
VALUES ($1, 0, 'a', 1, 10), ($1, 1, 'a', 1, 5)`, []any{tid}},
		{`INSERT INTO segments (topic_id, partition, base_offset, last_offset, object_key, pos, size, min_timestamp, max_timestamp)
VALUES ($1, 0, 0, 4, 'live', 0, 100, 0, 4), ($1, 0, 5, 9, 'live', 100, 50, 5, 9), ($1, 1, 0, 4, 'shared', 0, 30, 0, 4)`, []any{tid}},
		{`INSERT INTO objects (object_key, size, created_at)
VALUES ('live', 200, 1000), ('shared', 90, 2000), ('dead', 300, 3000)`, nil},
	} {
		if err := u.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
	}
	before := time.Now()
	s, err := u.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	checkLive(t, s, "live", metastore.ObjectFlush, 200, 150)
	checkLive(t, s, "shared", metastore.ObjectFlush, 90, 30)
	checkDead(t, s, "dead", before)
	for _, r := range mustIndexRows(t, s, id, 0) {
		if r.Kind != metastore.RowFlush {
			t.Fatalf("migrated row %+v is not a flush row", r)
		}
	}
	CheckAccounting(t, s)

	// The lifecycle works on the migrated rows.
	l := mustClaimLease(t, s, "c", id, 0, time.Now(), time.Minute)
	if err := s.Replace(ctx, replacement(l, "seg", mustIndexRows(t, s, id, 0), 150)); err != nil {
		t.Fatal(err)
	}
	checkDead(t, s, "live", before)
	if got, err := s.ForgetObjects(ctx, []string{"dead", "live", "shared"}); err != nil || !reflect.DeepEqual(got, []string{"dead", "live"}) {
		t.Fatalf("ForgetObjects = %q, %v; want [dead live]", got, err)
	}
	CheckAccounting(t, s)
}
