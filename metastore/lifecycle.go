package metastore

import (
	"context"
	"errors"
	"time"
)

// ErrStaleObject: a flush or a compaction output was uploaded longer ago
// than MaxCommitDelay, so the orphan sweeper may already consider it
// garbage. Nothing was written; the writer must upload its bytes again
// under a new key and commit that.
var ErrStaleObject = errors.New("metastore: object uploaded too long ago to commit")

// MaxCommitDelay bounds the time between an object's upload (Flush.
// UploadedAt, Replacement.UploadedAt) and the commit that makes the
// metastore reference it. The orphan sweeper deletes only unknown objects
// older than a multiple of it, so it can never delete an object whose
// commit is still to come.
const MaxCommitDelay = 15 * time.Minute

// RowKind says how an index row's bytes are laid out.
type RowKind int8

const (
	// RowFlush: a run of record batches inside a flush object (many
	// partitions per object), about flush index-row size; read whole.
	RowFlush RowKind = 0
	// RowSegment: a whole per-partition segment object written by
	// compaction; Pos is 0 and Size the whole object's size (body, footer
	// and trailer), so a reader finds the trailer in its last
	// segment.TrailerSize bytes. The footer lists the object's chunks
	// (runs of whole batches of this one partition, with their offsets
	// and timestamps): the sparse index readers use to fetch only the part
	// they need. One row per segment object, so the object is live exactly
	// while its row exists.
	RowSegment RowKind = 1
)

// ObjectKind is what wrote an object.
type ObjectKind string

const (
	ObjectFlush   ObjectKind = "flush"   // written by an agent's flusher
	ObjectSegment ObjectKind = "segment" // written by compaction, one partition
)

// Object is an object the metastore knows: every object a committed flush
// or compaction switch wrote, until garbage collection forgets it.
type Object struct {
	Key  string
	Kind ObjectKind
	// Size is the object's size in bytes.
	Size int64
	// LiveBytes is the sum of the Size of the index rows that reference
	// the object: what readers may still fetch. Size - LiveBytes is dead.
	LiveBytes int64
	CreatedAt time.Time
	// DeadSince is when the last index row referencing the object went
	// (LiveBytes fell to 0); zero while any row references it. Garbage
	// collection deletes the object a grace period after it.
	DeadSince time.Time
}

// ObjectStat sums the objects of one kind and liveness.
type ObjectStat struct {
	Kind ObjectKind
	// Dead: the objects with no live bytes (awaiting garbage collection).
	Dead      bool
	Count     int64
	Bytes     int64 // sum of Size
	LiveBytes int64
	// OldestCreated is the oldest CreatedAt among them (zero if Count is
	// 0). For live flush objects it is the compaction lag: the age of the
	// oldest byte not yet in a per-partition segment.
	OldestCreated time.Time
}

// PartitionRef names a partition.
type PartitionRef struct {
	TopicID   TopicID
	Partition int32
}

// Lease is a compactor's exclusive right to rewrite one partition's log
// index (compaction and retention), until Expires. Token increases every
// time the lease changes holder, so a holder that lost it (expired, taken)
// is recognised even if it claims again later.
type Lease struct {
	TopicID   TopicID
	Partition int32
	Holder    string
	Token     int64
	Expires   time.Time
}

// Replacement is one compaction switch: the partition's index rows Inputs
// (a contiguous run, in offset order) are replaced by Rows, which point at
// the new object Output and cover exactly the same offsets: from
// Inputs[0].BaseOffset to Inputs[len-1].LastOffset.
type Replacement struct {
	Lease Lease
	// Inputs must all still be in the index exactly as given (base and
	// last offset, object key, position, size); else ErrConflict and
	// nothing changes.
	Inputs []IndexRow
	Output Object // Key, Kind and Size are used; LiveBytes is computed
	Rows   []IndexRow
	// UploadedAt is when Output's PUT finished; older than MaxCommitDelay
	// is ErrStaleObject.
	UploadedAt time.Time
}

// Lifecycle is what compaction, retention and garbage collection need:
// leases on partitions, the compaction switch, log trimming and the
// objects' accounting.
type Lifecycle interface {
	// ClaimLease gives holder the partition's lease until now+ttl when it
	// is free, expired or already holder's (then it is extended and keeps
	// its token; otherwise the token increases). ErrConflict while another
	// holder's lease is unexpired; ErrNotFound if there is no such
	// partition.
	ClaimLease(ctx context.Context, holder string, id TopicID, partition int32, now time.Time, ttl time.Duration) (Lease, error)
	// ReleaseLease ends the lease if l is still current (same holder and
	// token); otherwise it does nothing.
	ReleaseLease(ctx context.Context, l Lease) error

	// Replace runs a compaction switch in one transaction: it checks that
	// r.Lease is current (same holder and token; an expired lease nobody
	// else took still counts) else ErrFenced, that every input row is
	// still in the index unchanged else ErrConflict, and UploadedAt
	// (ErrStaleObject); then deletes the inputs, records Output (Kind,
	// Size, live bytes = sum of r.Rows' sizes), inserts r.Rows, and
	// recomputes the live bytes of the inputs' objects (an object left
	// with none gets DeadSince = now). An Output.Key the metastore
	// already knows is ErrExists, checked before the lease and inputs:
	// it may be this switch, committed by an earlier attempt whose answer
	// was lost, so the caller must not delete that object. See
	// Replacement.Normalize for what r must satisfy.
	Replace(ctx context.Context, r Replacement) error

	// TrimLog raises the partition's log start offset to offset (never
	// lowers it; above the high watermark is ErrConflict), deletes the
	// index rows that lie wholly below the new log start, recomputes their
	// objects' live bytes, and returns the new log start and the number of
	// rows deleted. ErrNotFound if there is no such partition. Retention
	// and DeleteRecords both use it. If lease is non-nil it must be
	// current (ErrFenced).
	TrimLog(ctx context.Context, lease *Lease, id TopicID, partition int32, offset int64) (logStart int64, rowsDeleted int, err error)

	// RowCounts returns, for every partition with at least one index row,
	// how many rows of each kind it has and their total size, ordered by
	// topic ID and partition: the compaction planner's starting list.
	RowCounts(ctx context.Context) ([]PartitionRows, error)

	// DeadObjects returns up to limit objects with no live bytes whose
	// DeadSince is before deadBefore, oldest first (limit <= 0: all).
	DeadObjects(ctx context.Context, deadBefore time.Time, limit int) ([]Object, error)
	// LowLiveObjects returns up to limit live objects of kind whose
	// LiveBytes/Size is below ratio, oldest first (objects worth
	// rewriting; limit <= 0: all).
	LowLiveObjects(ctx context.Context, kind ObjectKind, ratio float64, limit int) ([]Object, error)
	// ForgetObjects removes the given objects' rows, but only those that
	// still have no live bytes (a referenced object is never forgotten),
	// and returns the keys it removed. Forgotten keys are remembered for
	// MaxCommitDelay: CommitFlush refuses them (ErrStaleObject), as it
	// refuses a dead object's key, so garbage collection never deletes an
	// object a late commit then references.
	ForgetObjects(ctx context.Context, keys []string) ([]string, error)
	// KnownObjects returns which of keys the metastore has an object row
	// for (live or dead); unknown keys are absent from the map. Any
	// number of keys may be asked at once.
	KnownObjects(ctx context.Context, keys []string) (map[string]bool, error)
	// ObjectStats sums the objects by kind and liveness, ordered by kind,
	// live first; both kinds are listed live and dead, zero if empty.
	ObjectStats(ctx context.Context) ([]ObjectStat, error)
	// ObjectRows returns the index rows pointing into the object, ordered
	// by topic, partition and base offset.
	ObjectRows(ctx context.Context, key string) ([]IndexRow, error)
}

// PartitionRows counts one partition's index rows by kind.
type PartitionRows struct {
	PartitionRef
	FlushRows    int64
	FlushBytes   int64
	SegmentRows  int64
	SegmentBytes int64
	// OldestFlush is the CreatedAt of the oldest flush object the
	// partition has a row in (zero without flush rows).
	OldestFlush time.Time
}
