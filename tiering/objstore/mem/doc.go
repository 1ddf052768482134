// Package mem is an in-memory objstore.Store for tests, with fault
// injection and per-operation call counters.
//
// # Basics
//
// Objects live in a map guarded by a mutex. Data is copied on the way in and
// on the way out, so neither the caller nor the store can change the other's
// bytes. Put replaces the whole object under the lock, so it is atomic.
//
// SetFault installs a function called before every operation with the
// operation's name ("put", "get", "getrange", "stat", "list", "delete",
// "delete_batch") and key (the prefix, for "list"); a non-nil return is
// returned instead of doing the operation. DeleteBatch calls it once per
// key, and a fault fails that key alone (an objstore.KeyError), as S3's
// DeleteObjects reports failures per key; a test that takes deletes down
// must fault both "delete" and "delete_batch". The fault function runs without the store's lock
// held, so it may block — to hold an operation in flight while a test looks
// at its callers — or call the store itself.
//
// Calls counts every call per operation, including calls that failed, were
// faulted or were cancelled.
//
// # Caveats
//
// Memory use is the sum of object sizes; nothing is evicted.
package mem
