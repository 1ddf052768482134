package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/metastoretest"
	"github.com/stratalog/strata/metastore/postgres/pgtest"
	"github.com/stratalog/strata/metastore/sqlstore"
)

// openTest opens a store on a fresh schema.
func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	return openURL(t, pgtest.URL(t), opts)
}

func openURL(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	metastoretest.Run(t, func(t *testing.T) metastore.Store { return openTest(t, Options{}) })
}

// TestTwoStoresOneWinner: two agents' stores (two pools, as two processes
// would have) commit the same partition from the same high watermark at
// once; in every round exactly one wins and the other is refused.
func TestTwoStoresOneWinner(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	s1 := openURL(t, url, Options{})
	s2 := openURL(t, url, Options{})
	tp := metastore.Topic{Name: "t", Partitions: 1, ReplicationFactor: 1}
	if err := s1.CreateTopic(ctx, tp); err != nil {
		t.Fatal(err)
	}
	got, err := s2.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	id := got.ID
	if _, err := s1.Claim(ctx, "a", id, 0, 0); err != nil {
		t.Fatal(err)
	}

	const rounds = 40
	var hwm int64
	wins := [2]int{}
	for round := range rounds {
		stores := [2]*Store{s1, s2}
		errs := [2]error{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range stores {
			wg.Go(func() {
				<-start
				n := int64(i + 1) // distinguishable winners: 1 or 2 records
				errs[i] = s.CommitFlush(ctx, metastore.Flush{AgentID: "a", ObjectKey: fmt.Sprintf("obj-%d-%d", round, i), ObjectSize: 10,
					Partitions: []metastore.PartitionCommit{{TopicID: id, Partition: 0, Epoch: 1,
						PrevHighWatermark: hwm, NewHighWatermark: hwm + n,
						Rows: []metastore.IndexRow{{BaseOffset: hwm, LastOffset: hwm + n - 1, Size: 10}}}}})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both stores committed from high watermark %d", round, hwm)
				}
				winner = i
			case errors.Is(err, metastore.ErrConflict):
			default:
				t.Fatalf("round %d: store %d: err = %v, want nil or ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither store committed", round)
		}
		wins[winner]++
		hwm += int64(winner + 1)
		parts, err := s2.Partitions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if parts[0].HighWatermark != hwm {
			t.Fatalf("round %d: high watermark %d, want %d", round, parts[0].HighWatermark, hwm)
		}
	}
	rows, err := s1.IndexRows(ctx, id, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != rounds {
		t.Fatalf("%d index rows after %d rounds, want one per round", len(rows), rounds)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].BaseOffset != rows[i-1].LastOffset+1 {
			t.Fatalf("index rows not dense: %+v then %+v", rows[i-1], rows[i])
		}
	}
	t.Logf("wins: store 1 %d, store 2 %d", wins[0], wins[1])
}

// TestTakeoverFencesOldOwner: a claim by another agent, racing the old
// owner's flush, leaves either the flush committed before the takeover or
// the flush fenced; never a commit at the old epoch after the new one.
func TestTakeoverFencesOldOwner(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	old, next := openURL(t, url, Options{}), openURL(t, url, Options{})
	if err := old.CreateTopic(ctx, metastore.Topic{Name: "t", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	tp, err := old.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var epoch int32
	var hwm int64
	for round := range 30 {
		p, err := old.Claim(ctx, "old", tp.ID, 0, epoch)
		if err != nil {
			t.Fatal(err)
		}
		epoch = p.Epoch
		var wg sync.WaitGroup
		var flushErr, claimErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			flushErr = old.CommitFlush(ctx, metastore.Flush{AgentID: "old", ObjectKey: fmt.Sprintf("obj-%d", round), ObjectSize: 1,
				Partitions: []metastore.PartitionCommit{{TopicID: tp.ID, Partition: 0, Epoch: epoch,
					PrevHighWatermark: hwm, NewHighWatermark: hwm + 1,
					Rows: []metastore.IndexRow{{BaseOffset: hwm, LastOffset: hwm, Size: 1}}}}})
		})
		wg.Go(func() {
			<-start
			_, claimErr = next.Claim(ctx, "next", tp.ID, 0, epoch)
		})
		close(start)
		wg.Wait()
		if claimErr != nil {
			t.Fatalf("round %d: takeover: %v", round, claimErr)
		}
		if flushErr != nil && !errors.Is(flushErr, metastore.ErrFenced) {
			t.Fatalf("round %d: flush: err = %v, want nil or ErrFenced", round, flushErr)
		}
		if flushErr == nil {
			hwm++
		}
		epoch++
		parts, err := next.Partitions(ctx, tp.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := metastore.Partition{TopicID: tp.ID, Partition: 0, Owner: "next", Epoch: epoch, HighWatermark: hwm}
		if parts[0] != want {
			t.Fatalf("round %d: partition %+v, want %+v", round, parts[0], want)
		}
	}
}

func TestMigrateAndStatus(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	metastoretest.RunMigrations(t, metastoretest.Migrator{
		Known: ms,
		Migrate: func(ctx context.Context) ([]metastore.Migration, error) {
			return Migrate(ctx, url)
		},
		Status: func(ctx context.Context) ([]metastore.Migration, error) {
			status, err := MigrationStatus(ctx, url)
			// An agent that may not migrate refuses a schema that is not
			// up to date, pointing at the fix.
			if len(status) > 0 && !status[0].Applied {
				if _, err := Open(ctx, url, Options{NoMigrate: true}); err == nil || !strings.Contains(err.Error(), "strata migrate up") {
					t.Fatalf("Open(NoMigrate) of an empty schema: err = %v, want a pointer to strata migrate up", err)
				}
			}
			return status, err
		},
		Open: func(ctx context.Context) (metastore.Store, error) {
			s, err := Open(ctx, url, Options{NoMigrate: true})
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	})
}

func TestLifecycleUpgrade(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pool, err := newPool(t.Context(), url, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	metastoretest.RunLifecycleUpgrade(t, metastoretest.Upgrade{
		MigrateTo: func(ctx context.Context, version int) error {
			all, err := migrations()
			if err != nil {
				return err
			}
			var ms []metastore.MigrationFile
			for _, m := range all {
				if m.Version <= version {
					ms = append(ms, m)
				}
			}
			_, err = sqlstore.Schema{DB: &db{pool: pool}, Queries: queries, Migrations: ms}.Migrate(ctx)
			return err
		},
		Exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := pool.Exec(ctx, sql, args...)
			return err
		},
		TopicID: func(id metastore.TopicID) any { return uuid(id) },
		Open: func(ctx context.Context) (metastore.Store, error) {
			s, err := Open(ctx, url, Options{})
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	})
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	s := openURL(t, url, Options{})
	if _, err := s.db.pool.Exec(ctx, queries.InsertMigration, 9999, "9999_future", time.Now().UnixNano()); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {NoMigrate: true}} {
		if _, err := Open(ctx, url, opts); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("Open(%+v) of a newer schema: err = %v, want refusal", opts, err)
		}
	}
	status, err := MigrationStatus(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if last := status[len(status)-1]; last.Version != 9999 || !last.Applied || last.Name != "9999_future" {
		t.Fatalf("status lists %+v last, want the unknown 9999_future", last)
	}
}

// TestConcurrentOpen: agents starting together migrate one schema once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := Open(t.Context(), url, Options{MaxConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	status, err := MigrationStatus(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range status {
		if !m.Applied {
			t.Fatalf("after concurrent opens: %+v not applied", m)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	server := pgtest.ServerURL(t)
	// A schema that does not exist.
	_, err := Open(ctx, pgtest.WithSearchPath(t, server, "no_such_schema_here"), Options{})
	if err == nil || !strings.Contains(err.Error(), "search_path") {
		t.Fatalf("Open with a missing schema: err = %v", err)
	}
	// Errors never show a password.
	for _, bad := range []string{
		"postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1",
		"postgres://u:hunter2@[::1/db",
		"postgres://u@127.0.0.1:1/db?password=hunter2&connect_timeout=1",
	} {
		_, err := Open(ctx, bad, Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", bad)
		}
		if !strings.HasPrefix(err.Error(), "postgres: ") || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("Open(%q): err = %q, want a prefixed error without the password", bad, err)
		}
	}
	if _, err := Open(ctx, server, Options{MaxConns: -1}); err == nil {
		t.Fatal("Open with negative MaxConns succeeded")
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateTopic(ctx, metastore.Topic{Name: "t", Partitions: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateTopic with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.Topics(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Topics with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.Topic(t.Context(), "t"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("topic created despite a canceled context: err = %v", err)
	}
}

// TestDeadlockRetried provokes a real deadlock between two transactions
// (row locks taken in opposite orders): Postgres aborts one with 40P01,
// and update runs it again, so both succeed.
func TestDeadlockRetried(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, Options{})
	for _, g := range []string{"a", "b"} {
		if err := s.SaveGroup(ctx, metastore.Group{Name: g, State: "Empty"}); err != nil {
			t.Fatal(err)
		}
	}
	const lock = `UPDATE groups SET generation = generation + 1 WHERE name = $1`
	var (
		wg       sync.WaitGroup
		attempts [2]int
		errs     [2]error
		mu       sync.Mutex
		locked   = 0
		bothHold = make(chan struct{})
	)
	for i, order := range [2][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			errs[i] = s.db.update(ctx, func(tx pgx.Tx) error {
				attempts[i]++
				if _, err := tx.Exec(ctx, lock, order[0]); err != nil {
					return err
				}
				if attempts[i] == 1 {
					// Wait until both hold their first lock, so the
					// second locks must deadlock.
					mu.Lock()
					locked++
					if locked == 2 {
						close(bothHold)
					}
					mu.Unlock()
					<-bothHold
				}
				_, err := tx.Exec(ctx, lock, order[1])
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if attempts[0]+attempts[1] < 3 {
		t.Fatalf("attempts %v: want the deadlock victim run again", attempts)
	}
	for _, g := range []string{"a", "b"} {
		got, err := s.LoadGroup(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if got.Generation != 2 {
			t.Fatalf("group %s generation %d, want 2 (each transaction applied once)", g, got.Generation)
		}
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	serialization := &pgconn.PgError{Code: codeSerializationFailure}
	deadlock := fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: codeDeadlockDetected})
	other := &pgconn.PgError{Code: codeUniqueViolation}
	for _, tc := range []struct {
		name      string
		errs      []error // returned by successive attempts; then nil
		max       int
		wantCalls int
		wantErr   error
	}{
		{"success", nil, 3, 1, nil},
		{"retried until success", []error{serialization, deadlock, serialization}, 3, 4, nil},
		{"gives up", []error{serialization, serialization, serialization}, 2, 3, serialization},
		{"never retries", []error{deadlock}, 0, 1, deadlock},
		{"other errors are final", []error{other, serialization}, 3, 1, other},
		{"plain errors are final", []error{metastore.ErrConflict}, 3, 1, metastore.ErrConflict},
	} {
		calls := 0
		err := retry(t.Context(), tc.max, func() error {
			calls++
			if calls <= len(tc.errs) {
				return tc.errs[calls-1]
			}
			return nil
		})
		if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: %d calls, err %v; want %d calls, err %v", tc.name, calls, err, tc.wantCalls, tc.wantErr)
		}
	}

	// A context that ends during the backoff stops the retries.
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := retry(ctx, 100, func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return serialization
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Fatalf("retry with a canceled context: %d calls, err %v; want 2 calls, context.Canceled", calls, err)
	}
}

// TestPresenceConnectionDrop: the server ends the session holding an
// agent's presence (what a kill -9 of its process does): peers see it
// absent at once, Renew takes it again on a new connection, and another
// schema of the same database never sees it.
func TestPresenceConnectionDrop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, other := openTest(t, Options{}), openTest(t, Options{})
	h, err := s.HoldPresence(ctx, "agent-a")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	present := func(st *Store) bool {
		t.Helper()
		got, err := st.PresentAgents(ctx, []string{"agent-a"})
		if err != nil {
			t.Fatal(err)
		}
		return got["agent-a"]
	}
	if !present(s) || present(other) {
		t.Fatalf("held on one schema: present there %v, on another schema %v; want true, false", present(s), present(other))
	}
	var pid int32
	if err := h.(*presenceHold).conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := other.db.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	awaitCond(t, func() bool { return !present(s) })
	if held, err := h.Renew(ctx); err != nil || !held {
		t.Fatalf("Renew after the session ended = %v, %v; want held again", held, err)
	}
	if !present(s) {
		t.Fatal("not present after Renew")
	}
}

// awaitCond polls cond for up to 5 s (the terminated backend's locks
// go when the server has finished ending it).
func awaitCond(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkCommitFlush: a 6-partition flush commit against the floor of
// any durable commit, a one-row INSERT in its own transaction (one round
// trip and one WAL flush), on the same pool (see
// metastoretest.BenchCommitFlush).
func BenchmarkCommitFlush(b *testing.B) {
	s, err := Open(b.Context(), pgtest.URL(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.db.pool.Exec(b.Context(), "CREATE TABLE bench_trip (n int)"); err != nil {
		b.Fatal(err)
	}
	metastoretest.BenchCommitFlush(b, s, func(ctx context.Context) error {
		_, err := s.db.pool.Exec(ctx, "INSERT INTO bench_trip VALUES (1)")
		return err
	})
}
