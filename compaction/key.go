package compaction

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/stratalog/strata/metastore"
)

// segmentDir is the path element of compacted segments' keys; flush
// objects have "seg" (tiering/segment.ObjectKey).
const segmentDir = "cseg"

// SegmentKey returns a new, never reused key for a compacted segment of
// the partition holding offsets [base, last]:
//
//	<hhhh>/cseg/<topic id>/<partition>/<base, 20 digits>-<last, 20 digits>-<nonce>.seg
//
// so an analytics job can find a partition's segments by listing and
// order them by name. The leading four hex digits hash the partition and
// base offset to spread request load over prefixes. The random nonce keeps
// two compactors racing the same range from ever writing the same key:
// the loser's object is deleted, never the winner's.
func SegmentKey(ref metastore.PartitionRef, base, last int64) string {
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("compaction: crypto/rand: " + err.Error())
	}
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(ref.Partition))
	binary.BigEndian.PutUint64(b[4:], uint64(base))
	h := crc32.ChecksumIEEE(append(ref.TopicID[:], b[:]...))
	return fmt.Sprintf("%04x/%s/%s/%d/%020d-%020d-%s.seg",
		h>>16, segmentDir, ref.TopicID.String(), ref.Partition, base, last, hex.EncodeToString(nonce[:]))
}

// ownKey reports whether key has the shape of an object Strata writes (a
// flush object or a compacted segment), the only keys the orphan sweeper
// may delete: anything else in the bucket is not ours.
func ownKey(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) < 3 || len(parts[0]) != 4 || !strings.HasSuffix(key, ".seg") {
		return false
	}
	if _, err := hex.DecodeString(parts[0]); err != nil {
		return false
	}
	return parts[1] == "seg" || parts[1] == segmentDir
}
