// Package partlog is the log of every partition an agent serves: ownership
// state, appends with idempotent-producer checks, the high watermark, the
// in-memory tail, and reads (by offset and by timestamp) from the tail, the
// read cache or the object store.
//
// # Basics
//
// A Registry holds the agent's topics (by name and by ID) and the resources
// their partitions share: the write-ahead buffer (one log for all
// partitions), the memory budget of the tails, the budget of bytes accepted
// but not yet committed, and the "a high watermark advanced" signal that
// long-polling fetches and acks=all produces wait on.
//
// A Partition is in one of three states (State): Unowned (not served
// here), Owned (appends accepted at the current epoch) or Releasing
// (appends stopped; waiting for its buffered bytes to be committed before
// ownership is given up). Package ownership moves partitions between
// states through Claimed, StopAppends, Released and TakenOver; package
// flush reads the write-ahead buffer, chains its plans from ChainStart and
// publishes commits through Committed and Discard. Nothing here knows the
// Kafka wire protocol: the request layer calls Append, AwaitDurable, Read,
// FindTimestamp and the accessors, and maps the errors in errors.go to
// Kafka codes.
//
// Append validates every batch first (a request is appended whole or not
// at all), then under the partition's lock checks sequences, assigns
// offsets and appends to the write-ahead buffer, so the buffer holds each
// partition's batches in offset order.
//
// Only offsets below the high watermark are ever read: that data is in
// object storage and indexed, so nothing a consumer sees can vanish or be
// renumbered. The flusher alone advances the high watermark.
//
// Reads look index rows up 32 at a time and keep the run for sequential
// readers; a row is a flush row (read whole) or a compacted segment
// (read block by block through tiering.Reader). Compaction replaces rows
// and garbage collection later deletes their objects, so a kept row can
// name an object that is gone: the read that finds it so drops the run,
// asks the metastore again, and reads the row that holds the offset now;
// if the offset is now below the log start (re-read from the metastore:
// retention may have run in another process), Read returns what it has,
// without error, and LogStart tells the request layer OFFSET_OUT_OF_RANGE.
// A read that continues where an earlier one ended gets full read-ahead.
//
// # Caveats
//
// Topic and partition snapshots: a Topic's partition list and configs are
// an immutable snapshot swapped as a whole (CreatePartitions,
// AlterConfigs); code that holds an old snapshot sees the old values until
// it asks again.
//
// Buffered bytes are counted per partition and in total; both change only
// through Partition.addBuffered, so they cannot drift apart.
//
// Locks are taken in the order DESIGN.md writes down ("Goroutines and
// lock order"); the catalog lock is never held during metastore I/O.
package partlog
