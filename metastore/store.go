package metastore

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store implementation. Callers compare with
// errors.Is; implementations wrap them with detail.
var (
	// ErrNotFound: the topic, partition or row does not exist.
	ErrNotFound = errors.New("metastore: not found")
	// ErrExists: a topic with that name already exists, or (Replace) an
	// object with that key.
	ErrExists = errors.New("metastore: already exists")
	// ErrFenced: the writer's ownership epoch (or owner) is stale; another
	// agent owns the partition now. Nothing was written.
	ErrFenced = errors.New("metastore: fenced by a newer epoch")
	// ErrConflict: the write raced with another write (for example the high
	// watermark it expected has moved). Nothing was written.
	ErrConflict = errors.New("metastore: conflict")
)

// TopicID is a topic's 16-byte UUID, the identity used on the wire (Fetch
// v13+, Metadata v10+) and in every row and object. A topic deleted and
// re-created under the same name gets a new ID.
type TopicID [16]byte

// IsZero reports whether id is the all-zero (unset) ID.
func (id TopicID) IsZero() bool { return id == TopicID{} }

// Topic is a topic's definition.
type Topic struct {
	Name              string
	ID                TopicID
	Partitions        int32
	ReplicationFactor int16
	// Configs holds only the configs set explicitly for this topic
	// (cleanup.policy, retention.ms, max.message.bytes, ...).
	Configs   map[string]string
	CreatedAt time.Time
}

// Partition is one partition's ownership and log bounds.
type Partition struct {
	TopicID   TopicID
	Partition int32
	// Owner is the agent ID that owns the partition, "" when unowned.
	Owner string
	// Epoch increments on every ownership change; every write for the
	// partition is conditioned on it.
	Epoch int32
	// HighWatermark is one past the last offset that is in object storage
	// and indexed. Consumers never read at or past it.
	HighWatermark int64
	// LogStartOffset is the first offset still readable.
	LogStartOffset int64
}

// IndexRow is one row of the partition index: a contiguous run of record
// batches of one partition stored at [Pos, Pos+Size) of an object. An
// object (a segment object, see tiering/segment) holds many of them, for
// one or more partitions; an IndexRow is not the object itself. The SQL
// backends keep these rows in their "segments" table.
type IndexRow struct {
	TopicID    TopicID
	Partition  int32
	BaseOffset int64 // offset of the first record in the range
	LastOffset int64 // offset of the last record in the range (inclusive)
	ObjectKey  string
	Pos        int64
	Size       int64
	// MinTimestamp and MaxTimestamp bound the batch timestamps in the
	// range (max timestamp per batch as stored in the batch header).
	MinTimestamp int64
	MaxTimestamp int64
	// Kind says how the bytes at [Pos, Pos+Size) are laid out: a run of
	// batches in a flush object, or a compacted segment's whole body.
	Kind RowKind
}

// ProducerBatch remembers one batch of an idempotent producer so a
// retried batch can be answered with its original offset.
type ProducerBatch struct {
	FirstSeq   int32
	LastSeq    int32
	BaseOffset int64
	LastOffset int64
	Timestamp  int64 // max timestamp of the batch as appended
}

// ProducerState is an idempotent producer's state on one partition.
type ProducerState struct {
	ProducerID int64
	Epoch      int16
	// Batches are the most recent batches, oldest first, at most 5.
	Batches []ProducerBatch
	// LastTimestamp is the wall-clock millis of the last append, used to
	// expire idle producers.
	LastTimestamp int64
	// TxnOpen tells whether the producer has a transaction open on the
	// partition, beginning at TxnFirstOffset.
	TxnOpen        bool
	TxnFirstOffset int64
	// MarkerEpoch is the coordinator epoch of the last transaction marker
	// written for the producer (-1 if none): a pending marker is written
	// only if its epoch is higher.
	MarkerEpoch int32
}

// PartitionCommit is one partition's part of a flush.
type PartitionCommit struct {
	TopicID   TopicID
	Partition int32
	// Epoch is the writer's ownership epoch; the commit fails with
	// ErrFenced unless the partition's current epoch and owner match.
	Epoch int32
	// PrevHighWatermark must equal the partition's current high watermark
	// (else ErrConflict): index rows are appended densely, never reused.
	PrevHighWatermark int64
	NewHighWatermark  int64
	// Rows are the partition's new index rows, inside
	// [PrevHighWatermark, NewHighWatermark) and not overlapping.
	Rows []IndexRow
	// Producers are upserted (by ProducerID) for the partition.
	Producers []ProducerState
	// Markers are the transaction markers this flush writes: their
	// pending rows are deleted.
	Markers []MarkerDone
	// Aborted are the aborted transactions whose abort marker this flush
	// writes, added to the partition's aborted-transaction index.
	Aborted []AbortedTxn
}

// Flush is everything one flushed object adds to the metastore. It is
// committed in one transaction: all of it or none of it.
type Flush struct {
	AgentID    string
	ObjectKey  string
	ObjectSize int64
	// UploadedAt is when the object's PUT finished. A commit more than
	// MaxCommitDelay later is ErrStaleObject (the zero time is not
	// checked, for callers with no upload).
	UploadedAt time.Time
	Partitions []PartitionCommit
}

// Agent is a registered agent (broker).
type Agent struct {
	ID   string
	Host string
	Port int32
	Rack string
	// NodeID is the Kafka broker id assigned to the agent at first
	// registration, stable across restarts of the same agent ID.
	NodeID int32
	// LeaseExpires is when the agent is dead unless it heartbeats.
	LeaseExpires time.Time
}

// GroupOffset is a consumer group's committed offset for one partition.
// Offsets are keyed by topic name, as Kafka keys them.
type GroupOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32   // -1 when unknown
	Metadata    *string // client metadata; nil is null
	CommitTime  time.Time
}

// Group is a consumer group's durable state, so another agent can take
// over as its coordinator. Members is the coordinator's own encoding of the
// member list; the metastore does not interpret it.
type Group struct {
	Name         string
	ProtocolType string // "consumer" for Kafka consumers; "" for offset-only groups
	Protocol     string // the selected assignor
	State        string // Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
	Generation   int32
	Leader       string
	Members      []byte
	UpdatedAt    time.Time
}

// The Store's methods are grouped by concern into role interfaces, so a
// caller can declare the part it uses (a fetch path needs a LogIndex, a
// group coordinator Groups) and a test can fake just that part. Store is
// all of them: every implementation implements every role.

// Cluster is the cluster's identity and membership.
type Cluster interface {
	// ClusterID returns the cluster's ID, creating it on first call.
	ClusterID(ctx context.Context) (string, error)

	// RegisterAgent inserts or updates an agent and returns it with its
	// NodeID (assigned once per agent ID, stable afterwards).
	RegisterAgent(ctx context.Context, a Agent) (Agent, error)
	// Agents lists agents whose lease has not expired at now.
	Agents(ctx context.Context, now time.Time) ([]Agent, error)
	// SetAgentListeners replaces the advertised listeners of an agent
	// (all of them, the first one also being the agent's Host and Port).
	SetAgentListeners(ctx context.Context, agentID string, ls []Listener) error
	// AgentListeners returns every agent's advertised listeners by agent
	// ID, each agent's in the order they were set.
	AgentListeners(ctx context.Context) (map[string][]Listener, error)
}

// Listener is one advertised listener of an agent: clients connected to
// the listener called Name on one agent are given every agent's address
// for that name.
type Listener struct {
	Name string
	Host string
	Port int32
}

// ScramCredential is a user's salted SCRAM credential for one mechanism
// (never the password).
type ScramCredential struct {
	User       string
	Mechanism  string // "SCRAM-SHA-256" or "SCRAM-SHA-512"
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// Users holds SASL/SCRAM credentials.
type Users interface {
	// PutScramCredential inserts or replaces the credential of its user
	// and mechanism.
	PutScramCredential(ctx context.Context, c ScramCredential) error
	// DeleteScramCredential removes one; ErrNotFound if absent.
	DeleteScramCredential(ctx context.Context, user, mechanism string) error
	// ScramCredential returns one; ErrNotFound if absent.
	ScramCredential(ctx context.Context, user, mechanism string) (ScramCredential, error)
	// ScramCredentials lists every credential ordered by user and
	// mechanism.
	ScramCredentials(ctx context.Context) ([]ScramCredential, error)
}

// Catalog is the set of topics, their configs and their partitions.
type Catalog interface {
	// CreateTopic creates the topic and its partitions (unowned, epoch 0,
	// offsets 0). ErrExists if the name is taken.
	CreateTopic(ctx context.Context, t Topic) error
	// DeleteTopic removes the topic, its partitions, index rows, leases
	// and producer states, and returns what was deleted; its objects' live
	// bytes are recomputed, so those left with none become garbage for
	// collection. Group offsets, keyed by topic name, are
	// left alone. ErrNotFound if absent.
	DeleteTopic(ctx context.Context, name string) (Topic, error)
	// Topic returns one topic by name. ErrNotFound if absent.
	Topic(ctx context.Context, name string) (Topic, error)
	// Topics lists all topics ordered by name.
	Topics(ctx context.Context) ([]Topic, error)
	// SetTopicConfigs replaces the topic's explicit configs.
	SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error

	// Partitions lists the partitions of a topic ordered by partition.
	// ErrNotFound if the topic does not exist.
	Partitions(ctx context.Context, id TopicID) ([]Partition, error)
	// AddPartitions grows a topic to total partitions (new ones unowned,
	// epoch 0, empty) and returns the topic. Shrinking or keeping the count
	// is ErrConflict; ErrNotFound if absent.
	AddPartitions(ctx context.Context, name string, total int32) (Topic, error)
}

// Ownership is which agent owns (writes) a partition, fenced by epoch.
type Ownership interface {
	// Claim makes agentID the owner of the partition with epoch
	// expectEpoch+1, provided its current epoch is expectEpoch
	// (ErrFenced otherwise), and returns the new state. ErrNotFound if
	// there is no such partition.
	Claim(ctx context.Context, agentID string, id TopicID, partition int32, expectEpoch int32) (Partition, error)

	// Release gives up agentID's ownership of the partition at epoch
	// (owner becomes "", the epoch stays; the next Claim increments it), so
	// another agent can claim it without waiting for a lease to expire.
	// ErrFenced if agentID does not own it at that epoch.
	Release(ctx context.Context, agentID string, id TopicID, partition int32, epoch int32) error
}

// LogIndex is the log index of the partitions (their IndexRows: which
// object holds each run of offsets) and their log bounds: what flushes
// write and fetches read.
type LogIndex interface {
	// CommitFlush commits a flush in one transaction (see Flush). A writer
	// that is not the partition's owner at its epoch gets ErrFenced; so does
	// a commit to a partition that no longer exists (its topic was deleted),
	// an unowned partition, or an empty AgentID. A PrevHighWatermark that is
	// not the current high watermark is ErrConflict.
	CommitFlush(ctx context.Context, f Flush) error

	// IndexRows returns up to limit index rows of the partition whose
	// LastOffset >= fromOffset, ordered by BaseOffset. A limit <= 0 means
	// no limit. An unknown topic or partition has no rows (an empty list,
	// not ErrNotFound).
	IndexRows(ctx context.Context, id TopicID, partition int32, fromOffset int64, limit int) ([]IndexRow, error)
	// IndexRowsByTime returns up to limit index rows of the partition
	// whose MaxTimestamp >= ts, ordered by BaseOffset. A limit <= 0 means
	// no limit; an unknown topic or partition has no rows.
	IndexRowsByTime(ctx context.Context, id TopicID, partition int32, ts int64, limit int) ([]IndexRow, error)
	// MaxTimestampRow returns the index row holding the partition's
	// largest timestamp (the earliest such row on ties). ErrNotFound if
	// the partition has no rows.
	MaxTimestampRow(ctx context.Context, id TopicID, partition int32) (IndexRow, error)

	// SetLogStartOffset raises the partition's log start offset to offset
	// (DeleteRecords) and returns the new value. It never lowers it, and
	// an offset above the high watermark is ErrConflict. ErrNotFound if
	// there is no such partition. Index rows wholly below the new log
	// start are deleted, as by Lifecycle.TrimLog with no lease.
	SetLogStartOffset(ctx context.Context, id TopicID, partition int32, offset int64) (int64, error)
}

// Producers is idempotent-producer state. Flushes write it (see
// PartitionCommit.Producers); this role reads it back and hands out IDs.
type Producers interface {
	// ProducerStates returns the stored idempotent-producer states of a
	// partition, in no promised order; none (not ErrNotFound) for an
	// unknown topic or partition.
	ProducerStates(ctx context.Context, id TopicID, partition int32) ([]ProducerState, error)
	// NextProducerID allocates a new, never reused producer ID.
	NextProducerID(ctx context.Context) (int64, error)
}

// Groups is consumer groups' durable state and committed offsets.
type Groups interface {
	// CommitOffsets upserts a group's committed offsets in one transaction,
	// creating an Empty group row (ProtocolType "") if none exists. A zero
	// CommitTime is stored as the current time. Topics are not checked.
	CommitOffsets(ctx context.Context, group string, offsets []GroupOffset) error
	// GroupOffsets returns a group's committed offsets ordered by topic and
	// partition (empty, not ErrNotFound, for an unknown group).
	GroupOffsets(ctx context.Context, group string) ([]GroupOffset, error)
	// DeleteGroupOffsets removes a group's offsets for the given partitions
	// of a topic. Absent offsets are ignored; the group row stays.
	DeleteGroupOffsets(ctx context.Context, group, topic string, partitions []int32) error
	// SaveGroup inserts or replaces a group's state (not its offsets). A
	// zero UpdatedAt is stored as the current time.
	SaveGroup(ctx context.Context, g Group) error
	// LoadGroup returns a group's state. ErrNotFound if absent.
	LoadGroup(ctx context.Context, name string) (Group, error)
	// Groups lists all groups ordered by name.
	Groups(ctx context.Context) ([]Group, error)
	// DeleteGroup removes a group and its offsets. ErrNotFound if absent.
	DeleteGroup(ctx context.Context, name string) error
}

// Store is the metastore: the single source of truth for topics,
// ownership, the log index, high watermarks and producer state.
// Implementations are safe for concurrent use.
type Store interface {
	Cluster
	Catalog
	Ownership
	LogIndex
	Producers
	Groups
	Lifecycle
	Presence
	Transactions
	Users

	Close() error
}
