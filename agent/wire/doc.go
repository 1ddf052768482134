// Package wire frames Kafka requests and responses on a connection: the
// 4-byte size prefix, the request header (v1 and flexible v2) and the
// response header.
//
// # Basics
//
// ReadFrame reads one size-prefixed frame, refusing sizes below the
// smallest header or above the configured limit before it allocates
// anything. ParseRequest decodes the header and hands the body to the
// franz-go kmsg type for the API key and version; AppendResponse encodes a
// response with the header its request's version calls for, and
// ResponseBuffers does the same as buffers for a vectored write, in which
// a Fetch response's large record sets are referenced, not copied.
//
// # Caveats
//
// Bodies are decoded and encoded by github.com/twmb/franz-go/pkg/kmsg,
// never by hand. An unknown API key or version is an error for the caller
// to answer (ApiVersions) or to close the connection on. The decoder is
// fuzzed (wire_fuzz_test.go).
package wire
