// Package flush moves an agent's buffered batches into object storage and
// the metastore: it seals the open write-ahead generation, builds one
// segment object holding each partition's new batches, uploads it, and
// commits its index rows and high watermarks in one metastore transaction
// fenced by the partitions' ownership epochs.
//
// # Basics
//
// A Flusher is a pipeline of two goroutines. The sealer seals the open
// generation when the flush policy says so (policy.go): at once while no
// upload is in flight, beside another upload only at twice FlushBytes
// (then even with no upload slot free) or after FlushInterval, and never
// sooner than FlushMinInterval after the last seal unless FlushBytes are
// buffered. It asks the policy again on every append (the partition log
// kicks it) and whenever an upload or a commit finishes. It plans a
// sealed generation once an upload slot is free (plan.go): entries
// grouped by partition in offset order, each partition's share chained
// from the high watermark and producer state the previous plan ended
// with. Up to MaxUploads objects upload at once
// (object stores reward parallel PUTs). The committer takes plans in seal
// order and commits each one (commit.go): per partition the index rows,
// the new high watermark conditioned on the previous one (so offsets stay
// dense and commits happen in seal order) and the producer state as of
// that high watermark, all conditioned on the epoch. Only then does the
// partition log publish the new high watermark and keep the chunks in its
// tail. The sealed generation's file is deleted after its commit.
//
// A failed upload or commit is retried with backoff; the object is built
// once. A commit refused as fenced or conflicting is reconciled against
// the metastore: partitions still owned and unchanged are retried,
// partitions whose epoch moved are dropped (counted), and partitions an
// earlier attempt already committed (an answer lost in transit) are
// published. A commit refused because the object was uploaded more than
// metastore.MaxCommitDelay earlier (ErrStaleObject: the orphan sweeper
// may delete such an object) is reconciled the same way, then the same
// bytes are uploaded under a new key and the rest committed with that,
// before any later plan; the old object is left to the sweeper.
//
// # Caveats
//
// Epochs: a generation can hold batches of one partition under several
// epochs (the partition was lost and claimed again before the generation
// was sealed). Only batches of the partition's current epoch can ever be
// committed; the planner discards the others (counted in
// strata_wal_discarded_batches_total) and starts a new chain for the new
// epoch from the state it was claimed with.
//
// Ordering: plans commit strictly in seal order. A plan whose upload keeps
// failing holds back every later plan; produce pushes back with a
// retriable error once BufferBytes are buffered.
package flush
