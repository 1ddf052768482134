package testkit

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/metastore"
)

// Logger discards everything unless STRATA_TEST_LOG is set, in which case
// it logs at debug level to stderr.
func Logger() *slog.Logger {
	if os.Getenv("STRATA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Option changes how StartAgent builds an agent.
type Option func(*startOptions)

type startOptions struct {
	deps agent.Deps
	wrap func(metastore.Store) metastore.Store
}

// WithDeps hands the agent ready-made dependencies (an in-memory object
// store with injected faults, say) instead of opening them from the
// configured URLs.
func WithDeps(d agent.Deps) Option { return func(o *startOptions) { o.deps = d } }

// WrapMetastore opens the configured metastore (or takes the one given
// with WithDeps) and hands the agent wrap's result, for fault injection
// (see FaultStore). The metastore is closed after the agent.
func WrapMetastore(wrap func(metastore.Store) metastore.Store) Option {
	return func(o *startOptions) { o.wrap = wrap }
}

// StartAgent starts an in-process agent and closes it when the test ends.
// Empty fields of cfg get test defaults first: a fresh temporary data
// dir, Listen and AdminListen on 127.0.0.1:0, and Logger(). The backend
// URLs are left to cfg (see Backends); empty ones mean the agent's own
// defaults in its data dir.
func StartAgent(t testing.TB, cfg agent.Config, opts ...Option) *agent.Agent {
	t.Helper()
	var o startOptions
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.AdminListen == "" {
		cfg.AdminListen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	deps := o.deps
	if o.wrap != nil {
		if deps.Meta == nil {
			cfg.EnsureDefaults()
			meta, err := agent.OpenMetastore(context.Background(), cfg.MetastoreURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { meta.Close() })
			deps.Meta = meta
		}
		deps.Meta = o.wrap(deps.Meta)
	}
	a, err := agent.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Close() })
	return a
}
