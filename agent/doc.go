// Package agent is a Strata agent's composition root and its Kafka
// request layer: New wires the backends, the partition log (partlog), the
// flusher (flush), ownership (ownership) and the group coordinator (group)
// together, and serves the Kafka protocol on top of them.
//
// # Basics
//
// A connection (conn.go) reads size-prefixed frames (agent/wire), decodes
// them with kmsg and dispatches on the API key to one handler file per key
// (00_produce.go, 01_fetch.go, ...); versions.go holds the one table of
// served version ranges that the ApiVersions answer is generated from.
// Handlers translate between kmsg and the subsystems' own types; errors.go
// maps the subsystems' errors to Kafka codes in one place.
//
// The agent owns the accept loop, one reader and one writer goroutine per
// connection (plus short-lived goroutines for requests that wait: acks>0
// produce, long-poll fetch) and the admin HTTP server; the flusher and the
// ownership manager own their loops. Shutdown closes listeners and
// connections, stops the group coordinator, flushes everything buffered,
// releases partitions, then stops the loops; Close skips the flush.
//
// # Caveats
//
// Start-up refuses a data dir another agent holds (flock on
// <data-dir>/lock) and an object store it cannot write, read and delete a
// probe object in. /readyz answers 503 with the reason while uploads or
// commits keep failing.
//
// The request layer still holds a few helpers as methods on *Agent
// (topic creation, fetch assembly, broker configs); they move to their own
// request-layer package next.
package agent
