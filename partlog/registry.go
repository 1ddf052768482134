package partlog

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering"
)

// Store is what the partition log needs of the metastore.
type Store interface {
	Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error)
	ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error)
	IndexRows(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64, limit int) ([]metastore.IndexRow, error)
	IndexRowsByTime(ctx context.Context, id metastore.TopicID, partition int32, ts int64, limit int) ([]metastore.IndexRow, error)
	MaxTimestampRow(ctx context.Context, id metastore.TopicID, partition int32) (metastore.IndexRow, error)
	AbortedTxns(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64) ([]metastore.AbortedTxn, error)
}

// Deps are a Registry's collaborators.
type Deps struct {
	AgentID    string // the partitions owned by this agent ID are owned here
	Meta       Store
	WAL        *wal.Log
	Reader     *tiering.Reader
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Registry holds the agent's topics and what their partitions share.
type Registry struct {
	cfg     Config
	agentID string
	meta    Store
	wal     *wal.Log
	reader  *tiering.Reader
	log     *slog.Logger
	metrics *metrics

	catalogMu sync.RWMutex
	topics    map[string]*Topic
	byID      map[metastore.TopicID]*Topic

	// buffered is the sum of every partition's buffered bytes (changed
	// only by Partition.addBuffered).
	buffered atomic.Int64
	tailMem  tailBudget

	hwmMu sync.Mutex
	hwmCh chan struct{} // closed and replaced whenever a high watermark advances

	kick chan struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry(cfg Config, d Deps) *Registry {
	cfg.EnsureDefaults()
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	r := &Registry{
		cfg: cfg, agentID: d.AgentID, meta: d.Meta, wal: d.WAL, reader: d.Reader, log: d.Logger,
		metrics: newMetrics(d.Registerer),
		topics:  map[string]*Topic{},
		byID:    map[metastore.TopicID]*Topic{},
		hwmCh:   make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	r.tailMem.budget = cfg.TailBytes
	return r
}

// WAL is the shared write-ahead buffer.
func (r *Registry) WAL() *wal.Log { return r.wal }

// Kick tells the flusher that something its policy depends on changed
// (data appended, the buffer full, a partition to release).
func (r *Registry) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Resolve returns the ID of topic if it has the partition: the catalog
// as the transaction coordinator sees it.
func (r *Registry) Resolve(topic string, partition int32) (metastore.TopicID, bool) {
	t := r.Topic(topic)
	if t == nil || t.Partition(partition) == nil {
		return metastore.TopicID{}, false
	}
	return t.ID(), true
}

// Kicked receives a value after Kick (the flusher selects on it).
func (r *Registry) Kicked() <-chan struct{} { return r.kick }

// Buffered is the total of bytes accepted but not yet committed.
func (r *Registry) Buffered() int64 { return r.buffered.Load() }

// HWMChanged returns a channel closed at the next high-watermark advance
// (or ownership change that waiters must notice).
func (r *Registry) HWMChanged() <-chan struct{} {
	r.hwmMu.Lock()
	defer r.hwmMu.Unlock()
	return r.hwmCh
}

// NotifyHWM wakes everything waiting on HWMChanged.
func (r *Registry) NotifyHWM() {
	r.hwmMu.Lock()
	close(r.hwmCh)
	r.hwmCh = make(chan struct{})
	r.hwmMu.Unlock()
}

// Topic returns the named topic or nil.
func (r *Registry) Topic(name string) *Topic {
	r.catalogMu.RLock()
	defer r.catalogMu.RUnlock()
	return r.topics[name]
}

// TopicByID returns the topic with that ID or nil.
func (r *Registry) TopicByID(id metastore.TopicID) *Topic {
	r.catalogMu.RLock()
	defer r.catalogMu.RUnlock()
	return r.byID[id]
}

// Partition returns a partition by topic ID and index, or nil.
func (r *Registry) Partition(id metastore.TopicID, index int32) *Partition {
	return r.TopicByID(id).Partition(index)
}

// Topics returns every topic, in no particular order.
func (r *Registry) Topics() []*Topic {
	r.catalogMu.RLock()
	defer r.catalogMu.RUnlock()
	out := make([]*Topic, 0, len(r.topics))
	for _, t := range r.topics {
		out = append(out, t)
	}
	return out
}

// AddTopic loads a topic's partitions from the metastore and publishes it.
func (r *Registry) AddTopic(ctx context.Context, mt metastore.Topic) (*Topic, error) {
	rows, err := r.meta.Partitions(ctx, mt.ID)
	if err != nil {
		return nil, fmt.Errorf("partlog: load partitions of %s: %w", mt.Name, err)
	}
	t := &Topic{name: mt.Name, id: mt.ID, rf: mt.ReplicationFactor, created: mt.CreatedAt}
	var ps []*Partition
	for _, row := range rows {
		p, err := r.loadPartition(ctx, t, row)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	t.state.Store(&topicState{configs: mt.Configs, settings: ParseSettings(mt.Configs), parts: ps})
	r.catalogMu.Lock()
	r.topics[mt.Name] = t
	r.byID[mt.ID] = t
	r.catalogMu.Unlock()
	return t, nil
}

// ExtendTopic adds the partitions among rows that t does not have yet
// (created through another agent, or by CreatePartitions here). Their
// state is loaded before the snapshot is swapped.
func (r *Registry) ExtendTopic(ctx context.Context, t *Topic, rows []metastore.Partition) error {
	have := len(t.Partitions())
	var added []*Partition
	for _, row := range rows {
		if int(row.Partition) < have {
			continue
		}
		p, err := r.loadPartition(ctx, t, row)
		if err != nil {
			return err
		}
		added = append(added, p)
	}
	if len(added) == 0 {
		return nil
	}
	r.catalogMu.Lock()
	defer r.catalogMu.Unlock()
	old := t.state.Load()
	parts := append([]*Partition(nil), old.parts...)
	for _, p := range added {
		if int(p.index) == len(parts) { // another caller may have added it meanwhile
			parts = append(parts, p)
		}
	}
	t.state.Store(&topicState{configs: old.configs, settings: old.settings, parts: parts})
	return nil
}

// SetConfigs publishes a topic's new explicit configs (already validated
// and stored in the metastore by the caller).
func (r *Registry) SetConfigs(t *Topic, configs map[string]string) {
	r.catalogMu.Lock()
	defer r.catalogMu.Unlock()
	old := t.state.Load()
	t.state.Store(&topicState{configs: configs, settings: ParseSettings(configs), parts: old.parts})
}

// RemoveTopic forgets a deleted topic: its partitions stop serving and
// their tails are freed.
func (r *Registry) RemoveTopic(name string) {
	r.catalogMu.Lock()
	t := r.topics[name]
	if t != nil {
		delete(r.topics, name)
		delete(r.byID, t.id)
	}
	r.catalogMu.Unlock()
	if t == nil {
		return
	}
	t.deleted.Store(true)
	for _, p := range t.Partitions() {
		p.mu.Lock()
		p.mu.state = Unowned
		p.mu.Unlock()
		p.dropBuffered()
		p.tail.drop(&r.tailMem)
		r.metrics.highWatermark.DeleteLabelValues(name, strconv.Itoa(int(p.index)))
	}
	r.NotifyHWM()
}

// loadPartition loads a partition's state. It is owned here only if the
// metastore says this agent owns it (a restart keeps its epoch, so its
// write-ahead buffer can be recovered); package ownership claims the rest.
func (r *Registry) loadPartition(ctx context.Context, t *Topic, row metastore.Partition) (*Partition, error) {
	p := &Partition{topic: t, index: row.Partition, reg: r}
	p.hwm.Store(row.HighWatermark)
	p.logStart.Store(row.LogStartOffset)
	if row.Owner == r.agentID {
		p.mu.state = Owned
	}
	p.mu.owner = row.Owner
	p.mu.epoch = row.Epoch
	p.mu.nextOffset = row.HighWatermark
	states, err := r.meta.ProducerStates(ctx, t.id, row.Partition)
	if err != nil {
		return nil, fmt.Errorf("partlog: producer state of %s/%d: %w", t.name, row.Partition, err)
	}
	p.mu.producers = entriesFromStates(states)
	p.mu.claimProducers = entriesFromStates(states)
	p.mu.txns = txnsFromStates(states)
	r.metrics.highWatermark.WithLabelValues(t.name, strconv.Itoa(int(row.Partition))).Set(float64(row.HighWatermark))
	return p, nil
}

// RecoverWAL re-appends the write-ahead buffer's recovered batches that
// this agent still owns (same epoch, not yet committed) to a fresh
// generation, so the flusher uploads them; everything else is discarded
// and counted. Call it after the catalog is loaded and before serving.
func (r *Registry) RecoverWAL(ctx context.Context) error {
	entries := r.wal.Recovered()
	var syncs []*wal.Sync
	discarded := 0
	for _, e := range entries {
		p := r.Partition(metastore.TopicID(e.TopicID), e.Partition)
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
		case p.mu.state != Owned || e.Epoch != p.mu.epoch:
			discarded++
		case h.LastOffset() < p.mu.nextOffset:
			// Already committed before the restart.
		case h.BaseOffset != p.mu.nextOffset:
			r.log.Error("write-ahead buffer has a gap; discarding the rest of the partition's buffered data",
				"topic", p.topic.name, "partition", p.index, "want_offset", p.mu.nextOffset, "batch_offset", h.BaseOffset)
			discarded++
		default:
			syncs = append(syncs, r.wal.Append(e))
			p.mu.nextOffset = h.LastOffset() + 1
			if h.ProducerID >= 0 {
				p.trackTxnLocked(h.ProducerID, h, ApplyBatch(p.mu.producers, e.Batch, h, time.Now().UnixMilli()))
			}
			p.addBuffered(int64(len(e.Batch)))
		}
		p.mu.Unlock()
	}
	for _, s := range syncs {
		if err := s.Wait(ctx); err != nil {
			return fmt.Errorf("partlog: re-buffer recovered data: %w", err)
		}
	}
	if discarded > 0 {
		r.metrics.walDiscarded.Add(float64(discarded))
		r.log.Warn("discarded buffered batches no longer owned or already superseded", "batches", discarded)
	}
	if len(entries) > 0 {
		r.log.Info("recovered write-ahead buffer", "batches", len(entries), "rebuffered", len(syncs), "discarded", discarded)
	}
	return r.wal.DropRecovered()
}
