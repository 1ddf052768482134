package compaction

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/stratalog/strata/metastore"
)

// segmentDir is the path element of compacted segments' keys; flush
// objects have "seg" (tiering/segment.ObjectKey).
const segmentDir = "cseg"

// cleanDir is the path element of segments written by the key cleaner.
const cleanDir = "clean"

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
	return parts[1] == "seg" || parts[1] == segmentDir || parts[1] == cleanDir
}

// CleanKey returns a new, never reused key for a segment written by the
// key cleaner, of the partition holding offsets [base, last]:
//
//	<hhhh>/clean/<topic id>/<partition>/<base>-<last>-<horizon>-<nonce>.seg
//
// horizon is the earliest delete horizon (ms) of the tombstones the
// segment still holds, 0 if none. The key is the record of what the
// object is: a row whose object has a clean key belongs to the clean part
// of its log, and its horizon tells the planner when the row needs
// another pass, with no read of the object and nothing else to keep in
// step in the metastore (the key changes with the object, in the same
// transaction as the index).
func CleanKey(ref metastore.PartitionRef, base, last, horizon int64) string {
	key := SegmentKey(ref, base, last)
	head, name := key[:strings.LastIndexByte(key, '/')], key[strings.LastIndexByte(key, '/')+1:]
	head = strings.Replace(head, "/"+segmentDir+"/", "/"+cleanDir+"/", 1)
	cut := strings.LastIndexByte(name, '-')
	return fmt.Sprintf("%s/%s-%d%s", head, name[:cut], max(horizon, 0), name[cut:])
}

// cleanKeyHorizon returns the delete horizon recorded in a clean key (0
// if none), and whether key is a clean key at all.
func cleanKeyHorizon(key string) (int64, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[1] != cleanDir {
		return 0, false
	}
	fields := strings.Split(strings.TrimSuffix(parts[4], ".seg"), "-")
	if len(fields) != 4 {
		return 0, false
	}
	h, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || h < 0 {
		return 0, false
	}
	return h, true
}
