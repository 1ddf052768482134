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
	// Agent listeners: DeleteAgentListeners (agent_id) then
	// InsertAgentListener (agent_id, position, name, host, port).
	DeleteAgentListeners string
	InsertAgentListener  string
	SelectAgentListeners string

	// SCRAM credentials: user_name, mechanism, salt, stored_key,
	// server_key, iterations.
	UpsertScramCredential  string
	DeleteScramCredential  string // user_name, mechanism
	SelectScramCredential  string // user_name, mechanism
	SelectScramCredentials string

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
	LockTopicPartitions string `sql:"optional"`
	// SelectTopicObjectKeys returns the distinct object keys the topic's
	// index rows point into: the objects whose live bytes DeleteTopic
	// recomputes.
	SelectTopicObjectKeys string
	DeleteTopicIndexRows  string
	DeleteTopicLeases     string
	DeleteTopicProducers  string
	DeleteTopicParts      string
	DeleteTopic           string
	// SelectPartitions needs no existence check: a topic always has at
	// least one partition row, written in the same transaction.
	SelectPartitions               string
	SelectPartitionEpoch           string
	ClaimPartition                 string // owner, topic_id, partition, expected epoch
	ReleasePartition               string // topic_id, partition, owner, epoch
	SelectPartitionBoundsForUpdate string
	SetLogStartOffset              string // topic_id, partition, offset
	// SelectTrimObjectKeys and DeleteIndexRowsBelow: the index rows of a
	// partition that lie wholly below an offset (topic_id, partition,
	// offset): their distinct object keys, and their deletion.
	SelectTrimObjectKeys string
	DeleteIndexRowsBelow string

	// Flushes, the log index (table segments, one metastore.IndexRow per
	// row) and producer state.

	// UpsertFlushObject records a flush's object (object_key, size,
	// created_at) with kind 'flush'. On a key already known (a retried
	// partial commit) it changes nothing but takes the row's lock, the
	// first step of the accounting protocol (see LockObjects); if a
	// concurrent ForgetObjects deletes the row first, it inserts a new
	// one.
	UpsertFlushObject string
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

	// Lifecycle: leases, compaction switches, live-bytes accounting and
	// garbage collection. Statements taking a key set read it from $1, as
	// Dialect.KeySet encodes it.

	// SelectLease returns holder, token of a partition's lease (topic_id,
	// partition).
	SelectLease string
	// ClaimLease upserts a lease (topic_id, partition, holder, now,
	// expires) when it is free, expired or already holder's, keeping the
	// token for the same holder and incrementing it otherwise, and
	// returns holder, token, expires; it returns no row when another
	// holder's lease is unexpired.
	ClaimLease   string
	ReleaseLease string // topic_id, partition, holder, token
	// InsertObject records a compaction output (object_key, kind, size,
	// created_at); it inserts nothing if the key is known.
	InsertObject string
	// SelectIndexRowsSpan returns the partition's index rows that
	// intersect [$3, $4], ordered by base_offset; DeleteIndexRowsSpan
	// deletes those that begin in it.
	SelectIndexRowsSpan string
	DeleteIndexRowsSpan string
	// LockObjects locks the objects of the key set in key order (byte
	// order, the order callers chunk keys in). Every transaction that
	// adds or removes index rows locks their objects with it before
	// UpdateLiveBytes, as a statement of its own: under read committed,
	// UpdateLiveBytes then starts after every other writer of those
	// objects' rows has committed and sees their rows. Not needed where
	// write transactions lock the whole database.
	LockObjects string `sql:"optional"`
	// UpdateLiveBytes recomputes live_bytes of the key set's objects from
	// their index rows, and dead_since ($2, unix nanos, where none is
	// left and it was not already dead).
	UpdateLiveBytes      string
	SelectRowCounts      string
	SelectDeadObjects    string // dead before, limit
	SelectLowLiveObjects string // kind, ratio, limit
	ForgetObjects        string // key set; returns the deleted keys
	// InsertForgotten records a forgotten key (object_key, forgotten_at);
	// PurgeForgotten drops those forgotten before $1.
	InsertForgotten string
	PurgeForgotten  string
	// SelectObjectGoneForUpdate locks the object row of a flush's key,
	// live or dead, so it cannot die before the flush's rows are in, and
	// returns one row: 1 if the object is dead (else 0, or NULL when
	// there is no row) and the number of forgotten_objects rows of the
	// key. A dead or forgotten object is never referenced again (garbage
	// collection may be deleting it, or has). One round trip per commit.
	SelectObjectGoneForUpdate string // object_key
	SelectKnownObjects        string // key set
	SelectObjectStats         string
	SelectObjectRows          string // object_key

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

	// Transactions (metastore.Transactions).

	SelectTxn        string // transactional_id
	SelectTxnVersion string // transactional_id
	SelectTxns       string
	// InsertTxn inserts a new row (txnColumns order) and nothing if the id
	// exists; UpdateTxn sets every column of the row whose version is $14
	// (txnColumns order in $1..$14, the old version last: $15).
	InsertTxn               string
	UpdateTxn               string
	InsertTxnMarker         string // upsert; txnMarkerColumns order
	CountTxnMarkers         string // transactional_id
	SelectOwnedMarkers      string // owner
	DeleteTxnMarker         string // topic_id, partition, producer_id, coordinator_epoch (at most)
	InsertAbortedTxn        string // topic_id, partition, last_offset, producer_id, first_offset
	SelectAbortedTxns       string // topic_id, partition, from offset
	DeleteAbortedBelow      string // topic_id, partition, offset
	UpsertTxnOffset         string
	ApplyTxnOffsets         string // transactional_id: into group_offsets
	DeleteTxnOffsets        string // transactional_id
	SelectPendingTxnOffsets string // group
	DeleteTopicMarkers      string // topic_id
	DeleteTopicAborted      string // topic_id
}

// Column lists shared by the statements that read whole rows; the scan
// functions read them in this order.
const (
	topicColumns     = `topic_id, name, partitions, replication_factor, configs, created_at`
	partitionColumns = `topic_id, partition, owner, epoch, high_watermark, log_start_offset`
	indexRowColumns  = `topic_id, partition, base_offset, last_offset, object_key, pos, size,
    min_timestamp, max_timestamp, kind`
	objectColumns = `object_key, kind, size, live_bytes, created_at, COALESCE(dead_since, 0)`
	groupColumns  = `name, protocol_type, protocol, state, generation, leader, members, updated_at`
	txnColumns    = `transactional_id, producer_id, producer_epoch, last_producer_id, last_producer_epoch,
    state, timeout_ms, start_ms, update_ms, partitions, groups, last_commit, coordinator_epoch, version`
	txnMarkerColumns = `topic_id, partition, producer_id, producer_epoch, is_commit, coordinator_epoch, transactional_id`
)

// StandardQueries returns the statements as both backends spell them.
// forUpdate is appended to the reads that lock the rows they return: "
// FOR UPDATE" where the database has row locks, "" where every write
// transaction locks the whole database. keySet is a query returning the
// strings of the key set in parameter $1 (see Dialect.KeySet), used as
// "IN (keySet)". The backend fills in the rest:
// SelectSchemaMigrationsExists, InsertClusterID, AllocateProducerID and
// InsertPartitions have no common spelling, and the optional ones are
// dialect-specific.
func StandardQueries(forUpdate, keySet string) Queries {
	// The live bytes of an object, and whether any row references it.
	const (
		liveBytes  = `COALESCE((SELECT SUM(s.size) FROM segments s WHERE s.object_key = objects.object_key), 0)`
		referenced = `EXISTS (SELECT 1 FROM segments s WHERE s.object_key = objects.object_key)`
	)
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
		DeleteAgentListeners: `DELETE FROM agent_listeners WHERE agent_id = $1`,
		InsertAgentListener: `INSERT INTO agent_listeners (agent_id, position, name, host, port)
VALUES ($1, $2, $3, $4, $5)`,
		SelectAgentListeners: `SELECT agent_id, name, host, port FROM agent_listeners ORDER BY agent_id, position`,
		UpsertScramCredential: `INSERT INTO scram_credentials (user_name, mechanism, salt, stored_key, server_key, iterations)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_name, mechanism) DO UPDATE SET
    salt = excluded.salt, stored_key = excluded.stored_key,
    server_key = excluded.server_key, iterations = excluded.iterations`,
		DeleteScramCredential: `DELETE FROM scram_credentials WHERE user_name = $1 AND mechanism = $2`,
		SelectScramCredential: `SELECT user_name, mechanism, salt, stored_key, server_key, iterations
FROM scram_credentials WHERE user_name = $1 AND mechanism = $2`,
		SelectScramCredentials: `SELECT user_name, mechanism, salt, stored_key, server_key, iterations
FROM scram_credentials ORDER BY user_name, mechanism`,

		SelectTopicByName:     `SELECT ` + topicColumns + ` FROM topics WHERE name = $1`,
		SelectTopicForUpdate:  `SELECT ` + topicColumns + ` FROM topics WHERE name = $1` + forUpdate,
		SelectTopics:          `SELECT ` + topicColumns + ` FROM topics ORDER BY name`,
		InsertTopic:           `INSERT INTO topics (` + topicColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`,
		UpdateTopicConfigs:    `UPDATE topics SET configs = $2 WHERE name = $1`,
		UpdateTopicPartitions: `UPDATE topics SET partitions = $2 WHERE topic_id = $1`,
		SelectTopicObjectKeys: `SELECT DISTINCT object_key FROM segments WHERE topic_id = $1`,
		DeleteTopicIndexRows:  `DELETE FROM segments WHERE topic_id = $1`,
		DeleteTopicLeases:     `DELETE FROM leases WHERE topic_id = $1`,
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
		// base_offset < $3 is implied by last_offset < $3; it bounds the
		// primary-key range scanned.
		SelectTrimObjectKeys: `SELECT DISTINCT object_key FROM segments
WHERE topic_id = $1 AND partition = $2 AND base_offset < $3 AND last_offset < $3`,
		DeleteIndexRowsBelow: `DELETE FROM segments
WHERE topic_id = $1 AND partition = $2 AND base_offset < $3 AND last_offset < $3`,

		UpsertFlushObject: `INSERT INTO objects (object_key, kind, size, live_bytes, created_at)
VALUES ($1, 'flush', $2, 0, $3)
ON CONFLICT (object_key) DO UPDATE SET size = objects.size`,
		SelectPartitionForUpdate: `SELECT owner, epoch, high_watermark FROM partitions
WHERE topic_id = $1 AND partition = $2` + forUpdate,
		InsertIndexRow: `INSERT INTO segments (` + indexRowColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		SetHighWatermark: `UPDATE partitions SET high_watermark = $3
WHERE topic_id = $1 AND partition = $2`,
		UpsertProducerState: `INSERT INTO producer_states (topic_id, partition, producer_id,
    epoch, batches, last_timestamp, txn_first_offset, marker_epoch)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (topic_id, partition, producer_id) DO UPDATE SET
    epoch = excluded.epoch,
    batches = excluded.batches,
    last_timestamp = excluded.last_timestamp,
    txn_first_offset = excluded.txn_first_offset,
    marker_epoch = excluded.marker_epoch`,
		SelectProducerStates: `SELECT producer_id, epoch, batches, last_timestamp, txn_first_offset, marker_epoch
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

		SelectLease: `SELECT holder, token FROM leases WHERE topic_id = $1 AND partition = $2`,
		ClaimLease: `INSERT INTO leases (topic_id, partition, holder, token, expires)
VALUES ($1, $2, $3, 1, $5)
ON CONFLICT (topic_id, partition) DO UPDATE SET
    token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END,
    holder = excluded.holder,
    expires = excluded.expires
WHERE leases.holder = excluded.holder OR leases.holder = '' OR leases.expires <= $4
RETURNING holder, token, expires`,
		ReleaseLease: `UPDATE leases SET holder = '', expires = 0
WHERE topic_id = $1 AND partition = $2 AND holder = $3 AND token = $4`,
		InsertObject: `INSERT INTO objects (object_key, kind, size, live_bytes, created_at)
VALUES ($1, $2, $3, 0, $4)
ON CONFLICT (object_key) DO NOTHING`,
		// Seeks like SelectIndexRowsFrom: no row before the last one
		// beginning at or before $3 can reach it.
		SelectIndexRowsSpan: `SELECT ` + indexRowColumns + ` FROM segments
WHERE topic_id = $1 AND partition = $2
  AND base_offset >= COALESCE((
        SELECT base_offset FROM segments
        WHERE topic_id = $1 AND partition = $2 AND base_offset <= $3
        ORDER BY base_offset DESC LIMIT 1), $3)
  AND base_offset <= $4 AND last_offset >= $3
ORDER BY base_offset`,
		DeleteIndexRowsSpan: `DELETE FROM segments
WHERE topic_id = $1 AND partition = $2 AND base_offset >= $3 AND base_offset <= $4`,
		UpdateLiveBytes: `UPDATE objects SET
    live_bytes = ` + liveBytes + `,
    dead_since = CASE WHEN ` + referenced + ` THEN NULL ELSE COALESCE(dead_since, $2) END
WHERE object_key IN (` + keySet + `)`,
		SelectRowCounts: `SELECT s.topic_id, s.partition,
    CAST(SUM(CASE WHEN s.kind = 0 THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN s.kind = 0 THEN s.size ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN s.kind = 1 THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN s.kind = 1 THEN s.size ELSE 0 END) AS BIGINT),
    COALESCE(MIN(CASE WHEN s.kind = 0 THEN o.created_at END), 0)
FROM segments s LEFT JOIN objects o ON o.object_key = s.object_key
GROUP BY s.topic_id, s.partition
ORDER BY s.topic_id, s.partition`,
		SelectDeadObjects: `SELECT ` + objectColumns + ` FROM objects
WHERE dead_since IS NOT NULL AND dead_since < $1
ORDER BY dead_since, object_key LIMIT $2`,
		// The ratio is cast: Postgres would otherwise type $2 as the
		// integer it multiplies.
		SelectLowLiveObjects: `SELECT ` + objectColumns + ` FROM objects
WHERE kind = $1 AND dead_since IS NULL AND live_bytes < CAST($2 AS DOUBLE PRECISION) * size
ORDER BY created_at, object_key LIMIT $3`,
		// Both conditions, not only live_bytes = 0: a referenced object is
		// never forgotten, whatever the accounting says.
		ForgetObjects: `DELETE FROM objects
WHERE object_key IN (` + keySet + `) AND live_bytes = 0 AND NOT ` + referenced + `
RETURNING object_key`,
		InsertForgotten: `INSERT INTO forgotten_objects (object_key, forgotten_at) VALUES ($1, $2)
ON CONFLICT (object_key) DO NOTHING`,
		PurgeForgotten: `DELETE FROM forgotten_objects WHERE forgotten_at < $1`,
		SelectObjectGoneForUpdate: `SELECT
    (SELECT CASE WHEN dead_since IS NULL THEN 0 ELSE 1 END FROM objects
     WHERE object_key = $1` + forUpdate + `),
    (SELECT COUNT(*) FROM forgotten_objects WHERE object_key = $1)`,
		SelectKnownObjects: `SELECT object_key FROM objects WHERE object_key IN (` + keySet + `)`,
		SelectObjectStats: `SELECT kind, CASE WHEN dead_since IS NULL THEN 0 ELSE 1 END AS dead,
    COUNT(*), CAST(SUM(size) AS BIGINT), CAST(SUM(live_bytes) AS BIGINT), MIN(created_at)
FROM objects
GROUP BY kind, CASE WHEN dead_since IS NULL THEN 0 ELSE 1 END
ORDER BY kind, dead`,
		SelectObjectRows: `SELECT ` + indexRowColumns + ` FROM segments
WHERE object_key = $1 ORDER BY topic_id, partition, base_offset`,

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

		SelectTxn:        `SELECT ` + txnColumns + ` FROM transactions WHERE transactional_id = $1`,
		SelectTxnVersion: `SELECT version FROM transactions WHERE transactional_id = $1`,
		SelectTxns:       `SELECT ` + txnColumns + ` FROM transactions ORDER BY transactional_id`,
		InsertTxn: `INSERT INTO transactions (` + txnColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (transactional_id) DO NOTHING`,
		UpdateTxn: `UPDATE transactions SET producer_id = $2, producer_epoch = $3, last_producer_id = $4,
    last_producer_epoch = $5, state = $6, timeout_ms = $7, start_ms = $8, update_ms = $9,
    partitions = $10, groups = $11, last_commit = $12, coordinator_epoch = $13, version = $14
WHERE transactional_id = $1 AND version = $15`,
		InsertTxnMarker: `INSERT INTO txn_markers (` + txnMarkerColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (topic_id, partition, producer_id) DO UPDATE SET
    producer_epoch = excluded.producer_epoch, is_commit = excluded.is_commit,
    coordinator_epoch = excluded.coordinator_epoch, transactional_id = excluded.transactional_id`,
		CountTxnMarkers: `SELECT COUNT(*) FROM txn_markers WHERE transactional_id = $1`,
		SelectOwnedMarkers: `SELECT ` + txnMarkerColumns + ` FROM txn_markers m
WHERE EXISTS (SELECT 1 FROM partitions p
    WHERE p.topic_id = m.topic_id AND p.partition = m.partition AND p.owner = $1)
ORDER BY topic_id, partition, producer_id`,
		DeleteTxnMarker: `DELETE FROM txn_markers
WHERE topic_id = $1 AND partition = $2 AND producer_id = $3 AND coordinator_epoch <= $4`,
		InsertAbortedTxn: `INSERT INTO aborted_txns (topic_id, partition, last_offset, producer_id, first_offset)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (topic_id, partition, last_offset) DO NOTHING`,
		SelectAbortedTxns: `SELECT producer_id, first_offset, last_offset FROM aborted_txns
WHERE topic_id = $1 AND partition = $2 AND last_offset >= $3 ORDER BY last_offset`,
		DeleteAbortedBelow: `DELETE FROM aborted_txns WHERE topic_id = $1 AND partition = $2 AND last_offset < $3`,
		UpsertTxnOffset: `INSERT INTO txn_offsets (transactional_id, group_name, topic, partition,
    committed_offset, leader_epoch, metadata, commit_time)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (transactional_id, group_name, topic, partition) DO UPDATE SET
    committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch,
    metadata = excluded.metadata, commit_time = excluded.commit_time`,
		ApplyTxnOffsets: `INSERT INTO group_offsets (group_name, topic, partition,
    committed_offset, leader_epoch, metadata, commit_time)
SELECT group_name, topic, partition, committed_offset, leader_epoch, metadata, commit_time
FROM txn_offsets t WHERE t.transactional_id = $1
  AND EXISTS (SELECT 1 FROM groups g WHERE g.name = t.group_name)
ON CONFLICT (group_name, topic, partition) DO UPDATE SET
    committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch,
    metadata = excluded.metadata, commit_time = excluded.commit_time`,
		DeleteTxnOffsets: `DELETE FROM txn_offsets WHERE transactional_id = $1`,
		SelectPendingTxnOffsets: `SELECT DISTINCT topic, partition FROM txn_offsets
WHERE group_name = $1 ORDER BY topic, partition`,
		DeleteTopicMarkers: `DELETE FROM txn_markers WHERE topic_id = $1`,
		DeleteTopicAborted: `DELETE FROM aborted_txns WHERE topic_id = $1`,
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
