// Package wal is the agent's local write-ahead buffer: one append-only log
// for the batches of all partitions the agent owns, with group-committed
// fsync, split into generations that the flusher seals, uploads and then
// releases.
//
// # Basics
//
// Append queues an Entry (topic id, partition, owner epoch, record batch)
// in the open generation and returns a Sync at once; it never waits for
// the disk. One writer goroutine drains everything queued, writes it, calls
// fsync once (group commit: under load one fsync covers many appends) and
// then completes all those Syncs. A produce with acks=0/1 answers after its
// Sync.
//
// Seal closes the open generation atomically with respect to Append: the
// sealed Gen holds exactly the entries appended before Seal, in order, in
// memory, ready to be written into a segment object. Release deletes the
// generation's file once its object is uploaded and committed.
//
// On Open, every *.wal file in the directory is replayed, in file order,
// into Recovered. The agent re-appends or uploads what it still owns and
// then calls DropRecovered.
//
// # Format
//
// Each generation writes its own file, named by a 20-digit zero-padded
// sequence number (00000000000000000042.wal), so file order is append
// order. Numbers are never reused: new files continue after the highest
// present at Open. A file is an 8-byte header ("SWAL", big-endian uint32
// version 1) followed by records:
//
//	uint32  payload length (24 + batch length), big-endian
//	uint32  CRC-32C (Castagnoli) of the payload
//	payload: [16]byte topic id, int32 partition, int32 epoch, batch bytes
//
// Replay checks each length (at most 128 MiB, and no more than the file has
// left) before allocating, then the CRC. A torn or corrupt record ends that
// file's replay with a warning, not an error: the entries before it are
// kept, later files are still replayed.
//
// # Errors
//
// When a write or fsync fails, the Syncs of that drain fail with the error
// and the log stays usable: since after a failed fsync the kernel may have
// dropped the dirty pages (and a second fsync may falsely succeed), the
// file is never written again. It is cut back to its last synced length
// (deleted if nothing was synced) and the generation's next write starts a
// fresh, higher-numbered file. A generation can thus own several files;
// Release deletes them all. The failed entries stay in the generation's
// Entries, so they are uploaded with the rest: a producer told its batch
// failed may find it stored, as Kafka allows for a failed produce.
//
// # Caveats
//
//   - Only one Log may use a directory at a time; nothing enforces it.
//   - If the cleanup after a failed write itself fails, a later replay may
//     return entries whose Syncs failed (at-least-once, as Kafka allows for
//     a failed produce). Replay may likewise return entries of a generation
//     whose Release had not yet been made durable when the agent crashed;
//     the agent skips batches below the committed high watermark.
//   - Append takes ownership of the batch slice; nothing is copied.
package wal
