package compaction

import (
	"time"

	"github.com/stratalog/strata/metastore"
)

// Job is one compaction: a contiguous run of one partition's index rows,
// in offset order, to be rewritten as one per-partition segment object.
type Job struct {
	Ref    metastore.PartitionRef
	Inputs []metastore.IndexRow
	// Bytes is the sum of the inputs' sizes: what the job reads, and
	// about what it writes.
	Bytes int64
	// Why is "full" (enough bytes for a segment), "lag" (flush data older
	// than the maximum lag), "merge" (small segments merged together).
	Why string
}

// PlanInput is what the planner knows of one partition.
type PlanInput struct {
	Ref metastore.PartitionRef
	// Rows are the partition's index rows from its log start, in offset
	// order.
	Rows []metastore.IndexRow
	// OldestFlush is when the oldest flush object holding one of Rows was
	// written (zero if none is known).
	OldestFlush time.Time
	Now         time.Time
	// ExpireBefore, if not 0, is a timestamp (ms): the leading rows whose
	// MaxTimestamp is below it are left out, since retention deletes them
	// before compaction would pay off (the caller sets it to the
	// retention cutoff a max lag from now).
	ExpireBefore int64
}

// PlanConfig is the part of Config the planner reads.
type PlanConfig struct {
	// TargetBytes is the size a segment is cut at: an output never holds
	// more input bytes than this, unless one input alone is larger.
	TargetBytes int64
	// MaxLag is how long flush data may wait for enough bytes to fill a
	// segment: once the partition's oldest flush object is older, all its
	// flush rows are compacted, however few.
	MaxLag time.Duration
	// MergeCount is how many consecutive small segments (each under
	// TargetBytes/2) are merged into one (fewer when they make at least
	// TargetBytes/2 together), provided none of them holds more than half
	// of their bytes: a segment is rewritten only once the others
	// together have grown as large as it, so each byte is rewritten
	// O(log) times.
	MergeCount int
}

// Plan returns the compaction jobs for one partition: a pure function of
// its index rows, the age of its oldest flush object, the clock and the
// retention cutoff.
//
// Flush rows are grouped, in offset order, into outputs of at most
// TargetBytes; an output is a job when it is full (at least TargetBytes/2)
// or when MaxLag has passed since the oldest flush object was written —
// then every flush row goes, so no flush data waits longer than MaxLag
// plus a pass. Segment rows break flush runs: flush data is never merged
// into an existing segment (that would rewrite the segment on every pass
// at a trickle). Separately, runs of small segments (under TargetBytes/2)
// are merged MergeCount or more at a time as described at MergeCount.
func Plan(in PlanInput, cfg PlanConfig) []Job {
	lagged := !in.OldestFlush.IsZero() && in.Now.Sub(in.OldestFlush) >= cfg.MaxLag
	rows := in.Rows
	if in.ExpireBefore != 0 {
		// Retention deletes a prefix: the rows up to the first one with a
		// record at or after its cutoff.
		for len(rows) > 0 && rows[0].MaxTimestamp < in.ExpireBefore {
			rows = rows[1:]
		}
	}
	var jobs []Job
	var run []metastore.IndexRow // consecutive rows of one kind
	flushRun := func() {
		if len(run) == 0 {
			return
		}
		if run[0].Kind == metastore.RowFlush {
			jobs = append(jobs, planFlushRun(in.Ref, run, lagged, cfg)...)
		} else {
			jobs = append(jobs, planSegmentRun(in.Ref, run, cfg)...)
		}
		run = nil
	}
	for _, r := range rows {
		small := r.Kind == metastore.RowSegment && r.Size < cfg.TargetBytes/2
		switch {
		case r.Kind == metastore.RowFlush:
			if len(run) > 0 && run[0].Kind != metastore.RowFlush {
				flushRun()
			}
			run = append(run, r)
		case small:
			if len(run) > 0 && run[0].Kind != metastore.RowSegment {
				flushRun()
			}
			run = append(run, r)
		default: // a full segment: left alone
			flushRun()
		}
	}
	flushRun()
	return jobs
}

// cut splits rows into consecutive groups of at most target bytes (a
// group holds at least one row).
func cut(rows []metastore.IndexRow, target int64) [][]metastore.IndexRow {
	var groups [][]metastore.IndexRow
	var cur []metastore.IndexRow
	var size int64
	for _, r := range rows {
		if len(cur) > 0 && size+r.Size > target {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, r)
		size += r.Size
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

func sum(rows []metastore.IndexRow) int64 {
	var n int64
	for _, r := range rows {
		n += r.Size
	}
	return n
}

func planFlushRun(ref metastore.PartitionRef, run []metastore.IndexRow, lagged bool, cfg PlanConfig) []Job {
	var jobs []Job
	for _, g := range cut(run, cfg.TargetBytes) {
		n := sum(g)
		switch {
		case n >= cfg.TargetBytes/2:
			jobs = append(jobs, Job{Ref: ref, Inputs: g, Bytes: n, Why: "full"})
		case lagged:
			jobs = append(jobs, Job{Ref: ref, Inputs: g, Bytes: n, Why: "lag"})
		}
	}
	return jobs
}

func planSegmentRun(ref metastore.PartitionRef, run []metastore.IndexRow, cfg PlanConfig) []Job {
	var jobs []Job
	for len(run) >= 2 {
		// The longest prefix of run within TargetBytes whose largest
		// segment holds at most half of its bytes, if it has MergeCount
		// segments or makes a segment of at least TargetBytes/2;
		// otherwise try from the next segment.
		var best []metastore.IndexRow
		var size, largest int64
		for i, r := range run {
			if size+r.Size > cfg.TargetBytes {
				break
			}
			size += r.Size
			largest = max(largest, r.Size)
			if i > 0 && (i+1 >= cfg.MergeCount || size >= cfg.TargetBytes/2) && 2*largest <= size {
				best = run[:i+1]
			}
		}
		if best == nil {
			run = run[1:]
			continue
		}
		jobs = append(jobs, Job{Ref: ref, Inputs: best, Bytes: sum(best), Why: "merge"})
		run = run[len(best):]
	}
	return jobs
}
