// Package metastore defines Store, the metadata an agent and background
// jobs need: topics, partition ownership and epochs, the log index (one
// IndexRow per run of a partition's batches in an object), high
// watermarks, idempotent-producer state, agent registrations and consumer
// groups (state and committed offsets).
//
// # Basics
//
// Store is the sum of role interfaces, one per concern: Cluster (cluster
// ID, agent registrations), Catalog (topics, configs, partitions),
// Ownership (Claim, Release), LogIndex (flushes, the log index, log
// bounds), Producers (idempotent-producer state and IDs), Groups
// (consumer groups and their offsets) and Lifecycle (compaction leases
// and switches, log trimming, and the objects' live bytes that garbage
// collection reads). Code that needs only part of the metastore should
// ask for that role.
//
// Implementations live in sub-packages and are chosen by URL scheme in
// metastore/open: sqlite://PATH (metastore/sqlite, embedded, one machine)
// and postgres:// (metastore/postgres, shared by a cluster of agents). Both
// are thin layers over metastore/sqlstore, which holds their common logic.
// Every implementation passes the conformance suite in
// metastore/metastoretest. Both keep their schema in embedded, versioned
// migrations with matching version numbers; `strata migrate up|status`
// applies or lists them.
//
// # Caveats
//
// Writes for a partition are fenced by the owner's epoch: a stale writer
// gets ErrFenced and must not acknowledge anything it tried to write.
// Rewrites of a partition's log index (Replace, TrimLog) are fenced by a
// compaction Lease the same way.
//
// Every object an index row points into has an object row, and an
// object's LiveBytes is always the sum of the sizes of the rows that
// point into it: an object is garbage only once no row does, and
// ForgetObjects never removes one that a row still references.
package metastore
