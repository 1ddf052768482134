// Package ownership decides which agent serves which partition and which
// agent coordinates which consumer group, and keeps this agent's view of
// the catalog in step with the metastore.
//
// # Basics
//
// Agents register with a lease (LeaseTTL) and heartbeat every third of it.
// Every third of a lease the Manager lists the live agents (unexpired
// leases) and, for each partition, computes the desired owner by
// rendezvous hashing over them (FNV-1a of the key and agent ID, mixed with
// a splitmix64 finalizer; removing an agent moves only its own
// partitions). It claims a partition it should own whose owner is absent
// or dead (the metastore bumps the epoch, fencing every later write of the
// previous owner), releases one it should no longer own once its buffered
// data is committed, and drops at once one it finds owned by another
// agent: its commits would be fenced anyway. With one live agent, that
// agent owns everything. The same pass picks up topics created, grown or
// deleted through other agents.
//
// Consumer groups are placed by the same hash of the group name
// (CoordinatorFor). After each pass the AfterPass hook runs, so the group
// coordinator can drop groups that moved.
//
// # Caveats
//
// The live-agent view is the one of the last pass or Agents call: a new
// agent is seen by the others within a third of a lease. Metadata asks
// Agents (fresh); FindCoordinator uses the cached view.
//
// Each pass reads every topic's partitions: fine for thousands of
// partitions, not for hundreds of thousands (a batched query or change
// notifications would be next).
package ownership
