package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/metastoretest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "nested", "dir", "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	metastoretest.Run(t, func(t *testing.T) metastore.Store { return openTemp(t) })
}

func TestReopenPersists(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	clusterID, err := s.ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := s.RegisterAgent(ctx, metastore.Agent{ID: "a", Host: "h", Port: 9092, Rack: "r", LeaseExpires: time.UnixMilli(5_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	topic := metastore.Topic{Name: "t", ID: metastore.TopicID{1, 2, 3}, Partitions: 2, ReplicationFactor: 3,
		Configs: map[string]string{"retention.ms": "60000"}, CreatedAt: time.UnixMilli(1_700_000_000_000)}
	if err := s.CreateTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "a", topic.ID, 1, 0); err != nil {
		t.Fatal(err)
	}
	producers := []metastore.ProducerState{{ProducerID: 1000, Epoch: 3, LastTimestamp: 77,
		Batches: []metastore.ProducerBatch{{FirstSeq: 1, LastSeq: 2, BaseOffset: 0, LastOffset: 1, Timestamp: 77}}}}
	idx := []metastore.IndexRow{{TopicID: topic.ID, Partition: 1, BaseOffset: 0, LastOffset: 1, ObjectKey: "obj", Pos: 8, Size: 80, MinTimestamp: 70, MaxTimestamp: 77}}
	if err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj", ObjectSize: 100, Partitions: []metastore.PartitionCommit{
		{TopicID: topic.ID, Partition: 1, Epoch: 1, PrevHighWatermark: 0, NewHighWatermark: 2, Rows: idx, Producers: producers},
	}}); err != nil {
		t.Fatal(err)
	}
	lastPID, err := s.NextProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.ClusterID(ctx); err != nil || got != clusterID {
		t.Errorf("ClusterID after reopen = %q, %v; want %q", got, err, clusterID)
	}
	agents, err := s.Agents(ctx, time.UnixMilli(0).Add(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 1 || agents[0] != agent {
		t.Errorf("Agents after reopen = %+v, want [%+v]", agents, agent)
	}
	again, err := s.RegisterAgent(ctx, metastore.Agent{ID: "a", Host: "h2", Port: 9092, LeaseExpires: time.UnixMilli(6_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	if again.NodeID != agent.NodeID {
		t.Errorf("NodeID after reopen = %d, want %d", again.NodeID, agent.NodeID)
	}
	gotTopic, err := s.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if gotTopic.ID != topic.ID || gotTopic.Partitions != 2 || gotTopic.ReplicationFactor != 3 ||
		!reflect.DeepEqual(gotTopic.Configs, topic.Configs) || !gotTopic.CreatedAt.Equal(topic.CreatedAt) {
		t.Errorf("Topic after reopen = %+v, want %+v", gotTopic, topic)
	}
	parts, err := s.Partitions(ctx, topic.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantParts := []metastore.Partition{
		{TopicID: topic.ID, Partition: 0},
		{TopicID: topic.ID, Partition: 1, Owner: "a", Epoch: 1, HighWatermark: 2},
	}
	if !reflect.DeepEqual(parts, wantParts) {
		t.Errorf("Partitions after reopen = %+v, want %+v", parts, wantParts)
	}
	gotIdx, err := s.IndexRows(ctx, topic.ID, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotIdx, idx) {
		t.Errorf("IndexRows after reopen = %+v, want %+v", gotIdx, idx)
	}
	gotProducers, err := s.ProducerStates(ctx, topic.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotProducers, producers) {
		t.Errorf("ProducerStates after reopen = %+v, want %+v", gotProducers, producers)
	}
	pid, err := s.NextProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pid <= lastPID {
		t.Errorf("NextProducerID after reopen = %d, not above %d handed out before", pid, lastPID)
	}
	var migrations int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if want := len(mustMigrations(t)); migrations != want {
		t.Errorf("schema_migrations has %d rows after reopen, want %d", migrations, want)
	}
}

func mustMigrations(t *testing.T) []metastore.MigrationFile {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations = %+v, want versions from 1", ms)
	}
	return ms
}

func TestOpenPragmas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "foreign_keys", "1"},
		{s.w, "synchronous", "2"},
		{s.w, "busy_timeout", "10000"},
		{s.r, "journal_mode", "wal"},
		{s.r, "query_only", "1"},
		{s.r, "foreign_keys", "1"},
	} {
		var got string
		if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM topics`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestOpenPathNeedsNoEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d e")
	path := filepath.Join(dir, "meta.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.NextProducerID(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, queries.InsertMigration, 9999, "9999_future", 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open accepted a database with an unknown newer migration")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open: %v, want a schema-too-new error", err)
	}
}

// Two Stores on one file stand in for two processes: their writes must
// serialise through SQLite's lock, not fail with SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	stores := make([]*Store, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	const each = 50
	ids := make([][]int64, len(stores))
	for i, s := range stores {
		wg.Go(func() {
			for range each {
				id, err := s.NextProducerID(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				ids[i] = append(ids[i], id)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range stores {
		if errs[i] != nil {
			t.Fatalf("store %d: %v", i, errs[i])
		}
		for _, id := range ids[i] {
			if seen[id] {
				t.Fatalf("producer ID %d handed out twice", id)
			}
			seen[id] = true
		}
	}
	a, err := stores[0].ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := stores[1].ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("two stores on one file disagree on the cluster ID: %q, %q", a, b)
	}
}

func TestClusterIDFormat(t *testing.T) {
	id, err := openTemp(t).ClusterID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(id) != 22 || len(b) != 16 {
		t.Fatalf("cluster ID %q is not 16 bytes of unpadded base64url (%v)", id, err)
	}
}

func TestNextProducerIDStartsAt1000(t *testing.T) {
	s := openTemp(t)
	for want := int64(1000); want < 1003; want++ {
		got, err := s.NextProducerID(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("NextProducerID = %d, want %d", got, want)
		}
	}
}

// Regression: an INSERT ... ON CONFLICT DO UPDATE upsert consumes an
// AUTOINCREMENT value per heartbeat, so NodeIDs would drift upwards and
// eventually overflow int32.
func TestNodeIDsAreDense(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	for range 100 {
		a, err := s.RegisterAgent(ctx, metastore.Agent{ID: "a", Host: "h", Port: 1, LeaseExpires: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if a.NodeID != 1 {
			t.Fatalf("agent a NodeID = %d, want 1", a.NodeID)
		}
	}
	b, err := s.RegisterAgent(ctx, metastore.Agent{ID: "b", Host: "h", Port: 2, LeaseExpires: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 2 {
		t.Fatalf("agent b NodeID = %d, want 2", b.NodeID)
	}
	if _, err := s.RegisterAgent(ctx, metastore.Agent{Host: "h"}); err == nil {
		t.Fatal("RegisterAgent accepted an empty agent ID")
	}
}

func TestCreateTopicDefaults(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	before := time.Now()
	if err := s.CreateTopic(ctx, metastore.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID.IsZero() || got.ID[6]>>4 != 4 || got.ID[8]>>6 != 2 {
		t.Errorf("assigned topic ID %x is not a version 4 UUID", got.ID)
	}
	if got.CreatedAt.Before(before.Truncate(time.Millisecond)) || got.CreatedAt.After(time.Now()) {
		t.Errorf("CreatedAt = %v, want about %v", got.CreatedAt, before)
	}
	if got.Configs == nil {
		t.Error("Configs is nil, want an empty map")
	}
	for _, bad := range []metastore.Topic{
		{Name: "", Partitions: 1},
		{Name: "zero", Partitions: 0},
		{Name: "negative", Partitions: -1},
	} {
		if err := s.CreateTopic(ctx, bad); err == nil {
			t.Errorf("CreateTopic(%+v) succeeded", bad)
		}
	}
	// A reused ID under a new name is refused too.
	if err := s.CreateTopic(ctx, metastore.Topic{Name: "u", ID: got.ID, Partitions: 1}); !errors.Is(err, metastore.ErrExists) {
		t.Errorf("CreateTopic with a taken ID: err = %v, want ErrExists", err)
	}
}

func TestCommitFlushValidation(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	id := metastore.TopicID{9}
	if err := s.CreateTopic(ctx, metastore.Topic{Name: "t", ID: id, Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "a", id, 0, 0); err != nil {
		t.Fatal(err)
	}
	row := func(base, last int64) metastore.IndexRow {
		return metastore.IndexRow{BaseOffset: base, LastOffset: last, Size: 1}
	}
	pc := func(prev, next int64, rows ...metastore.IndexRow) metastore.PartitionCommit {
		return metastore.PartitionCommit{TopicID: id, Epoch: 1, PrevHighWatermark: prev, NewHighWatermark: next, Rows: rows}
	}
	for _, tc := range []struct {
		name string
		f    metastore.Flush
	}{
		{"no object key", metastore.Flush{AgentID: "a", Partitions: []metastore.PartitionCommit{pc(0, 1, row(0, 0))}}},
		{"hwm moves back", metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{pc(0, -1)}}},
		{"row below prev", metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{pc(0, 2, row(-1, 1))}}},
		{"row at new", metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{pc(0, 2, row(0, 2))}}},
		{"row backwards", metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{pc(0, 5, row(3, 2))}}},
		{"rows overlap", metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{pc(0, 5, row(2, 4), row(0, 2))}}},
		{"row of another partition", metastore.Flush{AgentID: "a", ObjectKey: "o", Partitions: []metastore.PartitionCommit{
			pc(0, 5, metastore.IndexRow{TopicID: id, Partition: 1, BaseOffset: 0, LastOffset: 4})}}},
	} {
		err := s.CommitFlush(ctx, tc.f)
		if err == nil || errors.Is(err, metastore.ErrFenced) || errors.Is(err, metastore.ErrConflict) {
			t.Errorf("%s: err = %v, want a validation error", tc.name, err)
		}
	}
	rows, err := s.IndexRows(ctx, id, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Fatalf("rejected flushes wrote index rows %+v", rows)
	}

	// Defaults are filled in on a copy: the caller's rows are untouched,
	// and out-of-order rows are stored in offset order.
	in := []metastore.IndexRow{row(3, 4), row(0, 2)}
	if err := s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: "obj", ObjectSize: 2,
		Partitions: []metastore.PartitionCommit{pc(0, 5, in...)}}); err != nil {
		t.Fatal(err)
	}
	if in[0] != row(3, 4) || in[1] != row(0, 2) {
		t.Errorf("CommitFlush modified the caller's rows: %+v", in)
	}
	rows, err = s.IndexRows(ctx, id, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []metastore.IndexRow{
		{TopicID: id, BaseOffset: 0, LastOffset: 2, ObjectKey: "obj", Size: 1},
		{TopicID: id, BaseOffset: 3, LastOffset: 4, ObjectKey: "obj", Size: 1},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("IndexRows = %+v, want %+v", rows, want)
	}
}

// The objects table outlives the topics whose index rows point into it: it
// is what garbage collection lists.
func TestObjectsOutliveTopics(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	id := metastore.TopicID{7}
	if err := s.CreateTopic(ctx, metastore.Topic{Name: "t", ID: id, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "a", id, 0, 0); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	commit := func(key string, prev int64) error {
		return s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: key, ObjectSize: 4096,
			Partitions: []metastore.PartitionCommit{{TopicID: id, Epoch: 1, PrevHighWatermark: prev, NewHighWatermark: prev + 1,
				Rows: []metastore.IndexRow{{BaseOffset: prev, LastOffset: prev}}}}})
	}
	if err := commit("obj-1", 0); err != nil {
		t.Fatal(err)
	}
	// A failed flush records no object.
	if err := commit("obj-lost", 0); !errors.Is(err, metastore.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT object_key, size, created_at FROM objects`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var (
			key     string
			size    int64
			created int64
		)
		if err := rows.Scan(&key, &size, &created); err != nil {
			t.Fatal(err)
		}
		if size != 4096 || created < before.UnixNano() || created > time.Now().UnixNano() {
			t.Errorf("object %s: size %d created %d", key, size, created)
		}
		got = append(got, key)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"obj-1"}) {
		t.Errorf("objects = %q, want [obj-1]", got)
	}
}

// IndexRows and MaxTimestampRow are on the fetch path, and a switch reads
// its inputs' span under the partition's lock: they must seek, not scan
// the partition.
func TestIndexRowsQueryPlan(t *testing.T) {
	s := openTemp(t)
	for _, q := range []string{queries.SelectIndexRowsFrom, queries.SelectMaxTimestampRow, queries.SelectIndexRowsSpan} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, []byte{1}, 0, 5, 10)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if strings.Contains(text, "SCAN") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("query plan scans or sorts: %s\nfor %s", text, q)
		}
		t.Logf("plan: %s", text)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.NextProducerID(ctx); err == nil {
		t.Error("NextProducerID succeeded with a canceled context")
	}
	if _, err := s.Topics(ctx); err == nil {
		t.Error("Topics succeeded with a canceled context")
	}
}

func TestPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		"a = $1 AND b = $12":  "a = ?1 AND b = ?12",
		"LIMIT $4":            "LIMIT ?4",
		"no params":           "no params",
		"price $ x, '$' $a $": "price $ x, '$' $a $",
	} {
		if got := placeholders(in); got != want {
			t.Errorf("placeholders(%q) = %q, want %q", in, got, want)
		}
	}
	if strings.Contains(queries.SelectIndexRowsFrom, "$") {
		t.Errorf("SelectIndexRowsFrom keeps a $ placeholder: %s", queries.SelectIndexRowsFrom)
	}
}

// BenchmarkCommitFlush: a 6-partition flush commit against a one-row
// write transaction on the same file (see metastoretest.BenchCommitFlush).
func BenchmarkCommitFlush(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.Exec("CREATE TABLE bench_trip (n INTEGER)"); err != nil {
		b.Fatal(err)
	}
	metastoretest.BenchCommitFlush(b, s, func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, "INSERT INTO bench_trip VALUES (1)")
		return err
	})
}
