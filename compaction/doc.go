// Package compaction is Strata's storage lifecycle: it merges flush
// objects into per-partition segments, enforces retention, and collects
// garbage. One Service runs every job on its own interval; every agent
// runs one for the partitions it owns, and `strata compactor` runs one for
// all partitions, beside or instead of the agents.
//
// # Basics
//
// Compaction. Plan is a pure function of a partition's index rows (and
// the age of its oldest flush object): flush rows are cut, in offset
// order, into outputs of at most Config.TargetSegmentBytes; an output
// becomes a job when it holds at least half a segment, or when the
// partition's oldest flush data is older than Config.MaxLag. Runs of small
// segments are merged size-tiered (see PlanConfig.MergeCount). A job reads
// its inputs (one range GET per run of rows back to back in one flush
// object), checks every batch (CRC, offsets in order, inside their rows),
// writes one segment object (tiering/segment format, one partition,
// chunks of Config.ChunkBytes listed in the footer: the sparse offset and
// time index readers use) under a new key that no other attempt can
// share (SegmentKey), and switches the index to it in one metastore
// transaction (metastore.Lifecycle.Replace).
//
// Fencing. A compactor works a partition only under its lease (one holder
// at a time, a token that grows on every change of holder); the switch
// checks the lease token and that every input row is still there
// unchanged, so two compactors never both install a result for a range,
// and a compactor that lost its lease, or raced retention, deletes its
// output and changes nothing.
//
// Retention. Per topic, retention.ms and retention.bytes over the broker
// defaults; cleanup.policy must include delete. The unit is an index row
// (before compaction, ~512 KiB) or a segment (after): a unit goes only
// when its largest timestamp is past retention.ms, or when the partition
// still holds at least retention.bytes without it (Kafka's rule, with
// Kafka's segment replaced by ours). The log start moves with TrimLog,
// which deletes the rows below it in the same transaction; the high
// watermark never moves.
//
// Garbage collection. The metastore accounts every object's live bytes
// (the sizes of the index rows that point into it). An object with none
// is dead for good: CommitFlush refuses its key, and once forgotten the
// key stays refused for metastore.MaxCommitDelay. CollectOnce deletes
// objects dead for longer than Config.GCGrace (batched, S3 DeleteObjects
// of up to 1,000 keys), then forgets them. SweepOnce lists the bucket and
// deletes objects of Strata's key shapes that the metastore does not know
// and that are older than Config.OrphanAge (at least twice
// MaxCommitDelay, so no commit can still be coming): uploads whose commit
// was fenced or never happened, outputs of crashed compactions. It aborts
// stale multipart uploads too.
//
// # Caveats
//
// A reader that resolved an index row before a switch and reads after GC
// deleted the object gets ErrNotExist; partlog re-resolves the offset
// through the metastore, so clients never see it. GCGrace only makes that
// rare.
//
// The orphan sweep lists the whole bucket (prefix of the store); it runs
// every Config.SweepInterval, not on every pass.
//
// Bounds: at most Config.MaxJobs jobs and Config.MaxBytesInFlight input
// bytes at once, and Config.MaxRequestsPerSecond object-store requests, so
// compaction cannot starve produce of bandwidth or memory.
package compaction
