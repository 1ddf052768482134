package agent

import (
	"context"
	"github.com/stratalog/strata/metastore"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/metastore/postgres/pgtest"
	"github.com/stratalog/strata/tiering/objstore/s3/s3test"
)

// testAgent starts an agent on 127.0.0.1:0 with a fresh data dir.
func testAgent(t *testing.T, mod func(*Config)) *Agent {
	t.Helper()
	cfg := Config{
		DataDir:       t.TempDir(),
		Listen:        "127.0.0.1:0",
		AdminListen:   "127.0.0.1:0",
		FlushInterval: 20 * time.Millisecond,
		Logger:        testLogger(),
	}
	useTestBackends(t, &cfg)
	if mod != nil {
		mod(&cfg)
	}
	return startAgent(t, cfg)
}

// useTestBackends points cfg at a fresh Postgres schema and S3 prefix when
// STRATA_TEST_BACKEND=remote, so the end-to-end suite runs a second time on
// the production backends (scripts/test.sh does both runs).
func useTestBackends(t *testing.T, cfg *Config) {
	t.Helper()
	switch b := os.Getenv("STRATA_TEST_BACKEND"); b {
	case "", "embedded":
	case "remote":
		cfg.MetastoreURL = pgtest.URL(t)
		cfg.ObjstoreURL = s3test.URL(t)
	default:
		t.Fatalf("STRATA_TEST_BACKEND=%q: want embedded or remote", b)
	}
}

func startAgent(t *testing.T, cfg Config) *Agent {
	t.Helper()
	a, err := New(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Close() })
	return a
}

func testLogger() *slog.Logger {
	if os.Getenv("STRATA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newClient(t *testing.T, a *Agent, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(a.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, a *Agent, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, a))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// consumeAll reads n records from the start of the topic's partitions.
func consumeAll(t *testing.T, a *Agent, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, a, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// testAgentWithMeta is testAgent with the metastore opened here and
// wrapped (fault injection) before the agent gets it.
func testAgentWithMeta(t *testing.T, mod func(*Config), wrap func(metastore.Store) metastore.Store) *Agent {
	t.Helper()
	cfg := Config{
		DataDir:       t.TempDir(),
		Listen:        "127.0.0.1:0",
		AdminListen:   "127.0.0.1:0",
		FlushInterval: 20 * time.Millisecond,
		Logger:        testLogger(),
	}
	useTestBackends(t, &cfg)
	if mod != nil {
		mod(&cfg)
	}
	cfg.EnsureDefaults()
	meta, err := OpenMetastore(context.Background(), cfg.MetastoreURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	a, err := New(context.Background(), cfg, Deps{Meta: wrap(meta)})
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Close() })
	return a
}
