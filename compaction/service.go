package compaction

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/tiering/objstore"
)

// Store is the part of the metastore the lifecycle jobs use.
type Store interface {
	metastore.Lifecycle
	Topics(ctx context.Context) ([]metastore.Topic, error)
	Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error)
	IndexRows(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64, limit int) ([]metastore.IndexRow, error)
	IndexRowsByTime(ctx context.Context, id metastore.TopicID, partition int32, ts int64, limit int) ([]metastore.IndexRow, error)
	ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error)
	AbortedTxns(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64) ([]metastore.AbortedTxn, error)
}

// Service runs the storage lifecycle: compaction, retention, garbage
// collection and the orphan sweep, each on its own interval. It is safe
// to run several Services (in agents and `strata compactor`s) on one
// metastore and bucket: partition leases and fenced switches keep them
// from ever both installing a result, and garbage collection only ever
// deletes what the metastore says is dead.
type Service struct {
	cfg     Config
	meta    Store
	objs    objstore.Store
	log     *slog.Logger
	metrics *Metrics
	limit   *rate.Limiter
	jobs    *semaphore.Weighted // MaxJobs
	bytes   *semaphore.Weighted // MaxBytesInFlight

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// deferred holds when each partition's work was first left for later
	// because Busy said so: deferred for MaxLag, it runs however busy
	// (work without flush data, such as a cleaning pass due, has no
	// lag of its own to bound the wait).
	deferred struct {
		sync.Mutex
		since map[metastore.PartitionRef]time.Time
	}
}

// New returns a Service; Start runs it. m may be nil (unregistered
// metrics); log may be nil.
func New(cfg Config, meta Store, objs objstore.Store, m *Metrics, log *slog.Logger) (*Service, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := rate.NewLimiter(rate.Inf, 0)
	if cfg.MaxRequestsPerSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.MaxRequestsPerSecond), max(1, int(cfg.MaxRequestsPerSecond/10)))
	}
	s := &Service{
		cfg: cfg, meta: meta, objs: objs, log: log.With("component", "compaction"), metrics: m, limit: lim,
		jobs:  semaphore.NewWeighted(int64(cfg.MaxJobs)),
		bytes: semaphore.NewWeighted(cfg.MaxBytesInFlight),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Start runs the passes in the background until Stop.
func (s *Service) Start() {
	s.every(s.cfg.Interval, "compaction", func(ctx context.Context) error { _, err := s.CompactOnce(ctx); return err })
	s.every(s.cfg.RetentionCheckInterval, "retention", func(ctx context.Context) error { _, err := s.RetainOnce(ctx); return err })
	if !s.cfg.NoGC {
		s.every(s.cfg.GCInterval, "gc", func(ctx context.Context) error {
			if !s.janitor() {
				return nil
			}
			_, err := s.CollectOnce(ctx)
			return err
		})
		s.every(s.cfg.SweepInterval, "sweep", func(ctx context.Context) error {
			if !s.janitor() {
				return nil
			}
			_, err := s.SweepOnce(ctx)
			return err
		})
	}
	s.every(15*time.Second, "stats", s.UpdateStats)
}

// Stop ends the passes and waits for running jobs; a job cut short leaves
// nothing behind but an orphan for the sweeper.
func (s *Service) Stop() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) every(d time.Duration, name string, fn func(context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			if err := fn(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Warn(name+" pass failed", "err", err)
			}
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// crash kills the process at the named step when configured to (crash
// tests only).
func (s *Service) crash(step string) {
	if s.cfg.CrashAt == step {
		s.log.Warn("crashing on purpose", "step", step)
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
	}
}

// Object-store requests, paced by MaxRequestsPerSecond.

func (s *Service) wait(ctx context.Context) error { return s.limit.Wait(ctx) }

func (s *Service) put(ctx context.Context, key string, data []byte) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.objs.Put(ctx, key, data)
}

func (s *Service) getRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.objs.GetRange(ctx, key, off, n)
}

func (s *Service) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), objstore.MaxBatchDelete)
		if err := s.wait(ctx); err != nil {
			return err
		}
		if err := objstore.DeleteKeys(ctx, s.objs, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

func (s *Service) deleteQuietly(ctx context.Context, key string) {
	if err := s.deleteKeys(context.WithoutCancel(ctx), []string{key}); err != nil {
		s.log.Warn("delete discarded output", "object", key, "err", err)
	}
}

// janitor reports whether this Service runs the cluster-wide jobs now.
func (s *Service) janitor() bool { return s.cfg.Janitor == nil || s.cfg.Janitor() }

// owned reports whether this Service works on the partition.
func (s *Service) owned(ref metastore.PartitionRef) bool {
	return s.cfg.Owns == nil || s.cfg.Owns(ref)
}

// CompactOnce runs one compaction pass: it plans every partition this
// Service works on and runs the jobs (at most MaxJobs at once, within
// MaxBytesInFlight), and returns how many jobs installed a segment.
func (s *Service) CompactOnce(ctx context.Context) (int, error) {
	counts, err := s.meta.RowCounts(ctx)
	if err != nil {
		return 0, err
	}
	urgent, err := s.lowLivePartitions(ctx)
	if err != nil {
		return 0, err
	}
	topics, err := s.meta.Topics(ctx)
	if err != nil {
		return 0, err
	}
	// Data retention deletes within a max lag is not worth compacting.
	expire := map[metastore.TopicID]int64{}
	cleaning := map[metastore.TopicID]*Cleaning{}
	for _, t := range topics {
		if c := TopicCleaning(t.Configs); c.Compact {
			cleaning[t.ID] = &c
		}
		if r, deletes := TopicRetention(t.Configs, Retention{Ms: s.cfg.RetentionMs, Bytes: s.cfg.RetentionBytes}); deletes && r.Ms >= 0 {
			expire[t.ID] = s.now().UnixMilli() - r.Ms + s.cfg.MaxLag.Milliseconds()
		}
	}
	var (
		mu     sync.Mutex
		done   int
		errs   []error
		wg     sync.WaitGroup
		now    = s.now()
		target = s.cfg.TargetSegmentBytes
	)
	for _, pr := range counts {
		if !s.owned(pr.PartitionRef) {
			continue
		}
		lagged := !pr.OldestFlush.IsZero() && now.Sub(pr.OldestFlush) >= s.cfg.MaxLag
		smallSegments := pr.SegmentRows >= 2 && pr.SegmentBytes < pr.SegmentRows*target/2
		c := cleaning[pr.TopicID]
		if pr.FlushBytes < target/2 && !lagged && !urgent[pr.PartitionRef] && !smallSegments && c == nil {
			continue // nothing the planner would do
		}
		if c != nil && !lagged && !urgent[pr.PartitionRef] {
			due, err := s.cleanDue(ctx, pr.PartitionRef, *c)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				continue
			}
			if !due && pr.FlushBytes < target/2 {
				continue
			}
		}
		if s.yield(pr.PartitionRef, now, lagged) {
			continue // produce first; this is not overdue yet
		}
		if err := s.jobs.Acquire(ctx, 1); err != nil {
			// Stopping: the jobs started finish (and release their
			// leases) before the pass returns.
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.jobs.Release(1)
			n, err := s.compactPartition(ctx, pr, urgent[pr.PartitionRef], expire[pr.TopicID], c)
			mu.Lock()
			defer mu.Unlock()
			done += n
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return done, errors.Join(errs...)
}

// yield reports whether the partition's work should wait because
// produce is busy (Config.Busy), and counts it. Overdue work never
// waits: flush data past MaxLag (lagged), or work deferred since MaxLag
// ago or longer. A partition whose work goes on is forgotten.
func (s *Service) yield(ref metastore.PartitionRef, now time.Time, lagged bool) bool {
	busy := !lagged && s.cfg.Busy != nil && s.cfg.Busy()
	s.deferred.Lock()
	defer s.deferred.Unlock()
	since, ok := s.deferred.since[ref]
	if !busy || (ok && now.Sub(since) >= s.cfg.MaxLag) {
		delete(s.deferred.since, ref)
		return false
	}
	if !ok {
		if s.deferred.since == nil {
			s.deferred.since = map[metastore.PartitionRef]time.Time{}
		}
		s.deferred.since[ref] = now
	}
	s.metrics.deferred.Inc()
	return true
}

// lowLivePartitions returns the partitions with rows in flush objects
// that are mostly dead: compacting their rows now frees those objects.
func (s *Service) lowLivePartitions(ctx context.Context) (map[metastore.PartitionRef]bool, error) {
	objs, err := s.meta.LowLiveObjects(ctx, metastore.ObjectFlush, s.cfg.RewriteLiveRatio, 100)
	if err != nil {
		return nil, err
	}
	out := map[metastore.PartitionRef]bool{}
	for _, o := range objs {
		rows, err := s.meta.ObjectRows(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[metastore.PartitionRef{TopicID: r.TopicID, Partition: r.Partition}] = true
		}
	}
	return out, nil
}

// compactPartition claims the partition's lease, plans it and runs its
// jobs one after another.
func (s *Service) compactPartition(ctx context.Context, pr metastore.PartitionRows, urgent bool, expireBefore int64, cleaning *Cleaning) (int, error) {
	ref := pr.PartitionRef
	lease, err := s.meta.ClaimLease(ctx, s.cfg.Holder, ref.TopicID, ref.Partition, s.now(), s.cfg.LeaseTTL)
	if errors.Is(err, metastore.ErrConflict) || errors.Is(err, metastore.ErrNotFound) {
		return 0, nil // someone else's, or deleted
	}
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := s.meta.ReleaseLease(context.WithoutCancel(ctx), lease); err != nil {
			s.log.Warn("release lease", "topic", ref.TopicID, "partition", ref.Partition, "err", err)
		}
	}()
	rows, err := s.meta.IndexRows(ctx, ref.TopicID, ref.Partition, 0, 0)
	if err != nil {
		return 0, err
	}
	done := 0
	if cleaning != nil {
		start := s.now()
		res, err := s.cleanPartition(ctx, &lease, rows, *cleaning)
		if res.Why != "" {
			s.metrics.cleanPasses.WithLabelValues(res.Why).Inc()
			s.metrics.cleanRemoved.Add(float64(res.Removed))
			s.metrics.cleanRead.Add(float64(res.Read))
			s.metrics.cleanWritten.Add(float64(res.Written))
			s.log.Info("cleaned", "topic", ref.TopicID, "partition", ref.Partition, "why", res.Why,
				"keys", res.Keys, "map_end", res.MapEnd, "segments", res.Segments, "removed", res.Removed,
				"read_bytes", res.Read, "written_bytes", res.Written, "seconds", s.now().Sub(start).Seconds(), "err", err)
		}
		if errors.Is(err, errLost) {
			s.metrics.jobs.WithLabelValues("lost").Inc()
			return done, nil
		}
		if err != nil {
			s.metrics.jobs.WithLabelValues("failed").Inc()
			return done, fmt.Errorf("clean %s/%d: %w", ref.TopicID, ref.Partition, err)
		}
		done += res.Segments
		if res.Segments > 0 {
			if rows, err = s.meta.IndexRows(ctx, ref.TopicID, ref.Partition, 0, 0); err != nil {
				return done, err
			}
		}
		// Clean rows are the cleaner's; object compaction merges only
		// what follows them.
		rows = rows[PlanClean(rows, s.now().UnixMilli(), *cleaning).Clean:]
	}
	in := PlanInput{Ref: ref, Rows: rows, OldestFlush: pr.OldestFlush, Now: s.now(), ExpireBefore: expireBefore}
	if urgent {
		in.OldestFlush = in.Now.Add(-s.cfg.MaxLag)
	}
	lagged := !pr.OldestFlush.IsZero() && s.now().Sub(pr.OldestFlush) >= s.cfg.MaxLag
	for i, job := range Plan(in, s.cfg.planConfig()) {
		if i > 0 && s.yield(ref, s.now(), lagged) {
			// Produce got busy while the first jobs ran: the rest is
			// not overdue and waits for a later pass.
			return done, nil
		}
		if lease.Expires.Sub(s.now()) < s.cfg.LeaseTTL/2 {
			if lease, err = s.meta.ClaimLease(ctx, s.cfg.Holder, ref.TopicID, ref.Partition, s.now(), s.cfg.LeaseTTL); err != nil {
				return done, nil // lost it: the next holder replans
			}
		}
		weight := min(job.Bytes, s.cfg.MaxBytesInFlight)
		if err := s.bytes.Acquire(ctx, weight); err != nil {
			return done, err
		}
		start := s.now()
		res, err := s.runJob(ctx, lease, job)
		s.bytes.Release(weight)
		if errors.Is(err, errLost) {
			s.metrics.jobs.WithLabelValues("lost").Inc()
			s.log.Info("compaction job lost its race", "topic", ref.TopicID, "partition", ref.Partition,
				"from", job.Inputs[0].BaseOffset, "err", err)
			return done, nil
		}
		if err != nil {
			s.metrics.jobs.WithLabelValues("failed").Inc()
			return done, fmt.Errorf("compaction job %s/%d from %d: %w", ref.TopicID, ref.Partition, job.Inputs[0].BaseOffset, err)
		}
		done++
		s.metrics.jobs.WithLabelValues("ok").Inc()
		s.metrics.bytesRewritten.Add(float64(res.InputBytes))
		s.log.Info("compacted", "topic", ref.TopicID, "partition", ref.Partition, "why", job.Why,
			"from", job.Inputs[0].BaseOffset, "to", job.Inputs[len(job.Inputs)-1].LastOffset,
			"inputs", len(job.Inputs), "input_bytes", res.InputBytes, "segment", res.Key,
			"segment_bytes", res.Output, "chunks", res.Chunks, "batches", res.Batches,
			"seconds", s.now().Sub(start).Seconds())
	}
	return done, nil
}

// cleanDue reports whether a partition of a compacted topic needs a
// cleaning pass now (PlanClean on its index rows, read without a lease).
func (s *Service) cleanDue(ctx context.Context, ref metastore.PartitionRef, c Cleaning) (bool, error) {
	rows, err := s.meta.IndexRows(ctx, ref.TopicID, ref.Partition, 0, 0)
	if err != nil {
		return false, err
	}
	return PlanClean(rows, s.now().UnixMilli(), c).Why != "", nil
}

// RunOnce runs every job once, in order: compaction, retention, garbage
// collection and the orphan sweep (the last two unless NoGC), then
// refreshes the gauges. It returns the jobs' errors joined.
func (s *Service) RunOnce(ctx context.Context) error {
	var errs []error
	if n, err := s.CompactOnce(ctx); err != nil {
		errs = append(errs, err)
	} else {
		s.log.Info("compaction pass", "jobs", n)
	}
	if _, err := s.RetainOnce(ctx); err != nil {
		errs = append(errs, err)
	}
	if !s.cfg.NoGC {
		if _, err := s.CollectOnce(ctx); err != nil {
			errs = append(errs, err)
		}
		if _, err := s.SweepOnce(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.UpdateStats(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
