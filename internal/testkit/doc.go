// Package testkit holds test doubles shared by the packages' tests.
//
// # Basics
//
// FaultStore wraps a real metastore.Store and injects faults into flush
// commits on demand: hold them (block until released), fail the next n,
// or make the next n ambiguous (committed, yet answered with an error, as
// when the answer is lost in transit). Everything else passes through.
//
// # Caveats
//
// Only CommitFlush is faulted; the wrapper is for tests, never for a
// running agent.
package testkit
