// Package metastore defines Store, the metadata an agent and background
// jobs need: topics, partition ownership and epochs, the segment index,
// high watermarks, idempotent-producer state and agent registrations.
//
// # Basics
//
// Implementations live in sub-packages and are chosen by URL scheme:
// sqlite://PATH (metastore/sqlite, embedded, one machine) and, later,
// postgres:// (metastore/postgres). Every implementation passes the
// conformance suite in metastore/metastoretest.
//
// # Caveats
//
// Writes for a partition are fenced by the owner's epoch: a stale writer
// gets ErrFenced and must not acknowledge anything it tried to write.
package metastore
