package sqlstore

import (
	"errors"
	"fmt"
	"reflect"
)

// Queries is the SQL the store runs, one field per statement, with
// numbered $N placeholders unless a backend has mapped them. A field
// tagged optional may be empty; its doc says what happens then. The schema
// itself lives in each backend's migrations.
type Queries struct {
	// Schema migrations.

	// SelectCurrentSchema returns the schema new tables go to, NULL when
	// there is none (a search_path naming no existing schema).
	SelectCurrentSchema string `sql:"optional"`
	// LockMigrations serialises migrators of one schema until the
	// transaction ends, where the write transaction does not already.
	LockMigrations               string `sql:"optional"`
	CreateSchemaMigrations       string
	SelectSchemaMigrationsExists string
	SelectMigrations             string
	InsertMigration              string // version, name, applied_at

	// Cluster ID, producer IDs and agents.

	SelectClusterID    string
	InsertClusterID    string // cluster_id; does nothing if the row exists
	AllocateProducerID string // returns the next ID, never handed out again
	// UpdateAgent runs before InsertAgent rather than one upsert: an
	// INSERT that finds a conflict still consumes an AUTOINCREMENT or
	// identity value, and one per heartbeat would exhaust the int32 NodeID
	// space over time. InsertAgent's own ON CONFLICT covers two first
	// registrations racing. Both: agent_id, host, port, rack,
	// lease_expires; return node_id.
	UpdateAgent      string
	InsertAgent      string
	SelectLiveAgents string

	// Topics and partitions.

	SelectTopicByName string
	// SelectTopicForUpdate locks the topic row against concurrent
	// AddPartitions, DeleteTopic and SetTopicConfigs.
	SelectTopicForUpdate string
	SelectTopics         string
	InsertTopic          string
	// InsertPartitions creates partitions [$2, $3) of topic $1.
	InsertPartitions      string
	UpdateTopicConfigs    string // name, configs
	UpdateTopicPartitions string // topic_id, partitions
	// LockTopicPartitions takes the partitions' row locks in key order,
	// the order CommitFlush takes them in, before DeleteTopic removes
	// their children: a flush that commits first has its index rows
	// deleted too, one that waits finds no partition and is fenced. Not
	// needed where DeleteTopic's transaction locks the database.
	LockTopicPartitions  string `sql:"optional"`
	DeleteTopicIndexRows string
	DeleteTopicProducers string
	DeleteTopicParts     string
	DeleteTopic          string
	// SelectPartitions needs no existence check: a topic always has at
	// least one partition row, written in the same transaction.
	SelectPartitions               string
	SelectPartitionEpoch           string
	ClaimPartition                 string // owner, topic_id, partition, expected epoch
	ReleasePartition               string // topic_id, partition, owner, epoch
	SelectPartitionBoundsForUpdate string
	SetLogStartOffset              string // topic_id, partition, offset

	// Flushes, the log index (table segments, one metastore.IndexRow per
	// row) and producer state.

	InsertObject string
	// LockFlushPartitions locks every partition of a flush in key order
	// in one query, so two flushes sharing partitions queue rather than
	// deadlock, and returns their topic_id, partition, owner, epoch and
	// high_watermark; its arguments come from Dialect.PartitionSet. Where
	// it is empty, SelectPartitionForUpdate runs once per partition, in
	// key order.
	LockFlushPartitions      string `sql:"optional"`
	SelectPartitionForUpdate string // topic_id, partition; returns owner, epoch, high_watermark
	InsertIndexRow           string
	SetHighWatermark         string // topic_id, partition, high_watermark
	UpsertProducerState      string
	SelectProducerStates     string
	SelectIndexRowsFrom      string // topic_id, partition, from offset, limit
	SelectIndexRowsByTime    string // topic_id, partition, timestamp, limit
	SelectMaxTimestampRow    string

	// Consumer groups and their committed offsets.

	// LockOrCreateGroup makes sure the group row exists and locks it
	// before offsets are written.
	LockOrCreateGroup     string
	LockGroup             string
	UpsertGroupOffset     string
	SelectGroupOffsets    string
	DeleteGroupOffset     string // group, topic, partition
	DeleteAllGroupOffsets string
	UpsertGroup           string
	SelectGroup           string
	SelectGroups          string
	DeleteGroup           string
}

// Column lists shared by the statements that read whole rows; the scan
// functions read them in this order.
const (
	topicColumns     = `topic_id, name, partitions, replication_factor, configs, created_at`
	partitionColumns = `topic_id, partition, owner, epoch, high_watermark, log_start_offset`
	indexRowColumns  = `topic_id, partition, base_offset, last_offset, object_key, pos, size,
    min_timestamp, max_timestamp`
	groupColumns = `name, protocol_type, protocol, state, generation, leader, members, updated_at`
)

// StandardQueries returns the statements as both backends spell them.
// forUpdate is appended to the reads that lock the rows they return: "
// FOR UPDATE" where the database has row locks, "" where every write
// transaction locks the whole database. The backend fills in the rest:
// SelectSchemaMigrationsExists, InsertClusterID, AllocateProducerID and
// InsertPartitions have no common spelling, and the optional ones are
// dialect-specific.
func StandardQueries(forUpdate string) Queries {
	return Queries{
		CreateSchemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)`,
		SelectMigrations: `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`,
		InsertMigration:  `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,

		SelectClusterID: `SELECT cluster_id FROM cluster`,
		UpdateAgent: `UPDATE agents SET host = $2, port = $3, rack = $4, lease_expires = $5
WHERE agent_id = $1 RETURNING node_id`,
		InsertAgent: `INSERT INTO agents (agent_id, host, port, rack, lease_expires)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (agent_id) DO UPDATE SET
    host = excluded.host, port = excluded.port, rack = excluded.rack,
    lease_expires = excluded.lease_expires
RETURNING node_id`,
		SelectLiveAgents: `SELECT agent_id, host, port, rack, node_id, lease_expires
FROM agents WHERE lease_expires > $1 ORDER BY node_id`,

		SelectTopicByName:     `SELECT ` + topicColumns + ` FROM topics WHERE name = $1`,
		SelectTopicForUpdate:  `SELECT ` + topicColumns + ` FROM topics WHERE name = $1` + forUpdate,
		SelectTopics:          `SELECT ` + topicColumns + ` FROM topics ORDER BY name`,
		InsertTopic:           `INSERT INTO topics (` + topicColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`,
		UpdateTopicConfigs:    `UPDATE topics SET configs = $2 WHERE name = $1`,
		UpdateTopicPartitions: `UPDATE topics SET partitions = $2 WHERE topic_id = $1`,
		DeleteTopicIndexRows:  `DELETE FROM segments WHERE topic_id = $1`,
		DeleteTopicProducers:  `DELETE FROM producer_states WHERE topic_id = $1`,
		DeleteTopicParts:      `DELETE FROM partitions WHERE topic_id = $1`,
		DeleteTopic:           `DELETE FROM topics WHERE topic_id = $1`,
		SelectPartitions: `SELECT ` + partitionColumns + ` FROM partitions
WHERE topic_id = $1 ORDER BY partition`,
		SelectPartitionEpoch: `SELECT epoch FROM partitions WHERE topic_id = $1 AND partition = $2`,
		ClaimPartition: `UPDATE partitions SET owner = $1, epoch = epoch + 1
WHERE topic_id = $2 AND partition = $3 AND epoch = $4
RETURNING ` + partitionColumns,
		ReleasePartition: `UPDATE partitions SET owner = ''
WHERE topic_id = $1 AND partition = $2 AND owner = $3 AND epoch = $4`,
		SelectPartitionBoundsForUpdate: `SELECT high_watermark, log_start_offset FROM partitions
WHERE topic_id = $1 AND partition = $2` + forUpdate,
		SetLogStartOffset: `UPDATE partitions SET log_start_offset = $3
WHERE topic_id = $1 AND partition = $2`,

		InsertObject: `INSERT INTO objects (object_key, size, created_at) VALUES ($1, $2, $3)
ON CONFLICT (object_key) DO NOTHING`,
		SelectPartitionForUpdate: `SELECT owner, epoch, high_watermark FROM partitions
WHERE topic_id = $1 AND partition = $2` + forUpdate,
		InsertIndexRow: `INSERT INTO segments (topic_id, partition, base_offset, last_offset,
    object_key, pos, size, min_timestamp, max_timestamp)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		SetHighWatermark: `UPDATE partitions SET high_watermark = $3
WHERE topic_id = $1 AND partition = $2`,
		UpsertProducerState: `INSERT INTO producer_states (topic_id, partition, producer_id,
    epoch, batches, last_timestamp)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (topic_id, partition, producer_id) DO UPDATE SET
    epoch = excluded.epoch,
    batches = excluded.batches,
    last_timestamp = excluded.last_timestamp`,
		SelectProducerStates: `SELECT producer_id, epoch, batches, last_timestamp
FROM producer_states WHERE topic_id = $1 AND partition = $2 ORDER BY producer_id`,
		// SelectIndexRowsFrom starts its scan of the primary key at the
		// last row beginning at or before fromOffset, not at the
		// partition's first row: rows do not overlap (see the schema), so
		// none before it can reach fromOffset.
		SelectIndexRowsFrom: `SELECT ` + indexRowColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2
  AND base_offset >= COALESCE((
        SELECT base_offset FROM segments
        WHERE topic_id = $1 AND partition = $2 AND base_offset <= $3
        ORDER BY base_offset DESC LIMIT 1), $3)
  AND last_offset >= $3
ORDER BY base_offset LIMIT $4`,
		SelectIndexRowsByTime: `SELECT ` + indexRowColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2 AND max_timestamp >= $3
ORDER BY base_offset LIMIT $4`,
		SelectMaxTimestampRow: `SELECT ` + indexRowColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2
ORDER BY max_timestamp DESC, base_offset ASC LIMIT 1`,

		// ON CONFLICT DO UPDATE (rather than DO NOTHING) takes the row
		// lock, changing nothing, and if a concurrent DeleteGroup removes
		// the row first, it inserts a new one instead: the offsets written
		// next always have their parent.
		LockOrCreateGroup: `INSERT INTO groups (name, state, updated_at) VALUES ($1, 'Empty', $2)
ON CONFLICT (name) DO UPDATE SET updated_at = groups.updated_at`,
		LockGroup: `SELECT 1 FROM groups WHERE name = $1` + forUpdate,
		UpsertGroupOffset: `INSERT INTO group_offsets (group_name, topic, partition,
    committed_offset, leader_epoch, metadata, commit_time)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (group_name, topic, partition) DO UPDATE SET
    committed_offset = excluded.committed_offset,
    leader_epoch = excluded.leader_epoch,
    metadata = excluded.metadata,
    commit_time = excluded.commit_time`,
		SelectGroupOffsets: `SELECT topic, partition, committed_offset, leader_epoch, metadata, commit_time
FROM group_offsets WHERE group_name = $1 ORDER BY topic, partition`,
		DeleteGroupOffset: `DELETE FROM group_offsets
WHERE group_name = $1 AND topic = $2 AND partition = $3`,
		DeleteAllGroupOffsets: `DELETE FROM group_offsets WHERE group_name = $1`,
		UpsertGroup: `INSERT INTO groups (` + groupColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (name) DO UPDATE SET
    protocol_type = excluded.protocol_type,
    protocol = excluded.protocol,
    state = excluded.state,
    generation = excluded.generation,
    leader = excluded.leader,
    members = excluded.members,
    updated_at = excluded.updated_at`,
		SelectGroup:  `SELECT ` + groupColumns + ` FROM groups WHERE name = $1`,
		SelectGroups: `SELECT ` + groupColumns + ` FROM groups ORDER BY name`,
		DeleteGroup:  `DELETE FROM groups WHERE name = $1`,
	}
}

// Map returns q with f applied to every statement, e.g. to rewrite the
// placeholders for a driver that does not take $N.
func (q Queries) Map(f func(string) string) Queries {
	v := reflect.ValueOf(&q).Elem()
	for i := range v.NumField() {
		if s := v.Field(i).String(); s != "" {
			v.Field(i).SetString(f(s))
		}
	}
	return q
}

// validate reports the statements missing from q.
func (q Queries) validate() error {
	v := reflect.ValueOf(q)
	var errs []error
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if v.Field(i).String() == "" && f.Tag.Get("sql") != "optional" {
			errs = append(errs, fmt.Errorf("query %s is empty", f.Name))
		}
	}
	return errors.Join(errs...)
}
