// Package fs is an objstore.Store kept in a local directory: one file per
// object, at the path the key names under the root directory.
//
// # Basics
//
// The key "a/b/c.seg" is the file <dir>/a/b/c.seg. Put writes the data to a
// temporary file in <dir>/.tmp (same file system, so rename is atomic),
// fsyncs it, renames it over the final path and fsyncs the directory that
// received it (and the parents of any directory it had to create), so a
// reader sees the whole old object or the whole new one, and a completed Put
// survives a crash of the machine.
//
// # Caveats
//
//   - The first key element ".tmp" is reserved; keys using it are rejected,
//     and List never returns anything under it. Temporary files left by a
//     crash are removed by Open.
//   - A key cannot be both an object and a "directory" of other objects:
//     after Put("a"), Put("a/b") fails (S3 allows both).
//   - Delete leaves empty directories behind; they cost nothing but inodes.
//   - Modified is the file's modification time.
package fs
