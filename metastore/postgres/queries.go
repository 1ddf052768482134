package postgres

// The SQL the store runs, one named constant per statement. The schema
// itself lives in migrations/*.sql. Unqualified names resolve through the
// connection's search_path, so one database can hold several metastores
// in different schemas.

// Schema migrations.
const (
	// lockMigrations serialises migrators of one schema (other processes
	// opening the same metastore) until the transaction ends.
	lockMigrations = `SELECT pg_advisory_xact_lock(hashtext('strata-migrate:' || current_schema()))`
	// selectCurrentSchema fails usefully when search_path names no
	// existing schema (current_schema() is then NULL).
	selectCurrentSchema    = `SELECT current_schema()`
	createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)`
	selectSchemaMigrationsExists = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	selectMigrations             = `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`
	insertMigration              = `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`
)

// Cluster ID and producer IDs.
const (
	selectClusterID = `SELECT cluster_id FROM cluster`
	insertClusterID = `INSERT INTO cluster (singleton, cluster_id) VALUES (TRUE, $1)
ON CONFLICT (singleton) DO NOTHING`
	allocateProducerID = `SELECT nextval('producer_ids')`
)

// Agents.
const (
	// updateAgent runs before upsertAgent: an INSERT that finds a
	// conflict still consumes an identity value, and one per heartbeat
	// would exhaust the int32 NodeID space over time. upsertAgent's
	// ON CONFLICT covers two first registrations racing.
	updateAgent = `UPDATE agents SET host = $2, port = $3, rack = $4, lease_expires = $5
WHERE agent_id = $1 RETURNING node_id`
	upsertAgent = `INSERT INTO agents (agent_id, host, port, rack, lease_expires)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (agent_id) DO UPDATE SET
    host = excluded.host, port = excluded.port, rack = excluded.rack,
    lease_expires = excluded.lease_expires
RETURNING node_id`
	selectLiveAgents = `SELECT agent_id, host, port, rack, node_id, lease_expires
FROM agents WHERE lease_expires > $1 ORDER BY node_id`
)

// Topics and partitions.
const (
	topicColumns      = `topic_id, name, partitions, replication_factor, configs, created_at`
	selectTopicByName = `SELECT ` + topicColumns + ` FROM topics WHERE name = $1`
	// selectTopicForUpdate locks the topic row against concurrent
	// AddPartitions, DeleteTopic and SetTopicConfigs.
	selectTopicForUpdate = selectTopicByName + ` FOR UPDATE`
	selectTopics         = `SELECT ` + topicColumns + ` FROM topics ORDER BY name`
	insertTopic          = `INSERT INTO topics (` + topicColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`
	// insertPartitions creates partitions [$2, $3) of topic $1.
	insertPartitions      = `INSERT INTO partitions (topic_id, partition) SELECT $1, generate_series($2::integer, $3::integer - 1)`
	updateTopicConfigs    = `UPDATE topics SET configs = $2 WHERE name = $1`
	updateTopicPartitions = `UPDATE topics SET partitions = $2 WHERE topic_id = $1`

	// lockTopicPartitions takes the partitions' row locks in key order, the
	// order CommitFlush takes them in, before DeleteTopic removes their
	// children: a flush that commits first has its segments deleted too,
	// one that waits finds no partition and is fenced.
	lockTopicPartitions  = `SELECT partition FROM partitions WHERE topic_id = $1 ORDER BY partition FOR UPDATE`
	deleteTopicSegments  = `DELETE FROM segments WHERE topic_id = $1`
	deleteTopicProducers = `DELETE FROM producer_states WHERE topic_id = $1`
	deleteTopicParts     = `DELETE FROM partitions WHERE topic_id = $1`
	deleteTopic          = `DELETE FROM topics WHERE topic_id = $1`

	partitionColumns = `topic_id, partition, owner, epoch, high_watermark, log_start_offset`
	// selectPartitions needs no existence check: a topic always has at
	// least one partition row, written in the same transaction.
	selectPartitions = `SELECT ` + partitionColumns + ` FROM partitions
WHERE topic_id = $1 ORDER BY partition`
	selectPartitionEpoch = `SELECT epoch FROM partitions WHERE topic_id = $1 AND partition = $2`
	claimPartition       = `UPDATE partitions SET owner = $1, epoch = epoch + 1
WHERE topic_id = $2 AND partition = $3 AND epoch = $4
RETURNING ` + partitionColumns
	releasePartition = `UPDATE partitions SET owner = ''
WHERE topic_id = $1 AND partition = $2 AND owner = $3 AND epoch = $4`
	selectPartitionBoundsForUpdate = `SELECT high_watermark, log_start_offset FROM partitions
WHERE topic_id = $1 AND partition = $2 FOR UPDATE`
	setLogStartOffset = `UPDATE partitions SET log_start_offset = $3
WHERE topic_id = $1 AND partition = $2`
)

// Flushes, the segment index and producer state.
const (
	insertObject = `INSERT INTO objects (object_key, size, created_at) VALUES ($1, $2, $3)
ON CONFLICT (object_key) DO NOTHING`
	// lockFlushPartitions locks every partition of a flush in key order,
	// so two flushes sharing partitions cannot deadlock, and returns their
	// fencing state. Parameters: parallel arrays of topic IDs and
	// partitions.
	lockFlushPartitions = `SELECT p.topic_id, p.partition, p.owner, p.epoch, p.high_watermark
FROM partitions p
JOIN unnest($1::uuid[], $2::integer[]) AS f (topic_id, partition)
  ON p.topic_id = f.topic_id AND p.partition = f.partition
ORDER BY p.topic_id, p.partition
FOR UPDATE OF p`
	insertSegment = `INSERT INTO segments (topic_id, partition, base_offset, last_offset,
    object_key, pos, size, min_timestamp, max_timestamp)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	setHighWatermark = `UPDATE partitions SET high_watermark = $3
WHERE topic_id = $1 AND partition = $2`
	upsertProducerState = `INSERT INTO producer_states (topic_id, partition, producer_id,
    epoch, batches, last_timestamp)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (topic_id, partition, producer_id) DO UPDATE SET
    epoch = excluded.epoch,
    batches = excluded.batches,
    last_timestamp = excluded.last_timestamp`
	selectProducerStates = `SELECT producer_id, epoch, batches, last_timestamp
FROM producer_states WHERE topic_id = $1 AND partition = $2 ORDER BY producer_id`

	segmentColumns = `topic_id, partition, base_offset, last_offset, object_key, pos, size,
    min_timestamp, max_timestamp`
	// selectSegmentsFrom starts its scan of the primary key at the last
	// segment beginning at or before fromOffset, not at the partition's
	// first segment: segments do not overlap (see the schema), so none
	// before it can reach fromOffset. Parameters: topic, partition,
	// fromOffset, limit (NULL for none).
	selectSegmentsFrom = `SELECT ` + segmentColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2
  AND base_offset >= COALESCE((
        SELECT base_offset FROM segments
        WHERE topic_id = $1 AND partition = $2 AND base_offset <= $3
        ORDER BY base_offset DESC LIMIT 1), $3)
  AND last_offset >= $3
ORDER BY base_offset LIMIT $4`
	selectSegmentsByTime = `SELECT ` + segmentColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2 AND max_timestamp >= $3
ORDER BY base_offset LIMIT $4`
	selectMaxTimestampSegment = `SELECT ` + segmentColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2
ORDER BY max_timestamp DESC, base_offset ASC LIMIT 1`
)

// Consumer groups and their committed offsets.
const (
	// lockOrCreateGroup makes sure the group row exists and locks it.
	// ON CONFLICT DO UPDATE (rather than DO NOTHING) takes the row lock,
	// changing nothing, and if a concurrent DeleteGroup removes the row
	// first, it inserts a new one instead: the offsets written next always
	// have their parent.
	lockOrCreateGroup = `INSERT INTO groups (name, state, updated_at) VALUES ($1, 'Empty', $2)
ON CONFLICT (name) DO UPDATE SET updated_at = groups.updated_at`
	lockGroup         = `SELECT 1 FROM groups WHERE name = $1 FOR UPDATE`
	upsertGroupOffset = `INSERT INTO group_offsets (group_name, topic, partition,
    committed_offset, leader_epoch, metadata, commit_time)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (group_name, topic, partition) DO UPDATE SET
    committed_offset = excluded.committed_offset,
    leader_epoch = excluded.leader_epoch,
    metadata = excluded.metadata,
    commit_time = excluded.commit_time`
	selectGroupOffsets = `SELECT topic, partition, committed_offset, leader_epoch, metadata, commit_time
FROM group_offsets WHERE group_name = $1 ORDER BY topic, partition`
	deleteGroupOffsets = `DELETE FROM group_offsets
WHERE group_name = $1 AND topic = $2 AND partition = ANY ($3::integer[])`
	deleteAllGroupOffsets = `DELETE FROM group_offsets WHERE group_name = $1`

	groupColumns = `name, protocol_type, protocol, state, generation, leader, members, updated_at`
	upsertGroup  = `INSERT INTO groups (` + groupColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (name) DO UPDATE SET
    protocol_type = excluded.protocol_type,
    protocol = excluded.protocol,
    state = excluded.state,
    generation = excluded.generation,
    leader = excluded.leader,
    members = excluded.members,
    updated_at = excluded.updated_at`
	selectGroup  = `SELECT ` + groupColumns + ` FROM groups WHERE name = $1`
	selectGroups = `SELECT ` + groupColumns + ` FROM groups ORDER BY name`
	deleteGroup  = `DELETE FROM groups WHERE name = $1`
)
