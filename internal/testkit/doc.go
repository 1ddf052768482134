// Package testkit is the end-to-end test harness shared by the packages'
// tests: backends, in-process agents, Kafka clients and test doubles.
//
// # Basics
//
// Backends returns a metastore URL and an object-store URL: a SQLite file
// and a directory in a temporary directory, or, when
// STRATA_TEST_BACKEND=remote, a fresh Postgres schema and S3 prefix
// (pgtest, s3test), so an end-to-end suite runs a second time on the
// production backends. RemoteBackends always returns the remote pair, for
// tests that need it in both passes.
//
// StartAgent starts an in-process agent on 127.0.0.1:0 (Serve in a
// goroutine, Close when the test ends); WithDeps hands it ready-made
// dependencies and WrapMetastore wraps its metastore, for fault
// injection. Logger is quiet unless STRATA_TEST_LOG is set.
//
// The Kafka helpers take the agent's address, so they serve in-process
// agents and agent processes (cmd/strata's tests) alike: NewClient,
// CreateTopic, ConsumeAll, ProduceBatch (one raw Produce request), Owners
// (partition owners from a metastore), and WaitFor and Await, the bounded
// polls every wait in the tests goes through.
//
// FaultStore wraps a real metastore.Store and injects faults into flush
// commits on demand: hold them (block until released), fail the next n,
// or make the next n ambiguous (committed, yet answered with an error, as
// when the answer is lost in transit). Everything else passes through.
//
// # Caveats
//
// testkit imports agent, so tests in package agent itself, and in the
// packages agent imports (flush, say), cannot use it: theirs are external
// test packages (agent_test, flush_test), and agent/export_test.go exposes
// the internals they inspect. Only test code may import testkit
// (TestOnlyTestsImportTestkit checks). Only CommitFlush is faulted by
// FaultStore; the wrapper is for tests, never for a running agent.
package testkit
