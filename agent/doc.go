// Package agent is a Strata agent: a Kafka-protocol broker that keeps no
// durable state of its own beyond a write-ahead buffer.
//
// # Basics
//
// A connection (conn.go) reads size-prefixed frames (agent/wire), decodes
// them with kmsg and dispatches on the API key to one handler file per key
// (00_produce.go, 01_fetch.go, ...); versions.go holds the one table of
// served version ranges that the ApiVersions answer is generated from.
//
// Produce appends validated batches, with offsets assigned, to the
// write-ahead buffer (agent/wal). The flusher (flusher.go) seals the buffer
// every FlushInterval or FlushBytes, writes one segment object holding the
// new batches of every partition, uploads it, and commits the segment index
// and new high watermarks in one metastore transaction fenced by the
// partitions' epochs. Fetch serves only offsets below the high watermark:
// from the in-memory tail (tail.go) when it can, else from object storage
// through the read cache (read.go).
//
// # Goroutines and locks
//
// The agent owns: the accept loop, one reader and one writer goroutine per
// connection (plus short-lived goroutines for requests that wait), the
// flusher, the heartbeat loop and the admin HTTP server. Shutdown stops them
// in that order.
//
// Lock order: partition.mu → (wal's internal lock); Agent.catalogMu is never
// held while taking partition.mu; tail.mu is a leaf.
//
// # Caveats
//
// Partitions and group coordinators are shared among the live agents by
// rendezvous hashing (ownership.go); a dead agent's share moves when its
// lease expires, so LeaseTTL bounds failover. Placement ignores racks.
package agent
