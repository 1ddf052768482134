package agent

// Thin helpers for the one test file still in package agent,
// bucket_test.go (being edited elsewhere). Every other test is in package
// agent_test and uses internal/testkit, which tests in package agent
// cannot import: testkit imports agent. When bucket_test.go moves to
// agent_test, this file goes.

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testAgent starts an agent on 127.0.0.1:0 with a fresh data dir, after
// mod (which picks the backends) has changed its config.
func testAgent(t *testing.T, mod func(*Config)) *Agent {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
		FlushInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Close() })
	return a
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(newClient(t, a)).CreateTopic(ctx, partitions, -1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}
