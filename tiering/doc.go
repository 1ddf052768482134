// Package tiering moves data between agents and object storage: the
// object-store interface (objstore and its implementations), the segment
// object format (segment), the Kafka v2 record batch format as stored
// (batch), and a byte-budgeted local read cache for historical reads.
//
// # Basics
//
// tiering knows nothing of Kafka requests: it stores and finds bytes. The
// metastore's segment index says which object and byte range hold which
// offsets; this package writes and reads those ranges.
package tiering
