// Package open opens an object store backend by URL: the one place that
// maps URL schemes to the objstore implementations.
//
// # Basics
//
// ObjectStore opens file://DIR (tiering/objstore/fs: a local directory,
// relative or absolute) or s3://BUCKET/PREFIX?endpoint=...&region=...&
// path_style=true (tiering/objstore/s3, credentials from the standard AWS
// chain).
//
// # Caveats
//
// A malformed URL, an unknown scheme or an s3 URL that s3.Open rejects is
// ErrBadURL, a configuration error; anything else (say, a directory that
// cannot be created) is the backend's own error. URLs in error texts pass
// through redact.URL.
package open
