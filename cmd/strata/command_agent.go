package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/stratalog/strata/agent"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/tiering"
	objopen "github.com/stratalog/strata/tiering/objstore/open"
)

func newAgentCommand() *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a Strata agent (a Kafka-protocol broker)",
		Long: `Run a Strata agent. With no configuration it uses embedded defaults:
a SQLite metastore in ./strata-data/meta.db, objects in ./strata-data/objects,
the write-ahead buffer in ./strata-data/wal, Kafka on 127.0.0.1:9092.

Every flag can also be set as STRATA_<FLAG> (dashes become underscores)
or in a YAML file given with --config.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, from, err := agentConfig(v, cmd.Flags())
			if err != nil {
				return usageError{err}
			}
			return runAgent(cmd.Context(), cfg, from)
		},
	}
	f := cmd.Flags()
	f.String("config", "", "YAML config file (keys are the flag names)")
	f.String("data-dir", "strata-data", "directory for the write-ahead buffer, cache and embedded defaults")
	f.String("listen", "127.0.0.1:9092", "Kafka listener address")
	f.String("advertise", "", "host:port advertised to clients (default: the listener's address)")
	f.String("admin-listen", "127.0.0.1:9644", "admin HTTP address for /metrics, /healthz, /readyz; \"off\" disables")
	f.String("metastore", "", "metastore URL: sqlite://PATH or postgres://USER@HOST:PORT/DB (default sqlite://<data-dir>/meta.db)")
	f.String("objstore", "", "object store URL: file://DIR or s3://BUCKET/PREFIX?endpoint=...&region=...&path_style=true (default file://<data-dir>/objects)")
	f.Duration("flush-interval", 100*time.Millisecond, "longest buffered data waits for an upload while one is in flight (none in flight: at once)")
	f.Duration("flush-min-interval", 0, "floor between two uploads of objects smaller than --flush-bytes (a trickle costs at most one PUT per interval)")
	f.String("flush-bytes", "8MiB", "object size target: with no upload in flight upload at this size at the latest, beside another at twice it")
	f.String("cache-bytes", "1GiB", "local disk cache budget for historical reads")
	f.String("tail-bytes", "64MiB", "memory budget for recently flushed data served to tail consumers")
	f.String("buffer-bytes", "256MiB", "data accepted but not yet uploaded before produce answers a retriable error")
	f.String("max-request-bytes", "100MiB", "largest request frame accepted (socket.request.max.bytes)")
	f.Bool("auto-create-topics", false, "let Metadata requests create missing topics")
	f.Int32("default-partitions", 1, "partitions of auto-created topics and of CreateTopics with -1")
	f.String("agent-id", "", "agent ID in the metastore (default: generated once, kept in <data-dir>/agent-id)")
	f.String("rack", "", "rack reported to clients")
	f.Duration("lease-ttl", 3*time.Second, "agent registration lease")
	f.Duration("presence-interval", 50*time.Millisecond, "how often other agents' presence in the metastore is checked, so a dead process's partitions move before its lease expires (0: off)")
	f.Int16("transaction-version", 2, "transaction.version feature offered to clients: 2 (KIP-890 part 2: epoch bumped at every commit, partitions added by produce) or 1")
	f.Int64("transaction-max-timeout-ms", 900000, "largest transaction.timeout.ms a transactional producer may ask for (Kafka's transaction.max.timeout.ms)")
	f.String("read-block-bytes", "16MiB", "compacted segments are read in blocks of about this size, one range GET each")
	f.Int("read-ahead", 4, "most blocks a sequential reader keeps in flight ahead, within its share of --read-ahead-bytes (-1: none)")
	f.String("read-ahead-bytes", "256MiB", "memory for read-ahead and recently read blocks, shared equally by the partitions being read sequentially")
	f.Bool("compaction", true, "run compaction, retention and garbage collection for the partitions this agent owns")
	addSecurityFlags(f)
	addLifecycleFlags(f)
	f.String("log-level", "info", "debug, info, warn or error")
	f.String("log-format", "text", "text or json")
	return cmd
}

// agentConfig merges flags, STRATA_* environment and the YAML file (in that
// order of precedence) into an agent.Config. An error names where the bad
// value came from (see origins).
func agentConfig(v *viper.Viper, flags *pflag.FlagSet) (agent.Config, origins, error) {
	var cfg agent.Config
	st, err := loadSettings(v, flags)
	from := st.from
	if err != nil {
		return cfg, from, err
	}
	size, dur, boolean := st.size, st.dur, st.boolean
	cfg = agent.Config{
		DataDir:           v.GetString("data-dir"),
		Listen:            v.GetString("listen"),
		Advertise:         v.GetString("advertise"),
		AdminListen:       v.GetString("admin-listen"),
		MetastoreURL:      v.GetString("metastore"),
		ObjstoreURL:       v.GetString("objstore"),
		FlushInterval:     dur("flush-interval"),
		FlushMinInterval:  dur("flush-min-interval"),
		FlushBytes:        size("flush-bytes"),
		CacheBytes:        size("cache-bytes"),
		TailBytes:         size("tail-bytes"),
		BufferBytes:       size("buffer-bytes"),
		AutoCreateTopics:  boolean("auto-create-topics"),
		DefaultPartitions: int32(st.integer("default-partitions", 32)),
		AgentID:           v.GetString("agent-id"),
		Rack:              v.GetString("rack"),
		LeaseTTL:          dur("lease-ttl"),
		PresenceInterval:  presenceInterval(dur("presence-interval")),
		TxnMaxTimeout:     time.Duration(st.integer("transaction-max-timeout-ms", 63)) * time.Millisecond,
		TxnVersion:        int16(st.integer("transaction-version", 16)),
		Compaction:        lifecycleConfig(st),
		Read: tiering.ReaderConfig{
			BlockBytes:     size("read-block-bytes"),
			ReadAhead:      int(st.integer("read-ahead", 32)),
			ReadAheadBytes: size("read-ahead-bytes"),
		},
		NoCompaction: !boolean("compaction"),
	}
	securityConfig(st, from, &cfg)
	mrb := size("max-request-bytes")
	if mrb > 1<<30 {
		st.bad("max-request-bytes", fmt.Errorf("%d is above 1GiB", mrb))
	}
	cfg.MaxRequestBytes = int32(min(mrb, 1<<30))
	st.checkBackendURLs(false)
	errs := st.errs
	logger, err := newLogger(from, v.GetString("log-level"), v.GetString("log-format"))
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Logger = logger
	if err := errors.Join(errs...); err != nil {
		return cfg, from, err
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, from, from.relabel(err)
	}
	return cfg, from, nil
}

// origins names where a setting's value came from, for error messages:
// its flag ("--flush-interval"), its environment variable
// ("STRATA_FLUSH_INTERVAL") or the config file and key ("config file
// strata.yaml: flush-interval"). It follows viper's precedence: a flag
// given on the command line, then a non-empty variable, then the file; a
// default is named by its flag.
type origins struct {
	v     *viper.Viper
	flags *pflag.FlagSet
	file  string // the --config path; "" without one
}

func (o origins) of(key string) string {
	if f := o.flags.Lookup(key); f != nil && f.Changed {
		return "--" + key
	}
	if env := envVar(key); os.Getenv(env) != "" { // viper ignores empty variables too
		return env
	}
	if o.file != "" && o.v.InConfig(key) {
		return "config file " + o.file + ": " + key
	}
	return "--" + key
}

// envVar is the STRATA_* variable viper reads for a flag.
func envVar(key string) string {
	return "STRATA_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// relabel puts the origin of the setting in place of its name at the start
// of each line of an agent.Config.Validate error ("flush-interval 0s: must
// be at least 1ms" from the environment becomes "STRATA_FLUSH_INTERVAL 0s:
// must be at least 1ms").
func (o origins) relabel(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if key, rest, ok := strings.Cut(l, " "); ok && key != "config" && o.flags.Lookup(key) != nil {
			lines[i] = o.of(key) + " " + rest
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// badURL names the origin of the URL an agent.ErrBadURL error is about.
func (o origins) badURL(err error) error {
	switch {
	case errors.Is(err, metaopen.ErrBadURL):
		return fmt.Errorf("%s: %w", o.of("metastore"), err)
	case errors.Is(err, objopen.ErrBadURL):
		return fmt.Errorf("%s: %w", o.of("objstore"), err)
	}
	return err
}

func newLogger(from origins, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%s %q: want debug, info, warn or error", from.of("log-level"), level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("%s %q: want text or json", from.of("log-format"), format)
	}
}

// runAgent runs the agent until SIGINT or SIGTERM; from names the origins
// of settings for a bad backend URL.
func runAgent(ctx context.Context, cfg agent.Config, from origins) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(ctx, cfg, agent.Deps{})
	if err != nil {
		if isConfigError(err) {
			return usageError{from.badURL(err)} // a data dir in use stays as it is
		}
		return err
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve() }()
	select {
	case err := <-served:
		a.Close()
		return err
	case <-ctx.Done():
	}
	cfg.Logger.Info("shutting down: flushing buffered data")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w (unflushed data stays in the write-ahead buffer)", err)
	}
	cfg.Logger.Info("stopped")
	return nil
}

// isConfigError reports errors caused by the configuration (a bad URL, a
// data dir another agent holds) rather than a failing backend: exit 2.
func isConfigError(err error) bool {
	return errors.Is(err, agent.ErrBadURL) || errors.Is(err, agent.ErrDataDirInUse)
}

// presenceInterval maps the flag's 0 (off) to the Config's negative.
func presenceInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
