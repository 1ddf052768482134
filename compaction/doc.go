// Package compaction will hold Strata's background jobs: merging small
// objects into large per-partition segments, key compaction
// (cleanup.policy=compact), retention by time and size, and garbage
// collection of unreferenced objects. None of them is built yet: topics
// refuse cleanup.policy=compact, and retention settings are stored but not
// enforced (see README, "What is missing").
package compaction
