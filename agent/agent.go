package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/agent/kafka"
	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/compaction"
	"github.com/stratalog/strata/flush"
	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/internal/redact"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/ownership"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/tiering"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/txn"
)

// janitorKey places the cluster-wide lifecycle jobs (garbage collection,
// the orphan sweep) on one live agent by rendezvous hashing.
const janitorKey = "strata:lifecycle-janitor"

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = kafka.ErrServerClosed

// Agent is one running agent: the composition root that wires the
// partition log, the flusher, ownership, the group coordinator and the
// Kafka listener together. Create it with New, run it with Serve, stop it
// with Shutdown (graceful: flushes everything first) or Close.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	meta    metastore.Store
	objs    objstore.Store
	objm    *objstore.Metrics
	cache   *tiering.Cache
	cachem  *tiering.CacheMetrics
	reader  *tiering.Reader
	wal     *wal.Log
	dirLock *dataDirLock

	reg     *partlog.Registry
	flusher *flush.Flusher
	own     *ownership.Manager

	agentID   string
	nodeID    int32
	clusterID string
	advHost   string
	advPort   int32

	groups *group.Coordinator
	txns   *txn.Coordinator
	// markers writes pending transaction markers; loopCtx/loopStop/loops
	// run it and the transaction timeouts.
	markers  *txn.MarkerWriter
	loopCtx  context.Context
	loopStop context.CancelFunc
	loops    sync.WaitGroup
	srv      *kafka.Server
	life     *compaction.Service // nil when NoCompaction

	specs   []listenerSpec // --listeners, advertised addresses filled in
	lns     []net.Listener // bound, one per spec
	adminLn net.Listener
	admin   *http.Server

	closing   atomic.Bool
	readyOnce atomic.Bool
	closeOnce sync.Once
	ownMeta   bool // close the metastore on Close
}

// Deps lets callers (tests, benchmarks) supply backends instead of URLs.
type Deps struct {
	// Meta, if set, is used instead of Config.MetastoreURL; the agent does
	// not close it.
	Meta metastore.Store
	// Objects, if set, is used instead of Config.ObjstoreURL.
	Objects objstore.Store
}

// New opens the agent's backends and write-ahead buffer, binds its
// listeners, registers it, recovers buffered data, and starts its
// background loops. Call Serve to accept clients.
func New(ctx context.Context, cfg Config, deps Deps) (*Agent, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger}
	ok := false
	defer func() {
		if !ok {
			a.closeResources()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: data dir: %w", err)
	}
	var err error
	if a.dirLock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	a.meta = deps.Meta
	if a.meta == nil {
		m, err := OpenMetastore(ctx, cfg.MetastoreURL)
		if err != nil {
			return nil, err
		}
		a.meta, a.ownMeta = m, true
	}
	objs := deps.Objects
	if objs == nil {
		o, err := OpenObjectStore(ctx, cfg.ObjstoreURL)
		if err != nil {
			return nil, err
		}
		objs = o
	}
	a.objm = objstore.NewMetrics(cfg.Registerer)
	a.objs = objstore.Metered(objs, a.objm)
	a.cachem = tiering.NewCacheMetrics(cfg.Registerer)
	cache, err := tiering.NewCache(filepath.Join(cfg.DataDir, "cache"), cfg.CacheBytes, a.cachem)
	if err != nil {
		return nil, fmt.Errorf("agent: read cache: %w", err)
	}
	a.cache = cache
	if a.reader, err = tiering.NewReaderConfig(a.objs, cache, cfg.Read); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}

	if a.agentID, err = loadAgentID(cfg.DataDir, cfg.AgentID); err != nil {
		return nil, err
	}
	if a.clusterID, err = a.meta.ClusterID(ctx); err != nil {
		return nil, fmt.Errorf("agent: metastore %s: %w", redact.URL(cfg.MetastoreURL), err)
	}
	if err := probeObjectStore(ctx, a.objs, a.agentID); err != nil {
		return nil, fmt.Errorf("agent: object store %s: %w", redact.URL(cfg.ObjstoreURL), err)
	}
	if err := a.bindListeners(); err != nil {
		return nil, err
	}
	adv := a.specs[0].advertise
	host, portStr, _ := net.SplitHostPort(adv)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("agent: advertise port %q: %w", portStr, err)
	}
	a.advHost, a.advPort = host, int32(port)
	if a.wal, err = wal.Open(wal.Options{Dir: filepath.Join(cfg.DataDir, "wal"), Logger: a.log}); err != nil {
		return nil, fmt.Errorf("agent: write-ahead buffer: %w", err)
	}
	a.reg = partlog.NewRegistry(partlog.Config{BufferBytes: cfg.BufferBytes, FlushBytes: cfg.FlushBytes, TailBytes: cfg.TailBytes},
		partlog.Deps{AgentID: a.agentID, Meta: a.meta, WAL: a.wal, Reader: a.reader, Logger: a.log, Registerer: cfg.Registerer})
	if a.flusher, err = flush.New(flush.Config{AgentID: a.agentID, FlushInterval: cfg.FlushInterval,
		FlushMinInterval: cfg.FlushMinInterval, FlushBytes: cfg.FlushBytes},
		flush.Deps{Registry: a.reg, Meta: a.meta, Objects: a.objs, Logger: a.log, Registerer: cfg.Registerer}); err != nil {
		return nil, err
	}
	if a.own, err = ownership.New(ownership.Config{AgentID: a.agentID, Host: a.advHost, Port: a.advPort, Rack: cfg.Rack,
		LeaseTTL: cfg.LeaseTTL, PresenceInterval: cfg.PresenceInterval, Logger: a.log, Registerer: cfg.Registerer, AfterPass: func() { a.groups.EvictMoved(); a.markers.Kick() }}, a.meta, a.reg); err != nil {
		return nil, err
	}
	if a.groups, err = group.New(group.Config{
		Store:             a.meta,
		Coordinates:       a.own.Coordinates,
		MinSessionTimeout: cfg.GroupMinSessionTimeout,
		MaxSessionTimeout: cfg.GroupMaxSessionTimeout,
		ConsumerTopics:    kafka.ConsumerTopics,
		Logger:            a.log,
		Registerer:        cfg.Registerer,
	}); err != nil {
		return nil, err
	}
	a.markers = txn.NewMarkerWriter(a.agentID, a.meta, a.reg, 0, a.log)
	a.txns = txn.New(txn.Config{Store: a.meta, MaxTimeout: cfg.TxnMaxTimeout, Logger: a.log, Kick: a.markers.Kick,
		Resolve: a.reg.Resolve})
	if a.nodeID, err = a.own.Register(ctx); err != nil {
		return nil, err
	}
	if err := a.meta.SetAgentListeners(ctx, a.agentID, a.advertised()); err != nil {
		return nil, fmt.Errorf("agent: register listeners: %w", err)
	}
	klisteners, authn, err := a.kafkaListeners()
	if err != nil {
		return nil, err
	}
	superUsers, _ := parseSuperUsers(cfg.SuperUsers) // checked by Validate
	topics, err := a.meta.Topics(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent: load topics: %w", err)
	}
	for _, t := range topics {
		if _, err := a.reg.AddTopic(ctx, t); err != nil {
			return nil, err
		}
	}
	if err := a.reg.RecoverWAL(ctx); err != nil {
		return nil, err
	}
	if err := a.own.Pass(ctx); err != nil {
		return nil, fmt.Errorf("agent: initial ownership pass: %w", err)
	}
	a.srv = kafka.New(kafka.Config{
		AgentID: a.agentID, NodeID: a.nodeID, ClusterID: a.clusterID, Host: a.advHost, Port: a.advPort, Rack: cfg.Rack,
		DataDir: cfg.DataDir, MaxRequestBytes: cfg.MaxRequestBytes, AutoCreateTopics: cfg.AutoCreateTopics,
		DefaultPartitions: cfg.DefaultPartitions, DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		FlushBytes: cfg.FlushBytes, FlushInterval: cfg.FlushInterval, CacheBytes: cfg.CacheBytes,
		RetentionMs: cfg.Compaction.RetentionMs, RetentionBytes: cfg.Compaction.RetentionBytes,
		TransactionVersion: cfg.TxnVersion, Logger: a.log, Registerer: cfg.Registerer,
		Listeners: klisteners, Auth: authn, AuthLimiter: a.authLimiter(), ReauthMs: cfg.ConnectionsMaxReauth.Milliseconds(),
		SuperUsers: superUsers, OnAuthenticated: cfg.OnAuthenticated,
	}, kafka.Deps{Meta: a.meta, Registry: a.reg, Ownership: a.own, Groups: a.groups, Txns: a.txns})
	if cfg.AdminListen != "off" {
		if err := a.startAdmin(); err != nil {
			return nil, err
		}
	}
	if !cfg.NoCompaction {
		cc := cfg.Compaction
		cc.Holder = a.agentID
		cc.Owns = func(ref metastore.PartitionRef) bool {
			return a.reg.Partition(ref.TopicID, ref.Partition).Status().Serving
		}
		// Garbage collection and the orphan sweep are cluster-wide: one
		// agent runs them, placed like a group coordinator.
		cc.Janitor = func() bool { return a.own.Coordinates(janitorKey) }
		// Produce first: while more than an eighth of the upload buffer
		// waits, or the processors are busy (cpuload.go), only overdue
		// compaction runs.
		load := newCPULoad()
		cc.Busy = func() bool { return a.reg.Buffered() > cfg.BufferBytes/8 || load.Busy() }
		cc.OnLogStart = func(ref metastore.PartitionRef, start int64) {
			if p := a.reg.Partition(ref.TopicID, ref.Partition); p != nil {
				p.RaiseLogStart(start)
			}
		}
		if a.life, err = compaction.New(cc, a.meta, a.objs, compaction.NewMetrics(cfg.Registerer), a.log); err != nil {
			return nil, err
		}
	}
	a.flusher.Start()
	a.own.Start()
	a.loopCtx, a.loopStop = context.WithCancel(context.Background())
	a.markers.Start(a.loopCtx)
	a.loops.Add(1)
	go a.txnTicks()
	if a.life != nil {
		a.life.Start()
	}
	ok = true
	a.cfg.warnOpen(a.specs, a.lns)
	a.log.Info("agent started", "agent_id", a.agentID, "node_id", a.nodeID, "listeners", a.listenerSummary(), "metastore", redact.URL(cfg.MetastoreURL), "objstore", redact.URL(cfg.ObjstoreURL))
	return a, nil
}

// Addr is the first Kafka listener's address.
func (a *Agent) Addr() string { return a.lns[0].Addr().String() }

// ListenerAddr is the bound address of the listener called name ("" if
// there is none).
func (a *Agent) ListenerAddr(name string) string {
	for i, s := range a.specs {
		if s.name == name {
			return a.lns[i].Addr().String()
		}
	}
	return ""
}

// AdminAddr is the admin HTTP listener's address ("" when off).
func (a *Agent) AdminAddr() string {
	if a.adminLn == nil {
		return ""
	}
	return a.adminLn.Addr().String()
}

// NodeID is the Kafka broker id of this agent.
func (a *Agent) NodeID() int32 { return a.nodeID }

// ObjectMetrics exposes the object-store counters (tests, benchmarks).
func (a *Agent) ObjectMetrics() *objstore.Metrics { return a.objm }

// CacheMetrics exposes the read-cache counters (tests, benchmarks).
func (a *Agent) CacheMetrics() *tiering.CacheMetrics { return a.cachem }

// defaultAdvertise is the listener's address, except that an unspecified
// host (0.0.0.0, ::), which no client can dial, becomes the machine's
// hostname, as Kafka does.
func defaultAdvertise(addr *net.TCPAddr) string {
	port := strconv.Itoa(addr.Port)
	if addr.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			return net.JoinHostPort(h, port)
		}
	}
	return net.JoinHostPort(addr.IP.String(), port)
}

func loadAgentID(dataDir, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	path := filepath.Join(dataDir, "agent-id")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("agent: read agent id: %w", err)
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	id := "agent-" + hex.EncodeToString(r[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("agent: write agent id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("agent: write agent id: %w", err)
	}
	return id, nil
}

// Serve accepts Kafka connections on every listener until Shutdown or
// Close, and returns the first listener's error.
func (a *Agent) Serve() error {
	a.readyOnce.Store(true)
	errs := make(chan error, len(a.lns))
	for i, ln := range a.lns {
		go func() { errs <- a.srv.ServeListener(ln, a.specs[i].name) }()
	}
	err := <-errs
	if !errors.Is(err, kafka.ErrServerClosed) {
		a.srv.Close() // one listener failed: stop the rest too
	}
	return err
}

// Shutdown stops accepting connections, closes client connections, flushes
// everything buffered to object storage and the metastore, then releases
// resources. If ctx ends first, the rest is left in the write-ahead buffer
// for the next start.
func (a *Agent) Shutdown(ctx context.Context) error {
	return a.stop(ctx, true)
}

// Close stops the agent at once. Buffered data stays in the write-ahead
// buffer and is recovered by the next start.
func (a *Agent) Close() error {
	return a.stop(context.Background(), false)
}

func (a *Agent) stop(ctx context.Context, graceful bool) error {
	var err error
	a.closeOnce.Do(func() {
		a.closing.Store(true)
		a.srv.Close()
		a.groups.Close()
		a.loopStop()
		a.loops.Wait()
		a.markers.Stop()
		if a.life != nil {
			a.life.Stop()
		}
		if graceful {
			// Hand partitions over only when nothing buffered is left:
			// otherwise this agent must recover it at its next start.
			if err = a.flusher.FlushAll(ctx); err == nil {
				a.own.ReleaseAll(ctx)
			}
		}
		a.own.Stop()
		a.flusher.Stop()
		a.closeResources()
	})
	return err
}

func (a *Agent) closeResources() {
	if a.admin != nil {
		a.admin.Close()
	}
	for _, ln := range a.lns {
		ln.Close()
	}
	if a.reader != nil {
		a.reader.Close()
	}
	if a.wal != nil {
		a.wal.Close()
	}
	if a.ownMeta && a.meta != nil {
		a.meta.Close()
	}
	if a.dirLock != nil {
		a.dirLock.release()
	}
}

// txnTicks aborts expired transactions this agent coordinates and
// completes those whose markers are written, once a second.
func (a *Agent) txnTicks() {
	defer a.loops.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	coordinates := func(id string) bool { return a.own.Coordinates(kafka.TxnKey(id)) }
	for {
		select {
		case <-a.loopCtx.Done():
			return
		case <-t.C:
		}
		if err := a.txns.Tick(a.loopCtx, coordinates); err != nil && a.loopCtx.Err() == nil {
			a.log.Warn("transaction timeouts", "err", err)
		}
	}
}
