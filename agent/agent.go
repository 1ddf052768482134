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

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering"
	"github.com/stratalog/strata/tiering/objstore"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("agent: server closed")

// Agent is one running agent. Create it with New, run it with Serve, stop
// it with Shutdown (graceful: flushes everything first) or Close.
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
	metrics *metrics

	agentID   string
	nodeID    int32
	clusterID string
	advHost   string
	advPort   int32

	ln      net.Listener
	adminLn net.Listener
	admin   *http.Server

	catalogMu sync.RWMutex
	topics    map[string]*topic
	byID      map[metastore.TopicID]*topic

	// buffered counts bytes appended but not yet committed.
	buffered atomic.Int64

	hwmMu sync.Mutex
	hwmCh chan struct{} // closed and replaced whenever a high watermark advances

	flushKick chan struct{}
	flushMu   sync.Mutex // one seal at a time (sealer and Shutdown)
	pipe      chan *flushPlan
	// sealedPlans and committedPlans count plans through the pipeline.
	sealedPlans    atomic.Int64
	committedPlans atomic.Int64
	tailMem        tailBudget

	quit       chan struct{} // closed when shutdown begins
	closing    atomic.Bool
	bgWG       sync.WaitGroup // flusher and heartbeat
	connWG     sync.WaitGroup
	connsMu    sync.Mutex
	conns      map[*conn]struct{}
	groupCoord *groupCoordinator
	// liveAgents are the live agents of the last ownership pass.
	liveAgents atomic.Pointer[[]metastore.Agent]
	readyOnce  atomic.Bool
	closeOnce  sync.Once
	ownMeta    bool // close the metastore on Close
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
	a := &Agent{
		cfg:       cfg,
		log:       cfg.Logger,
		topics:    map[string]*topic{},
		byID:      map[metastore.TopicID]*topic{},
		hwmCh:     make(chan struct{}),
		flushKick: make(chan struct{}, 1),
		pipe:      make(chan *flushPlan, maxUploads-1),
		quit:      make(chan struct{}),
		conns:     map[*conn]struct{}{},
	}
	a.tailMem.budget = cfg.TailBytes
	a.groupCoord = newGroupCoordinator(a)
	a.liveAgents.Store(&[]metastore.Agent{})
	ok := false
	defer func() {
		if !ok {
			a.closeResources()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: data dir: %w", err)
	}
	a.metrics = newMetrics(cfg.Registerer)
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
	a.reader = tiering.NewReader(a.objs, cache)

	if a.agentID, err = loadAgentID(cfg.DataDir, cfg.AgentID); err != nil {
		return nil, err
	}
	if a.clusterID, err = a.meta.ClusterID(ctx); err != nil {
		return nil, fmt.Errorf("agent: cluster id: %w", err)
	}
	if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("agent: listen: %w", err)
	}
	adv := cfg.Advertise
	if adv == "" {
		adv = defaultAdvertise(a.ln.Addr().(*net.TCPAddr))
	}
	host, portStr, _ := net.SplitHostPort(adv)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("agent: advertise port %q: %w", portStr, err)
	}
	a.advHost, a.advPort = host, int32(port)
	if a.nodeID, err = a.register(ctx); err != nil {
		return nil, err
	}
	if err := a.loadCatalog(ctx); err != nil {
		return nil, err
	}
	if a.wal, err = wal.Open(wal.Options{Dir: filepath.Join(cfg.DataDir, "wal"), Logger: a.log}); err != nil {
		return nil, fmt.Errorf("agent: write-ahead buffer: %w", err)
	}
	if err := a.recoverWAL(ctx); err != nil {
		return nil, err
	}
	if err := a.rebalance(ctx); err != nil {
		return nil, fmt.Errorf("agent: initial ownership pass: %w", err)
	}
	if cfg.AdminListen != "off" {
		if err := a.startAdmin(); err != nil {
			return nil, err
		}
	}
	a.bgWG.Add(4)
	go a.flushLoop()
	go a.commitLoop()
	go a.ownershipLoop()
	go a.heartbeatLoop()
	ok = true
	a.log.Info("agent started", "agent_id", a.agentID, "node_id", a.nodeID, "listen", a.ln.Addr().String(),
		"advertise", adv, "metastore", redactURL(cfg.MetastoreURL), "objstore", redactURL(cfg.ObjstoreURL))
	return a, nil
}

// Addr is the Kafka listener's address.
func (a *Agent) Addr() string { return a.ln.Addr().String() }

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

// register registers the agent (renewing its lease) and returns its node
// id, which the metastore keeps stable for an agent ID.
func (a *Agent) register(ctx context.Context) (int32, error) {
	reg, err := a.meta.RegisterAgent(ctx, metastore.Agent{
		ID: a.agentID, Host: a.advHost, Port: a.advPort, Rack: a.cfg.Rack,
		LeaseExpires: time.Now().Add(a.cfg.LeaseTTL),
	})
	if err != nil {
		return 0, fmt.Errorf("agent: register: %w", err)
	}
	return reg.NodeID, nil
}

func (a *Agent) heartbeatLoop() {
	defer a.bgWG.Done()
	t := time.NewTicker(a.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.LeaseTTL)
			if id, err := a.register(ctx); err != nil {
				a.log.Warn("heartbeat failed", "err", err)
			} else if id != a.nodeID {
				a.log.Error("metastore changed this agent's node id", "was", a.nodeID, "now", id)
			}
			cancel()
		}
	}
}

// loadCatalog loads every topic; ownership.go claims partitions after the
// write-ahead buffer is recovered.
func (a *Agent) loadCatalog(ctx context.Context) error {
	ts, err := a.meta.Topics(ctx)
	if err != nil {
		return fmt.Errorf("agent: load topics: %w", err)
	}
	for _, t := range ts {
		if _, err := a.addTopic(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// addTopic builds the in-memory topic from the metastore.
func (a *Agent) addTopic(ctx context.Context, meta metastore.Topic) (*topic, error) {
	parts, err := a.meta.Partitions(ctx, meta.ID)
	if err != nil {
		return nil, fmt.Errorf("agent: load partitions of %s: %w", meta.Name, err)
	}
	t := &topic{meta: meta}
	var ps []*partition
	for _, mp := range parts {
		p, err := a.loadPartition(ctx, t, mp)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	t.state.Store(&topicState{configs: meta.Configs, settings: parseTopicSettings(meta.Configs), parts: ps})
	a.catalogMu.Lock()
	a.topics[meta.Name] = t
	a.byID[meta.ID] = t
	a.catalogMu.Unlock()
	return t, nil
}

// loadPartition loads a partition's state. It is owned here only if the
// metastore says this agent owns it (a restart keeps its epoch, so its
// write-ahead buffer can be recovered); ownership.go claims the rest.
func (a *Agent) loadPartition(ctx context.Context, t *topic, mp metastore.Partition) (*partition, error) {
	name := t.meta.Name
	p := &partition{topic: t, id: t.meta.ID, index: mp.Partition}
	p.hwm.Store(mp.HighWatermark)
	p.logStart.Store(mp.LogStartOffset)
	p.mu.owned = mp.Owner == a.agentID
	p.mu.owner = mp.Owner
	p.mu.epoch = mp.Epoch
	p.mu.nextOffset = mp.HighWatermark
	p.planHWM, p.planEpoch = mp.HighWatermark, mp.Epoch
	p.mu.producers = map[int64]*producerEntry{}
	p.plannedProducers = map[int64]*producerEntry{}
	states, err := a.meta.ProducerStates(ctx, t.meta.ID, mp.Partition)
	if err != nil {
		return nil, fmt.Errorf("agent: producer state of %s/%d: %w", name, mp.Partition, err)
	}
	p.mu.claimProducers = map[int64]*producerEntry{}
	for _, s := range states {
		p.plannedProducers[s.ProducerID] = entryFromState(s)
		p.mu.producers[s.ProducerID] = entryFromState(s)
		p.mu.claimProducers[s.ProducerID] = entryFromState(s)
	}
	a.metrics.highWatermark.WithLabelValues(name, strconv.Itoa(int(mp.Partition))).Set(float64(mp.HighWatermark))
	return p, nil
}

// growTopic adds partitions up to total, in the metastore and here, and
// claims those this agent should own.
func (a *Agent) growTopic(ctx context.Context, t *topic, total int32) error {
	if _, err := a.meta.AddPartitions(ctx, t.meta.Name, total); err != nil {
		return err
	}
	return a.claimTopic(ctx, t)
}

// claimTopic runs the ownership pass for one topic (new or grown), so its
// partitions are served as soon as the request that made them returns.
func (a *Agent) claimTopic(ctx context.Context, t *topic) error {
	agents, err := a.meta.Agents(ctx, time.Now())
	if err != nil {
		return err
	}
	return a.rebalanceTopic(ctx, t, agents)
}

// setTopicConfigs replaces a topic's explicit configs (already validated).
func (a *Agent) setTopicConfigs(ctx context.Context, t *topic, configs map[string]string) error {
	if err := a.meta.SetTopicConfigs(ctx, t.meta.Name, configs); err != nil {
		return err
	}
	a.catalogMu.Lock()
	defer a.catalogMu.Unlock()
	old := t.state.Load()
	t.state.Store(&topicState{configs: configs, settings: parseTopicSettings(configs), parts: old.parts})
	return nil
}

func (a *Agent) removeTopic(name string) {
	a.catalogMu.Lock()
	t := a.topics[name]
	if t != nil {
		delete(a.topics, name)
		delete(a.byID, t.meta.ID)
	}
	a.catalogMu.Unlock()
	if t == nil {
		return
	}
	t.deleted.Store(true)
	for _, p := range t.partitions() {
		p.mu.Lock()
		p.mu.owned = false
		p.mu.Unlock()
		p.tail.drop(&a.tailMem)
		a.metrics.highWatermark.DeleteLabelValues(name, strconv.Itoa(int(p.index)))
	}
	a.notifyHWM()
}

func (a *Agent) topicByName(name string) *topic {
	a.catalogMu.RLock()
	defer a.catalogMu.RUnlock()
	return a.topics[name]
}

func (a *Agent) topicByID(id metastore.TopicID) *topic {
	a.catalogMu.RLock()
	defer a.catalogMu.RUnlock()
	return a.byID[id]
}

func (a *Agent) allTopics() []*topic {
	a.catalogMu.RLock()
	defer a.catalogMu.RUnlock()
	out := make([]*topic, 0, len(a.topics))
	for _, t := range a.topics {
		out = append(out, t)
	}
	return out
}

// partitionOf returns the partition or nil.
func (t *topic) partition(i int32) *partition {
	if t == nil {
		return nil
	}
	parts := t.partitions()
	if i < 0 || int(i) >= len(parts) {
		return nil
	}
	return parts[i]
}

// recoverWAL re-appends buffered batches this agent still owns (same
// epoch, not yet committed) so the flusher uploads them; everything else
// is discarded and counted.
func (a *Agent) recoverWAL(ctx context.Context) error {
	entries := a.wal.Recovered()
	var syncs []*wal.Sync
	discarded := 0
	for _, e := range entries {
		t := a.topicByID(metastore.TopicID(e.TopicID))
		p := t.partition(e.Partition)
		if p == nil {
			discarded++
			continue
		}
		h, err := record.ParseHeader(e.Batch)
		if err != nil {
			discarded++
			continue
		}
		p.mu.Lock()
		switch {
		case !p.mu.owned || e.Epoch != p.mu.epoch:
			discarded++
		case h.LastOffset() < p.mu.nextOffset:
			// Already committed before the restart.
		case h.BaseOffset != p.mu.nextOffset:
			a.log.Error("write-ahead buffer has a gap; discarding the rest of the partition's buffered data",
				"topic", p.topicName(), "partition", p.index, "want_offset", p.mu.nextOffset, "batch_offset", h.BaseOffset)
			discarded++
		default:
			syncs = append(syncs, a.wal.Append(e))
			p.mu.nextOffset = h.LastOffset() + 1
			if h.ProducerID >= 0 {
				recordProducerBatch(p.mu.producers, h, time.Now().UnixMilli())
			}
			a.addBuffered(int64(len(e.Batch)))
			p.buffered.Add(int64(len(e.Batch)))
		}
		p.mu.Unlock()
	}
	for _, s := range syncs {
		if err := s.Wait(ctx); err != nil {
			return fmt.Errorf("agent: re-buffer recovered data: %w", err)
		}
	}
	if discarded > 0 {
		a.metrics.walDiscarded.Add(float64(discarded))
		a.log.Warn("discarded buffered batches no longer owned or already superseded", "batches", discarded)
	}
	if len(entries) > 0 {
		a.log.Info("recovered write-ahead buffer", "batches", len(entries), "rebuffered", len(syncs), "discarded", discarded)
	}
	return a.wal.DropRecovered()
}

func (a *Agent) addBuffered(n int64) {
	v := a.buffered.Add(n)
	a.metrics.bufferedBytes.Set(float64(v))
}

// hwmChanged returns a channel closed at the next high-watermark advance.
func (a *Agent) hwmChanged() <-chan struct{} {
	a.hwmMu.Lock()
	defer a.hwmMu.Unlock()
	return a.hwmCh
}

func (a *Agent) notifyHWM() {
	a.hwmMu.Lock()
	close(a.hwmCh)
	a.hwmCh = make(chan struct{})
	a.hwmMu.Unlock()
}

// Serve accepts Kafka connections until Shutdown or Close.
func (a *Agent) Serve() error {
	a.readyOnce.Store(true)
	for {
		nc, err := a.ln.Accept()
		if err != nil {
			if a.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		c := newConn(a, nc)
		a.connsMu.Lock()
		if a.closing.Load() {
			a.connsMu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		a.conns[c] = struct{}{}
		a.connWG.Add(1)
		a.connsMu.Unlock()
		go c.serve()
	}
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
		a.ln.Close()
		a.connsMu.Lock()
		for c := range a.conns {
			c.close()
		}
		a.connsMu.Unlock()
		a.connWG.Wait()
		a.groupCoord.close()
		if graceful {
			// Hand partitions over only when nothing buffered is left:
			// otherwise this agent must recover it at its next start.
			if err = a.flushAll(ctx); err == nil {
				a.releaseAll(ctx)
			}
		}
		close(a.quit)
		a.bgWG.Wait()
		a.closeResources()
	})
	return err
}

func (a *Agent) closeResources() {
	if a.admin != nil {
		a.admin.Close()
	}
	if a.ln != nil {
		a.ln.Close()
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
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}
