// Package objstore is the small blob-store interface segment objects are
// written to and read from.
//
// # Basics
//
// Store is a flat key → bytes store with Put, Get, GetRange, Stat, List and
// Delete, ctx first on each. Implementations: fs (a local directory,
// atomic rename), mem (in memory, with injectable faults, for tests) and s3
// (S3 and MinIO through aws-sdk-go-v2). All of them pass objstoretest.Run.
// Metered wraps any Store with Prometheus counters; package open opens one
// by URL.
//
// Two optional interfaces, in the manner of io.WriterTo: BatchDeleter
// (DeleteBatch, up to MaxBatchDelete keys a request: S3 DeleteObjects; fs
// and mem too) and UploadAborter (AbortStaleUploads: S3's incomplete
// multipart uploads). DeleteKeys deletes any number of keys, batched where
// the store can. A failed key of a batch is a KeyError.
//
// # Caveats
//
// Keys follow one rule set for every implementation (internal/objkey).
// Put is atomic but there are no conditional writes: the metastore, not
// the store, decides which objects are live.
package objstore
