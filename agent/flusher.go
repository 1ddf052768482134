package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// partFlush is one partition's share of a flush.
type partFlush struct {
	p           *partition
	epoch       int32
	prevHWM     int64
	first, last int64
	minTS       int64
	maxTS       int64
	batches     int32
	data        []byte
	chunk       segment.Chunk
	producers   map[int64]*producerEntry // touched entries, updated
	done        bool                     // committed (possibly by an earlier ambiguous attempt)
	// rows split data into index rows of about indexRowBytes, so a
	// historical read range-GETs about what one fetch needs rather than
	// the whole chunk.
	rows []indexRow
}

// indexRow is one segment-index row within a partition's chunk; off is
// relative to the chunk.
type indexRow struct {
	first, last  int64
	minTS, maxTS int64
	off, size    int64
}

// indexRowBytes is the target size of one segment-index row: about one
// half of a fetch's worth of a partition (Kafka's default max.partition.fetch.bytes is 1 MiB).
const indexRowBytes = 512 << 10

// addToRows accounts one batch in the partition's index rows.
func (pf *partFlush) addToRows(h record.Header, ts int64, off, size int64) {
	n := len(pf.rows)
	if n == 0 || pf.rows[n-1].size >= indexRowBytes {
		pf.rows = append(pf.rows, indexRow{first: h.BaseOffset, minTS: ts, maxTS: h.MaxTimestamp, off: off})
		n++
	}
	r := &pf.rows[n-1]
	r.last = h.LastOffset()
	r.minTS = min(r.minTS, ts)
	r.maxTS = max(r.maxTS, h.MaxTimestamp)
	r.size += size
}

// flushPlan is everything needed to upload and commit one sealed
// generation; it is built once and retried as a whole.
type flushPlan struct {
	gen      *wal.Gen
	key      string
	obj      []byte
	parts    []*partFlush
	rawBytes int64 // batch bytes, as counted in Agent.buffered
	sealed   time.Time
	uploaded chan struct{} // closed once the object is in the store
	upErr    error         // set before uploaded is closed if ctx ended first
}

// maxUploads bounds the objects being uploaded at once. Uploads overlap
// (object stores reward parallel PUTs); commits stay strictly in order,
// because each partition's commit is conditioned on the previous one's
// high watermark.
const maxUploads = 4

// The flusher is two goroutines: the sealer (flushLoop) seals the open
// write-ahead generation every FlushInterval, or as soon as FlushBytes are
// buffered, plans its object and starts its upload; the committer
// (commitLoop) takes plans in seal order, waits for each upload and
// commits it. A full pipeline blocks the sealer, so data accumulates in the
// open generation until BufferBytes makes produce push back.

// flushLoop is the sealer.
func (a *Agent) flushLoop() {
	defer a.bgWG.Done()
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-a.quit; cancel() }()
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
			a.seal(ctx, 0)
		case <-a.flushKick:
			a.seal(ctx, a.cfg.FlushBytes)
		}
	}
}

// kickFlush asks the sealer to seal now if FlushBytes are buffered.
func (a *Agent) kickFlush() {
	select {
	case a.flushKick <- struct{}{}:
	default:
	}
}

// seal seals the open generation if it holds more than minBytes, and hands
// it to the pipeline; it blocks while maxUploads plans are in flight.
func (a *Agent) seal(ctx context.Context, minBytes int64) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	if open := a.wal.OpenBytes(); open == 0 || open < minBytes {
		return
	}
	plan := a.planFlush(a.wal.Seal())
	plan.sealed = time.Now()
	plan.uploaded = make(chan struct{})
	a.sealedPlans.Add(1)
	select {
	case a.pipe <- plan:
	case <-ctx.Done():
		// Shutting down: the sealed generation stays in the write-ahead
		// buffer and is recovered at the next start.
		return
	}
	a.bgWG.Add(1)
	go a.upload(ctx, plan)
}

// upload PUTs a plan's object, retrying with backoff until it succeeds or
// ctx ends.
func (a *Agent) upload(ctx context.Context, plan *flushPlan) {
	defer a.bgWG.Done()
	defer close(plan.uploaded)
	if len(plan.pending()) == 0 {
		return
	}
	backoff := 50 * time.Millisecond
	for {
		err := a.objs.Put(ctx, plan.key, plan.obj)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			plan.upErr = ctx.Err()
			return
		}
		a.metrics.flushErrors.Inc()
		a.log.Warn("upload failed; retrying", "object", plan.key, "bytes", len(plan.obj), "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			plan.upErr = ctx.Err()
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// commitLoop is the committer: plans in seal order, each committed (with
// retries) before the next.
func (a *Agent) commitLoop() {
	defer a.bgWG.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-a.quit; cancel() }()
	for {
		var plan *flushPlan
		select {
		case <-a.quit:
			return
		case plan = <-a.pipe:
		}
		select {
		case <-a.quit:
			return
		case <-plan.uploaded:
		}
		if plan.upErr != nil {
			return
		}
		backoff := 50 * time.Millisecond
		for {
			err := a.runFlush(ctx, plan)
			if err == nil {
				break
			}
			a.metrics.flushErrors.Inc()
			a.log.Warn("commit failed; retrying", "object", plan.key, "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
		}
		if err := a.wal.Release(plan.gen); err != nil {
			a.log.Error("release write-ahead generation", "err", err)
		}
		a.addBuffered(-plan.rawBytes)
		if len(plan.obj) > 0 {
			a.metrics.flushes.Inc()
			a.metrics.flushBytes.Observe(float64(len(plan.obj)))
			a.metrics.flushSeconds.Observe(time.Since(plan.sealed).Seconds())
		}
		a.committedPlans.Add(1)
	}
}

// flushAll seals what is buffered and waits until every sealed plan is
// committed (graceful shutdown). If ctx ends first, the rest stays in the
// write-ahead buffer.
func (a *Agent) flushAll(ctx context.Context) error {
	a.seal(ctx, 0)
	for a.committedPlans.Load() < a.sealedPlans.Load() || a.wal.OpenBytes() > 0 {
		if a.wal.OpenBytes() > 0 {
			a.seal(ctx, 0)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// planFlush groups a sealed generation by partition and builds the object.
func (a *Agent) planFlush(gen *wal.Gen) *flushPlan {
	plan := &flushPlan{gen: gen}
	byPart := map[*partition]*partFlush{}
	var order []*partFlush
	for _, e := range gen.Entries() {
		plan.rawBytes += int64(len(e.Batch))
		p := a.topicByID(metastore.TopicID(e.TopicID)).partition(e.Partition)
		if p == nil || p.topic.deleted.Load() {
			continue
		}
		h, err := record.ParseHeader(e.Batch)
		if err != nil {
			a.log.Error("unreadable batch in write-ahead buffer", "err", err)
			continue
		}
		pf := byPart[p]
		if pf == nil {
			if e.Epoch != p.planEpoch {
				// First plan of this epoch: chain from the state the
				// epoch began with.
				p.mu.Lock()
				p.planEpoch, p.planHWM = e.Epoch, p.hwm.Load()
				p.plannedProducers = map[int64]*producerEntry{}
				for pid, st := range p.mu.claimProducers {
					p.plannedProducers[pid] = st.clone()
				}
				p.mu.Unlock()
			}
			pf = &partFlush{p: p, epoch: e.Epoch, prevHWM: p.planHWM, first: h.BaseOffset, minTS: h.MaxTimestamp, maxTS: h.MaxTimestamp,
				producers: map[int64]*producerEntry{}}
			byPart[p] = pf
			order = append(order, pf)
		}
		if e.Epoch != pf.epoch || h.BaseOffset != pf.nextOffset() {
			continue // a gap or an epoch change: never commit out of order
		}
		ts := h.FirstTimestamp
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		pf.minTS = min(pf.minTS, ts)
		pf.maxTS = max(pf.maxTS, h.MaxTimestamp)
		pf.last = h.LastOffset()
		pf.batches++
		pf.addToRows(h, ts, int64(len(pf.data)), int64(len(e.Batch)))
		pf.data = append(pf.data, e.Batch...)
		if h.ProducerID >= 0 {
			if _, ok := pf.producers[h.ProducerID]; !ok {
				if old := p.plannedProducers[h.ProducerID]; old != nil {
					pf.producers[h.ProducerID] = old.clone()
				}
			}
			recordProducerBatch(pf.producers, h, time.Now().UnixMilli())
		}
	}
	b := segment.NewBuilder()
	for _, pf := range order {
		if pf.batches == 0 || pf.first != pf.prevHWM {
			pf.done = true // nothing committable (a gap after a lost epoch)
			continue
		}
		pf.p.planHWM = pf.last + 1
		for pid, e := range pf.producers {
			// The plan keeps its own copy: the committer reads it while
			// the sealer plans the next generation.
			pf.p.plannedProducers[pid] = e.clone()
		}
		b.Add(segment.ChunkMeta{TopicID: pf.p.id, Partition: pf.p.index, FirstOffset: pf.first, LastOffset: pf.last,
			MinTimestamp: pf.minTS, MaxTimestamp: pf.maxTS, Batches: pf.batches}, pf.data)
		plan.parts = append(plan.parts, pf)
	}
	if len(plan.parts) == 0 {
		return plan
	}
	obj, chunks := b.Finish()
	plan.obj = obj
	for i, pf := range plan.parts {
		pf.chunk = chunks[i]
		pf.data = obj[chunks[i].Pos : chunks[i].Pos+chunks[i].Size]
	}
	plan.key = segment.ObjectKey(a.agentID, flushSeq.Add(1), time.Now())
	return plan
}

func (pf *partFlush) nextOffset() int64 {
	if pf.batches == 0 {
		return pf.first
	}
	return pf.last + 1
}

// runFlush commits what is left of an uploaded plan.
func (a *Agent) runFlush(ctx context.Context, plan *flushPlan) error {
	pending := plan.pending()
	if len(pending) == 0 {
		return nil
	}
	f := metastore.Flush{AgentID: a.agentID, ObjectKey: plan.key, ObjectSize: int64(len(plan.obj))}
	for _, pf := range pending {
		pc := metastore.PartitionCommit{
			TopicID: pf.p.id, Partition: pf.p.index, Epoch: pf.epoch,
			PrevHighWatermark: pf.prevHWM, NewHighWatermark: pf.last + 1,
		}
		for _, r := range pf.rows {
			pc.Segments = append(pc.Segments, metastore.Segment{
				TopicID: pf.p.id, Partition: pf.p.index, BaseOffset: r.first, LastOffset: r.last,
				ObjectKey: plan.key, Pos: pf.chunk.Pos + r.off, Size: r.size,
				MinTimestamp: r.minTS, MaxTimestamp: r.maxTS,
			})
		}
		for pid, e := range pf.producers {
			pc.Producers = append(pc.Producers, e.state(pid))
		}
		f.Partitions = append(f.Partitions, pc)
	}
	err := a.meta.CommitFlush(ctx, f)
	switch {
	case err == nil:
		for _, pf := range pending {
			a.applyCommitted(pf, plan.key)
		}
		a.notifyHWM()
		return nil
	case errors.Is(err, metastore.ErrFenced), errors.Is(err, metastore.ErrConflict):
		// Sort out which partitions were lost, and which an earlier
		// attempt whose answer never arrived did commit; retry the rest.
		if rerr := a.reconcile(ctx, pending, plan.key); rerr != nil {
			return fmt.Errorf("commit %s: %v; reconcile: %w", plan.key, err, rerr)
		}
		return fmt.Errorf("commit %s: %w (retrying the partitions still owned)", plan.key, err)
	default:
		return fmt.Errorf("commit %s: %w", plan.key, err)
	}
}

func (plan *flushPlan) pending() []*partFlush {
	var out []*partFlush
	for _, pf := range plan.parts {
		if !pf.done {
			out = append(out, pf)
		}
	}
	return out
}

// reconcile re-reads the partitions of a failed commit from the metastore.
func (a *Agent) reconcile(ctx context.Context, pending []*partFlush, key string) error {
	byTopic := map[metastore.TopicID][]metastore.Partition{}
	changed := false
	for _, pf := range pending {
		ps, ok := byTopic[pf.p.id]
		if !ok {
			var err error
			ps, err = a.meta.Partitions(ctx, pf.p.id)
			if err != nil && !errors.Is(err, metastore.ErrNotFound) {
				return err
			}
			byTopic[pf.p.id] = ps
		}
		var cur *metastore.Partition
		for i := range ps {
			if ps[i].Partition == pf.p.index {
				cur = &ps[i]
			}
		}
		switch {
		case cur == nil || cur.Owner != a.agentID || cur.Epoch != pf.epoch:
			a.log.Warn("lost partition ownership; its buffered data is discarded",
				"topic", pf.p.topicName(), "partition", pf.p.index, "first_offset", pf.first, "last_offset", pf.last)
			pf.p.mu.Lock()
			if pf.p.mu.epoch == pf.epoch {
				pf.p.mu.owned = false
			}
			pf.p.mu.Unlock()
			a.metrics.walDiscarded.Add(float64(pf.batches))
			pf.p.buffered.Add(-int64(len(pf.data)))
			pf.done = true
			changed = true
		case cur.HighWatermark == pf.last+1:
			a.applyCommitted(pf, key)
			changed = true
		}
	}
	if changed {
		a.notifyHWM()
	}
	return nil
}

// applyCommitted publishes a committed partition flush.
func (a *Agent) applyCommitted(pf *partFlush, key string) {
	pf.done = true
	p := pf.p
	p.buffered.Add(-int64(len(pf.data)))
	for _, r := range pf.rows {
		p.tail.add(&a.tailMem, &tailChunk{base: r.first, last: r.last, data: pf.data[r.off : r.off+r.size], objectKey: key, pos: pf.chunk.Pos + r.off})
	}
	p.mu.Lock()
	if p.mu.epoch == pf.epoch {
		// A commit of an epoch since lost must not move the high
		// watermark the new epoch loaded.
		p.hwm.Store(pf.last + 1)
	}
	p.mu.Unlock()
	a.metrics.highWatermark.WithLabelValues(p.topicName(), strconv.Itoa(int(p.index))).Set(float64(pf.last + 1))
}

// flushSeq numbers this process's objects; keys also carry the agent ID
// and time, so they never collide across restarts.
var flushSeq atomic.Uint64
