-- 0002_groups: consumer groups (state and committed offsets), so any agent
-- can take over as a group's coordinator. DeleteRecords and partition
-- growth need no schema change: partitions.log_start_offset and
-- topics.partitions exist since 0001.

-- A group's durable state. members is the coordinator's own encoding of
-- the member list, opaque to the store. CommitOffsets creates an offset-only
-- row (protocol_type '', state 'Empty') when a group commits before joining.
CREATE TABLE groups (
    name          TEXT    PRIMARY KEY,
    protocol_type TEXT    NOT NULL DEFAULT '',
    protocol      TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL DEFAULT 'Empty',
    generation    INTEGER NOT NULL DEFAULT 0,
    leader        TEXT    NOT NULL DEFAULT '',
    members       BLOB    NOT NULL DEFAULT x'',
    updated_at    INTEGER NOT NULL -- unix nanoseconds
) WITHOUT ROWID;

-- Committed offsets, keyed by topic name as Kafka keys them: they are not
-- tied to a topic ID, so DeleteTopic leaves them alone.
CREATE TABLE group_offsets (
    group_name       TEXT    NOT NULL REFERENCES groups (name),
    topic            TEXT    NOT NULL,
    partition        INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    leader_epoch     INTEGER NOT NULL,
    metadata         TEXT,             -- NULL is a null metadata string
    commit_time      INTEGER NOT NULL, -- unix nanoseconds
    PRIMARY KEY (group_name, topic, partition)
) WITHOUT ROWID;
