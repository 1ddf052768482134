package flush

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/segment"
)

// Store is what the flusher needs of the metastore.
type Store interface {
	CommitFlush(ctx context.Context, f metastore.Flush) error
	Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error)
}

// Deps are a Flusher's collaborators.
type Deps struct {
	Registry   *partlog.Registry
	Meta       Store
	Objects    objstore.Store
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Flusher is the sealer and committer of one agent's write-ahead buffer.
type Flusher struct {
	cfg     Config
	reg     *partlog.Registry
	wal     *wal.Log
	meta    Store
	objs    objstore.Store
	log     *slog.Logger
	metrics *metrics
	planner *planner

	// sealMu is held while sealing and starting plans (the sealer's
	// steps and FlushAll); it guards sl.
	sealMu sync.Mutex
	sl     struct {
		// waiting are sealed generations not yet planned, in seal order:
		// sealed at FlushBytes while no upload slot was free.
		waiting []*wal.Gen
		// openSince is when the sealer first saw the open generation
		// hold data (every Append wakes it); lastSeal is the last seal.
		openSince, lastSeal time.Time
	}
	// slots holds a token per plan started and not yet committed
	// (MaxUploads at most); uploading counts uploads in flight.
	slots     chan struct{}
	uploading atomic.Int32
	// wake tells the sealer that an upload or a commit finished.
	wake chan struct{}
	pipe chan *plan
	// sealed counts generations sealed, committed plans committed.
	sealed, committed atomic.Int64
	// failingSince is when the current run of failed uploads or commits
	// began (unix nanoseconds; 0 while they succeed).
	failingSince atomic.Int64
	seq          atomic.Uint64

	quit   chan struct{}
	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
	once   sync.Once
}

// New returns a Flusher; Start runs it.
func New(cfg Config, d Deps) (*Flusher, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Flusher{
		cfg: cfg, reg: d.Registry, wal: d.Registry.WAL(), meta: d.Meta, objs: d.Objects, log: d.Logger,
		metrics: newMetrics(d.Registerer),
		planner: newPlanner(d.Registry, d.Logger),
		pipe:    make(chan *plan, cfg.MaxUploads),
		slots:   make(chan struct{}, cfg.MaxUploads),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		ctx:     ctx, cancel: cancel,
	}
	f.sl.lastSeal = time.Now() // the floor holds from the start
	return f, nil
}

// Start runs the sealer and the committer until Stop.
func (f *Flusher) Start() {
	f.wg.Add(2)
	go f.sealLoop()
	go f.commitLoop()
}

// Stop stops the loops at once; what is not committed stays in the
// write-ahead buffer for the next start. Safe to call more than once.
func (f *Flusher) Stop() {
	f.once.Do(func() {
		close(f.quit)
		f.cancel()
	})
	f.wg.Wait()
}

// FailingFor is how long uploads or commits have been failing without a
// success in between (0 when healthy).
func (f *Flusher) FailingFor() time.Duration {
	since := f.failingSince.Load()
	if since == 0 {
		return 0
	}
	d := time.Since(time.Unix(0, since))
	f.metrics.failing.Set(d.Seconds())
	return d
}

func (f *Flusher) failed() {
	f.metrics.flushErrors.Inc()
	f.failingSince.CompareAndSwap(0, time.Now().UnixNano())
	f.FailingFor()
}

func (f *Flusher) succeeded() {
	f.failingSince.Store(0)
	f.metrics.failing.Set(0)
}

// sealLoop runs the flush policy (sealDecision) whenever something it
// depends on changes: data appended (Registry.Kicked), an upload or a
// commit finished, or the time it asked to wait is up.
func (f *Flusher) sealLoop() {
	defer f.wg.Done()
	t := time.NewTimer(f.cfg.FlushInterval)
	defer t.Stop()
	for {
		wait := f.step(time.Now(), false)
		t.Stop()
		var tick <-chan time.Time
		if wait > 0 {
			t.Reset(wait)
			tick = t.C
		}
		select {
		case <-f.quit:
			return
		case <-tick:
		case <-f.reg.Kicked():
		case <-f.wake:
		}
	}
}

func (f *Flusher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// step seals the open generation if the policy says so (or force and it
// holds data) and starts sealed generations on free upload slots. It
// returns how long the sealer may wait before the next step at most (0:
// until woken).
func (f *Flusher) step(now time.Time, force bool) time.Duration {
	f.sealMu.Lock()
	defer f.sealMu.Unlock()
	f.startWaiting()
	open := f.wal.OpenBytes()
	switch {
	case open == 0:
		f.sl.openSince = time.Time{}
	case f.sl.openSince.IsZero():
		f.sl.openSince = now
	}
	free := cap(f.slots) - len(f.slots)
	if len(f.sl.waiting) > 0 {
		free = 0 // sealed generations go first
	}
	seal, wait := f.cfg.sealDecision(sealState{
		open: open, openAge: now.Sub(f.sl.openSince), sinceSeal: now.Sub(f.sl.lastSeal),
		uploading: int(f.uploading.Load()), freeSlots: free,
	})
	if !seal && !(force && open > 0) {
		return wait
	}
	f.sl.waiting = append(f.sl.waiting, f.wal.Seal())
	f.sl.openSince, f.sl.lastSeal = time.Time{}, now
	f.sealed.Add(1)
	f.startWaiting()
	return 0
}

// startWaiting plans the waiting generations, oldest first, while upload
// slots are free, and starts their uploads. Callers hold sealMu.
func (f *Flusher) startWaiting() {
	for len(f.sl.waiting) > 0 {
		select {
		case f.slots <- struct{}{}:
		default:
			return
		}
		gen := f.sl.waiting[0]
		f.sl.waiting[0] = nil
		f.sl.waiting = f.sl.waiting[1:]
		pl := f.planner.plan(gen, gen.Entries(), func() string {
			return segment.ObjectKey(f.cfg.AgentID, f.seq.Add(1), time.Now())
		})
		pl.sealed = time.Now()
		pl.uploaded = make(chan struct{})
		f.pipe <- pl // never blocks: a slot was taken
		f.uploading.Add(1)
		f.wg.Add(1)
		go f.upload(f.ctx, pl)
	}
}

// upload PUTs a plan's object, retrying with backoff until it succeeds or
// ctx ends.
func (f *Flusher) upload(ctx context.Context, pl *plan) {
	defer f.wg.Done()
	defer f.signal()
	defer f.uploading.Add(-1)
	defer close(pl.uploaded)
	if len(pl.pending()) == 0 {
		return
	}
	pl.upErr = f.put(ctx, pl)
}

// put PUTs pl.obj under pl.key, retrying with backoff, and sets
// pl.uploadedAt when it succeeds; it fails only when ctx ends.
func (f *Flusher) put(ctx context.Context, pl *plan) error {
	backoff := 50 * time.Millisecond
	for {
		err := f.objs.Put(ctx, pl.key, pl.obj)
		if err == nil {
			pl.uploadedAt = time.Now()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.failed()
		f.log.Warn("upload failed; retrying", "object", pl.key, "bytes", len(pl.obj), "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// reupload puts the plan's object again under a new key, after the
// metastore refused to commit the old one as uploaded too long ago
// (metastore.ErrStaleObject): the orphan sweeper may delete an object
// that old which no commit references. The bytes are the same (nothing
// in a segment object names its key); the rows the next commit attempt
// builds point at the new key. The old object is left to the sweeper,
// which deletes it only if the metastore does not know it, so a copy an
// earlier, ambiguous attempt did commit stays. It runs in the committer,
// so later plans still commit after this one. It returns false if ctx
// ended first.
func (f *Flusher) reupload(ctx context.Context, pl *plan) bool {
	if len(pl.pending()) == 0 {
		return true
	}
	old, uploadedAt := pl.key, pl.uploadedAt
	pl.key = segment.ObjectKey(f.cfg.AgentID, f.seq.Add(1), time.Now())
	f.log.Warn("commit refused: object uploaded too long ago; uploading it again under a new key",
		"object", old, "uploaded_ago", time.Since(uploadedAt).Round(time.Millisecond), "new_object", pl.key, "bytes", len(pl.obj))
	if err := f.put(ctx, pl); err != nil {
		return false
	}
	f.metrics.reuploads.Inc()
	return true
}

// commitLoop takes plans in seal order and commits each (with retries)
// before the next.
func (f *Flusher) commitLoop() {
	defer f.wg.Done()
	ctx := f.ctx
	for {
		var pl *plan
		select {
		case <-f.quit:
			return
		case pl = <-f.pipe:
		}
		select {
		case <-f.quit:
			return
		case <-pl.uploaded:
		}
		if pl.upErr != nil {
			return
		}
		backoff := 50 * time.Millisecond
		for {
			err := f.commit(ctx, pl)
			if err == nil {
				break
			}
			f.failed()
			if errors.Is(err, metastore.ErrStaleObject) {
				// Not the store failing: commit the new copy at once.
				if !f.reupload(ctx, pl) {
					return
				}
				continue
			}
			f.log.Warn("commit failed; retrying", "object", pl.key, "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
		}
		f.succeeded()
		if err := f.wal.Release(pl.gen); err != nil {
			f.log.Error("release write-ahead generation", "err", err)
		}
		if len(pl.obj) > 0 {
			f.metrics.flushes.Inc()
			f.metrics.flushBytes.Observe(float64(len(pl.obj)))
			f.metrics.flushSeconds.Observe(time.Since(pl.sealed).Seconds())
		}
		f.committed.Add(1)
		<-f.slots
		f.signal()
	}
}

// FlushAll seals what is buffered and waits until every sealed plan is
// committed (graceful shutdown). If ctx ends first, the rest stays in the
// write-ahead buffer.
func (f *Flusher) FlushAll(ctx context.Context) error {
	for {
		f.step(time.Now(), true)
		if f.committed.Load() >= f.sealed.Load() && f.wal.OpenBytes() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
