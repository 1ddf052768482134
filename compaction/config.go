package compaction

import (
	"errors"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Config configures a Service. The zero value of every field means its
// default (see EnsureDefaults); README's configuration table gives the
// reasons for the defaults.
type Config struct {
	// Holder names this compactor in partition leases: the agent ID, or
	// "compactor-<host>-<pid>" for `strata compactor`. Required.
	Holder string

	// TargetSegmentBytes is the size segments are cut at (64 MiB).
	TargetSegmentBytes int64
	// ChunkBytes is the sparse index interval inside a segment: one
	// footer entry (offsets, timestamps, position) per this many bytes of
	// batches (1 MiB): a reader fetches a segment in whole chunks.
	ChunkBytes int64
	// MaxLag is how long flush data may wait before it is compacted
	// however little there is (2 min), so data is in per-partition
	// segments within MaxLag + Interval of being written.
	MaxLag time.Duration
	// MergeCount: see PlanConfig (4).
	MergeCount int
	// Interval is how often compaction looks for work (15 s).
	Interval time.Duration
	// MaxJobs bounds concurrent compaction jobs (2).
	MaxJobs int
	// MaxBytesInFlight bounds the input bytes of running jobs (256 MiB);
	// a job larger than it runs alone.
	MaxBytesInFlight int64
	// MaxRequestsPerSecond bounds this compactor's object-store requests
	// (GET, PUT, DELETE batches; 200). Negative means unlimited.
	MaxRequestsPerSecond float64
	// LeaseTTL is how long a partition lease lasts unless renewed (2 min);
	// a job must finish within it.
	LeaseTTL time.Duration
	// RewriteLiveRatio: flush objects whose live share falls below it
	// (0.5) have their remaining rows compacted at once, without waiting
	// for MaxLag.
	RewriteLiveRatio float64

	// DedupeBytes bounds the memory of the key cleaner's offset map (64
	// MiB: 16 bytes a key, a power of two of slots filled to 0.9, about
	// 3.7 million keys; a pass takes no more than its dirty data can
	// need; Kafka's log.cleaner.dedupe.buffer.size is 128 MiB shared by
	// its cleaner threads): a partition with more distinct dirty keys is
	// cleaned in several passes.
	DedupeBytes int64

	// RetentionCheckInterval is how often retention is enforced (30 s;
	// Kafka's log.retention.check.interval.ms is 5 min).
	RetentionCheckInterval time.Duration
	// RetentionMs and RetentionBytes are the broker defaults for topics
	// without retention.ms / retention.bytes (7 days, -1 = no limit).
	RetentionMs    int64
	RetentionBytes int64

	// GCGrace is how long a dead object stays before it is deleted
	// (20 s): longer than a read that resolved it takes (one range GET);
	// a reader that still finds it gone re-resolves. Short, because dead
	// bytes cost rate × (grace + interval/2) of bucket space.
	GCGrace time.Duration
	// GCInterval is how often dead objects are collected (5 s).
	GCInterval time.Duration
	// OrphanAge is how old an object unknown to the metastore must be
	// before the sweeper deletes it (1 h; at least 2 ×
	// metastore.MaxCommitDelay, so no commit can still be coming).
	OrphanAge time.Duration
	// SweepInterval is how often the bucket is listed for orphans
	// (10 min).
	SweepInterval time.Duration

	// Owns, if set, limits compaction and retention to the partitions it
	// returns true for (an agent compacts the partitions it owns). Nil
	// means every partition (`strata compactor`).
	Owns func(metastore.PartitionRef) bool
	// Busy, if set, reports that produce needs the object store now (an
	// agent's uploads are behind); while it does, only overdue work runs:
	// partitions whose oldest flush data is past MaxLag. Compaction yields
	// to produce bursts and catches up after them.
	Busy func() bool
	// OnLogStart, if set, is told when retention moves a partition's log
	// start, so an agent serving it updates its view at once.
	OnLogStart func(ref metastore.PartitionRef, logStart int64)
	// NoGC turns garbage collection and the orphan sweep off.
	NoGC bool
	// Janitor, if set, says whether this Service is the one that collects
	// garbage and sweeps orphans now: those jobs are cluster-wide, so of
	// many agents only one (chosen by rendezvous over the live agents)
	// runs them. Nil means this one always does (`strata compactor`).
	Janitor func() bool
	// Now is the clock (time.Now if nil); tests move it forward to age
	// objects and leases.
	Now func() time.Time
	// CrashAt names a step at which the process kills itself with
	// SIGKILL ("after-put", "after-switch", "gc-before-delete",
	// "gc-after-delete", "retention-before-trim", "retention-after-trim"):
	// fault injection for the crash tests only.
	CrashAt string
}

// EnsureDefaults fills in zero fields.
func (c *Config) EnsureDefaults() {
	def := func(p *int64, v int64) {
		if *p == 0 {
			*p = v
		}
	}
	dur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.TargetSegmentBytes, 64<<20)
	def(&c.ChunkBytes, 1<<20)
	dur(&c.MaxLag, 2*time.Minute)
	if c.MergeCount == 0 {
		c.MergeCount = 4
	}
	dur(&c.Interval, 15*time.Second)
	if c.MaxJobs == 0 {
		c.MaxJobs = 2
	}
	def(&c.MaxBytesInFlight, 256<<20)
	if c.MaxRequestsPerSecond == 0 {
		c.MaxRequestsPerSecond = 200
	}
	dur(&c.LeaseTTL, 2*time.Minute)
	if c.RewriteLiveRatio == 0 {
		c.RewriteLiveRatio = 0.5
	}
	def(&c.DedupeBytes, 64<<20)
	dur(&c.RetentionCheckInterval, 30*time.Second)
	def(&c.RetentionMs, 7*24*3600*1000)
	def(&c.RetentionBytes, -1)
	dur(&c.GCGrace, 20*time.Second)
	dur(&c.GCInterval, 5*time.Second)
	dur(&c.OrphanAge, time.Hour)
	dur(&c.SweepInterval, 10*time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first bad setting.
func (c *Config) Validate() error {
	switch {
	case c.Holder == "":
		return errors.New("compaction: empty holder")
	case c.TargetSegmentBytes < 1<<20:
		return fmt.Errorf("compaction: target segment bytes %d < 1 MiB", c.TargetSegmentBytes)
	case c.ChunkBytes < 4<<10 || c.ChunkBytes > c.TargetSegmentBytes:
		return fmt.Errorf("compaction: chunk bytes %d outside [4 KiB, target segment bytes]", c.ChunkBytes)
	case c.MaxLag < 0, c.Interval <= 0, c.LeaseTTL <= 0, c.RetentionCheckInterval <= 0,
		c.GCGrace < 0, c.GCInterval <= 0, c.SweepInterval <= 0:
		return errors.New("compaction: negative or zero interval")
	case c.DedupeBytes < 16<<10:
		return fmt.Errorf("compaction: dedupe bytes %d < 16 KiB", c.DedupeBytes)
	case c.MergeCount < 2:
		return fmt.Errorf("compaction: merge count %d < 2", c.MergeCount)
	case c.MaxJobs < 1:
		return fmt.Errorf("compaction: max jobs %d < 1", c.MaxJobs)
	case c.MaxBytesInFlight < 1:
		return fmt.Errorf("compaction: max bytes in flight %d < 1", c.MaxBytesInFlight)
	case c.RewriteLiveRatio < 0 || c.RewriteLiveRatio > 1:
		return fmt.Errorf("compaction: rewrite live ratio %g outside [0, 1]", c.RewriteLiveRatio)
	case c.RetentionMs < -1 || c.RetentionBytes < -1:
		return errors.New("compaction: retention below -1")
	case c.OrphanAge < 2*metastore.MaxCommitDelay:
		return fmt.Errorf("compaction: orphan age %s is less than twice the maximum commit delay %s", c.OrphanAge, metastore.MaxCommitDelay)
	}
	return nil
}

func (c *Config) planConfig() PlanConfig {
	return PlanConfig{TargetBytes: c.TargetSegmentBytes, MaxLag: c.MaxLag, MergeCount: c.MergeCount}
}
