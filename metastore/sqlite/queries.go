package sqlite

// The SQL the store runs, one named constant per statement. The schema
// itself lives in migrations/*.sql.

// Schema migrations.
const (
	createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`
	selectSchemaVersion          = `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`
	selectMigrationApplied       = `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`
	insertMigration              = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	selectSchemaMigrationsExists = `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`
	selectMigrations             = `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`
)

// Cluster ID and producer IDs.
const (
	selectClusterID = `SELECT cluster_id FROM cluster WHERE singleton = 1`
	insertClusterID = `INSERT INTO cluster (singleton, cluster_id) VALUES (1, ?)
ON CONFLICT (singleton) DO NOTHING`
	allocateProducerID = `UPDATE producer_ids SET next_id = next_id + 1
WHERE singleton = 1 RETURNING next_id - 1`
)

// Agents.
const (
	// updateAgent runs before insertAgent rather than one
	// INSERT ... ON CONFLICT DO UPDATE, which would consume an
	// AUTOINCREMENT value on every heartbeat and exhaust the int32
	// NodeID space over time.
	updateAgent = `UPDATE agents SET host = ?, port = ?, rack = ?, lease_expires = ?
WHERE agent_id = ? RETURNING node_id`
	insertAgent = `INSERT INTO agents (agent_id, host, port, rack, lease_expires)
VALUES (?, ?, ?, ?, ?) RETURNING node_id`
	selectLiveAgents = `SELECT agent_id, host, port, rack, node_id, lease_expires
FROM agents WHERE lease_expires > ? ORDER BY node_id`
)

// Topics and partitions.
const (
	topicColumns         = `topic_id, name, partitions, replication_factor, configs, created_at`
	selectTopicByName    = `SELECT ` + topicColumns + ` FROM topics WHERE name = ?`
	selectTopics         = `SELECT ` + topicColumns + ` FROM topics ORDER BY name`
	selectTopicIDExists  = `SELECT EXISTS (SELECT 1 FROM topics WHERE topic_id = ?)`
	selectTopicNameTaken = `SELECT EXISTS (SELECT 1 FROM topics WHERE name = ? OR topic_id = ?)`
	insertTopic          = `INSERT INTO topics (` + topicColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	insertPartition      = `INSERT INTO partitions (topic_id, partition) VALUES (?, ?)`
	updateTopicConfigs   = `UPDATE topics SET configs = ? WHERE name = ?`

	deleteTopicSegments  = `DELETE FROM segments WHERE topic_id = ?`
	deleteTopicProducers = `DELETE FROM producer_states WHERE topic_id = ?`
	deleteTopicParts     = `DELETE FROM partitions WHERE topic_id = ?`
	deleteTopic          = `DELETE FROM topics WHERE topic_id = ?`

	partitionColumns = `topic_id, partition, owner, epoch, high_watermark, log_start_offset`
	selectPartitions = `SELECT ` + partitionColumns + ` FROM partitions
WHERE topic_id = ? ORDER BY partition`
	selectPartitionForUpdate = `SELECT owner, epoch, high_watermark FROM partitions
WHERE topic_id = ? AND partition = ?`
	selectPartitionEpoch = `SELECT epoch FROM partitions WHERE topic_id = ? AND partition = ?`
	claimPartition       = `UPDATE partitions SET owner = ?, epoch = epoch + 1
WHERE topic_id = ? AND partition = ? AND epoch = ?
RETURNING ` + partitionColumns
	releasePartition = `UPDATE partitions SET owner = ''
WHERE topic_id = ? AND partition = ? AND owner = ? AND epoch = ?`
	setHighWatermark = `UPDATE partitions SET high_watermark = ?
WHERE topic_id = ? AND partition = ?`
)

// Flushes, the segment index and producer state.
const (
	insertObject = `INSERT INTO objects (object_key, size, created_at) VALUES (?, ?, ?)
ON CONFLICT (object_key) DO NOTHING`
	insertSegment = `INSERT INTO segments (topic_id, partition, base_offset, last_offset,
    object_key, pos, size, min_timestamp, max_timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	upsertProducerState = `INSERT INTO producer_states (topic_id, partition, producer_id,
    epoch, batches, last_timestamp)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (topic_id, partition, producer_id) DO UPDATE SET
    epoch = excluded.epoch,
    batches = excluded.batches,
    last_timestamp = excluded.last_timestamp`
	selectProducerStates = `SELECT producer_id, epoch, batches, last_timestamp
FROM producer_states WHERE topic_id = ? AND partition = ? ORDER BY producer_id`

	segmentColumns = `topic_id, partition, base_offset, last_offset, object_key, pos, size,
    min_timestamp, max_timestamp`
	// selectSegmentsFrom starts its scan of the primary key at the last
	// segment beginning at or before fromOffset, not at the partition's
	// first segment: segments do not overlap (see the schema), so none
	// before it can reach fromOffset. Parameters: topic, partition,
	// fromOffset, limit (negative for none).
	selectSegmentsFrom = `SELECT ` + segmentColumns + ` FROM segments
WHERE topic_id = ?1 AND partition = ?2
  AND base_offset >= COALESCE((
        SELECT base_offset FROM segments
        WHERE topic_id = ?1 AND partition = ?2 AND base_offset <= ?3
        ORDER BY base_offset DESC LIMIT 1), ?3)
  AND last_offset >= ?3
ORDER BY base_offset LIMIT ?4`
	selectSegmentsByTime = `SELECT ` + segmentColumns + ` FROM segments
WHERE topic_id = ? AND partition = ? AND max_timestamp >= ?
ORDER BY base_offset LIMIT ?`
	selectMaxTimestampSegment = `SELECT ` + segmentColumns + ` FROM segments
WHERE topic_id = ? AND partition = ?
ORDER BY max_timestamp DESC, base_offset ASC LIMIT 1`
)

// Log start offsets and partition growth.
const (
	selectPartitionBounds = `SELECT high_watermark, log_start_offset FROM partitions
WHERE topic_id = ? AND partition = ?`
	setLogStartOffset = `UPDATE partitions SET log_start_offset = ?
WHERE topic_id = ? AND partition = ?`
	updateTopicPartitions = `UPDATE topics SET partitions = ? WHERE topic_id = ?`
)

// Consumer groups and their committed offsets.
const (
	// insertEmptyGroup creates the offset-only group row CommitOffsets
	// needs, leaving an existing group untouched.
	insertEmptyGroup = `INSERT INTO groups (name, state, updated_at) VALUES (?, 'Empty', ?)
ON CONFLICT (name) DO NOTHING`
	upsertGroupOffset = `INSERT INTO group_offsets (group_name, topic, partition,
    committed_offset, leader_epoch, metadata, commit_time)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (group_name, topic, partition) DO UPDATE SET
    committed_offset = excluded.committed_offset,
    leader_epoch = excluded.leader_epoch,
    metadata = excluded.metadata,
    commit_time = excluded.commit_time`
	selectGroupOffsets = `SELECT topic, partition, committed_offset, leader_epoch, metadata, commit_time
FROM group_offsets WHERE group_name = ? ORDER BY topic, partition`
	deleteGroupOffset = `DELETE FROM group_offsets
WHERE group_name = ? AND topic = ? AND partition = ?`
	deleteAllGroupOffsets = `DELETE FROM group_offsets WHERE group_name = ?`

	groupColumns = `name, protocol_type, protocol, state, generation, leader, members, updated_at`
	upsertGroup  = `INSERT INTO groups (` + groupColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    protocol_type = excluded.protocol_type,
    protocol = excluded.protocol,
    state = excluded.state,
    generation = excluded.generation,
    leader = excluded.leader,
    members = excluded.members,
    updated_at = excluded.updated_at`
	selectGroup  = `SELECT ` + groupColumns + ` FROM groups WHERE name = ?`
	selectGroups = `SELECT ` + groupColumns + ` FROM groups ORDER BY name`
	deleteGroup  = `DELETE FROM groups WHERE name = ?`
)
