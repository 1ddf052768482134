// Package kafka is the agent's Kafka request layer: connections, framing
// (agent/wire), the dispatch table, one handler per API key and the one
// mapping of internal errors to Kafka error codes.
//
// # Basics
//
// Server.ServeListener accepts connections of one listener (Listener:
// name, security protocol, advertised address, TLS); Serve takes the
// first. Each connection has a reader goroutine
// that decodes requests (kmsg) and runs each handler's ordered part in
// arrival order (so produce appends keep the client's order), and a writer
// goroutine that sends responses in request order, as Kafka requires.
// Handlers that wait (acks>0 produce, long-poll fetch, JoinGroup and
// SyncGroup) finish from their own goroutine or callback.
//
// versions.go is the one table of served API keys and version ranges; the
// ApiVersions answer and README's API table come from it. Each NN_*.go file
// opens with the versions and behaviour it supports. Handlers translate
// kmsg types to those of partlog, ownership and group, and errors.go maps
// those packages' errors to Kafka codes; a failure on one partition sets
// that partition's code only.
//
// # Caveats
//
// Malformed, oversized or unsupported frames close the connection: the
// frame size is checked before anything is allocated (agent/wire, fuzzed).
// An ApiVersions request newer than served is answered the Kafka way (v0,
// UNSUPPORTED_VERSION, the table) so the client retries lower.
//
// Authentication (sasl.go, 17_sasl_handshake.go, 36_sasl_authenticate.go;
// mechanisms in package auth) sets conn.principal ("User:ANONYMOUS" until
// then); conn.admits is the one gate of unauthenticated requests. The
// authorisation a request needs is not declared yet: every principal may
// do everything (see README's "What is missing").
package kafka
