package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/stratalog/strata/compaction"
	"github.com/stratalog/strata/internal/redact"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/tiering/objstore"
	objopen "github.com/stratalog/strata/tiering/objstore/open"
)

// addLifecycleFlags adds the storage lifecycle's settings, shared by
// `strata agent` and `strata compactor`.
func addLifecycleFlags(f *pflag.FlagSet) {
	f.Int64("log-retention-ms", 7*24*3600*1000, "retention.ms of topics that do not set it (-1: keep forever)")
	f.String("log-retention-bytes", "-1", "retention.bytes of topics that do not set it, per partition (-1: no limit)")
	f.Duration("log-retention-check-interval", 30*time.Second, "how often retention is enforced")
	f.String("compaction-segment-bytes", "64MiB", "size compacted per-partition segments are cut at")
	f.String("compaction-chunk-bytes", "1MiB", "sparse index interval inside a segment (bytes of batches per footer entry)")
	f.String("compaction-dedupe-bytes", "64MiB", "memory bound of the key cleaner's offset map for compacted topics (16 bytes a key: about 3.7 million keys in 64 MiB; more distinct dirty keys take several passes)")
	f.Duration("compaction-max-lag", 2*time.Minute, "flush data older than this is compacted however little there is")
	f.Duration("compaction-interval", 15*time.Second, "how often compaction looks for work")
	f.Int("compaction-max-jobs", 2, "concurrent compaction jobs")
	f.String("compaction-max-bytes-in-flight", "256MiB", "input bytes of running compaction jobs")
	f.Float64("compaction-max-requests-per-second", 200, "object-store requests per second of the lifecycle jobs (negative: unlimited)")
	f.Duration("gc-grace", 20*time.Second, "how long a dead object stays before it is deleted")
	f.Duration("gc-interval", 5*time.Second, "how often dead objects are collected")
	f.Duration("orphan-age", time.Hour, "age after which an object the metastore does not know is deleted")
	f.Duration("orphan-sweep-interval", 10*time.Minute, "how often the bucket is listed for orphans")
	f.String("compaction-crash-at", "", "fault injection for crash tests: SIGKILL this process at a step")
	_ = f.MarkHidden("compaction-crash-at")
}

// lifecycleConfig reads the flags addLifecycleFlags added.
func lifecycleConfig(st *settings) compaction.Config {
	retBytes := int64(-1)
	if s := strings.TrimSpace(st.str("log-retention-bytes")); s != "-1" {
		retBytes = st.size("log-retention-bytes")
	}
	return compaction.Config{
		RetentionMs:            st.integer("log-retention-ms", 64),
		RetentionBytes:         retBytes,
		RetentionCheckInterval: st.dur("log-retention-check-interval"),
		TargetSegmentBytes:     st.size("compaction-segment-bytes"),
		ChunkBytes:             st.size("compaction-chunk-bytes"),
		DedupeBytes:            st.size("compaction-dedupe-bytes"),
		MaxLag:                 st.dur("compaction-max-lag"),
		Interval:               st.dur("compaction-interval"),
		MaxJobs:                int(st.integer("compaction-max-jobs", 32)),
		MaxBytesInFlight:       st.size("compaction-max-bytes-in-flight"),
		MaxRequestsPerSecond:   st.float("compaction-max-requests-per-second"),
		GCGrace:                st.dur("gc-grace"),
		GCInterval:             st.dur("gc-interval"),
		OrphanAge:              st.dur("orphan-age"),
		SweepInterval:          st.dur("orphan-sweep-interval"),
		CrashAt:                st.str("compaction-crash-at"),
	}
}

func newCompactorCommand() *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "compactor --metastore URL --objstore URL",
		Short: "Run the storage lifecycle (compaction, retention, garbage collection) outside the agents",
		Long: `Run compaction, retention and garbage collection against a metastore and
bucket, for every partition, beside or instead of the agents (which run
the same jobs for the partitions they own unless --compaction=false).
Several compactors and agents may run at once: partition leases and fenced
index switches keep them from colliding. With --once it runs each job once
and exits.

Every flag can also be set as STRATA_<FLAG> or in a YAML file (--config).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := compactorConfig(v, cmd.Flags())
			if err != nil {
				return usageError{err}
			}
			return runCompactor(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.String("config", "", "YAML config file (keys are the flag names)")
	f.String("metastore", "", "metastore URL: sqlite://PATH or postgres://... (required)")
	f.String("objstore", "", "object store URL: file://DIR or s3://BUCKET/PREFIX?... (required)")
	f.String("admin-listen", "127.0.0.1:9645", "admin HTTP address for /metrics, /healthz, /readyz; \"off\" disables")
	f.String("holder", "", "name in partition leases (default compactor-<hostname>-<pid>)")
	f.Bool("once", false, "run compaction, retention, garbage collection and the orphan sweep once, then exit")
	f.Bool("gc", true, "collect dead objects and sweep orphans")
	addLifecycleFlags(f)
	f.String("log-level", "info", "debug, info, warn or error")
	f.String("log-format", "text", "text or json")
	return cmd
}

type compactorSettings struct {
	metastore, objstore, admin string
	once                       bool
	life                       compaction.Config
	log                        *slog.Logger
	from                       origins
}

func compactorConfig(v *viper.Viper, flags *pflag.FlagSet) (compactorSettings, error) {
	st, err := loadSettings(v, flags)
	if err != nil {
		return compactorSettings{}, err
	}
	c := compactorSettings{
		metastore: st.str("metastore"), objstore: st.str("objstore"), admin: st.str("admin-listen"),
		once: st.boolean("once"), life: lifecycleConfig(st), from: st.from,
	}
	c.life.NoGC = !st.boolean("gc")
	c.life.Holder = st.str("holder")
	if c.life.Holder == "" {
		host, _ := os.Hostname()
		c.life.Holder = fmt.Sprintf("compactor-%s-%d", host, os.Getpid())
	}
	st.checkBackendURLs(true)
	if c.admin != "off" {
		if _, _, err := net.SplitHostPort(c.admin); err != nil {
			st.bad("admin-listen", err)
		}
	}
	logger, err := newLogger(st.from, st.str("log-level"), st.str("log-format"))
	if err != nil {
		st.errs = append(st.errs, err)
	}
	c.log = logger
	if err := st.err(); err != nil {
		return c, err
	}
	c.life.EnsureDefaults()
	if err := c.life.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// compactorGCPercent is `strata compactor`'s GOGC unless the
// environment sets one.
const compactorGCPercent = 50

func runCompactor(ctx context.Context, c compactorSettings) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The compactor's heap is mostly large buffers (segments being read
	// and built, the cleaner's offset map) that are cheap to mark: half
	// the default headroom keeps its RSS near 1.5 times what its jobs
	// hold, for little CPU. GOGC, if set, decides instead.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(compactorGCPercent)
	}
	meta, err := metaopen.Metastore(ctx, c.metastore)
	if err != nil {
		if errors.Is(err, metaopen.ErrBadURL) {
			return usageError{c.from.badURL(err)}
		}
		return fmt.Errorf("metastore %s: %w", redact.URL(c.metastore), err)
	}
	defer meta.Close()
	objs, err := objopen.ObjectStore(ctx, c.objstore)
	if err != nil {
		if errors.Is(err, objopen.ErrBadURL) {
			return usageError{c.from.badURL(err)}
		}
		return fmt.Errorf("object store %s: %w", redact.URL(c.objstore), err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	objs = objstore.Metered(objs, objstore.NewMetrics(reg))
	svc, err := compaction.New(c.life, meta, objs, compaction.NewMetrics(reg), c.log)
	if err != nil {
		return usageError{err}
	}
	if c.admin != "off" {
		ln, err := net.Listen("tcp", c.admin)
		if err != nil {
			return fmt.Errorf("admin listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ok := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }
		mux.HandleFunc("/healthz", ok)
		mux.HandleFunc("/readyz", ok)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		c.log.Info("admin listening", "addr", ln.Addr().String())
	}
	c.log.Info("compactor started", "holder", c.life.Holder, "metastore", redact.URL(c.metastore), "objstore", redact.URL(c.objstore))
	if c.once {
		return svc.RunOnce(ctx)
	}
	svc.Start()
	<-ctx.Done()
	svc.Stop()
	c.log.Info("stopped")
	return nil
}
