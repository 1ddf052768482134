-- 0002_groups: consumer groups (state and committed offsets), so any agent
-- can take over as a group's coordinator. DeleteRecords and partition
-- growth need no schema change: partitions.log_start_offset and
-- topics.partitions exist since 0001.

-- A group's durable state. members is the coordinator's own encoding of
-- the member list, opaque to the store. CommitOffsets creates an offset-only
-- row (protocol_type '', state 'Empty') when a group commits before joining.
-- Every write to a group's offsets first locks this row, which orders the
-- writers of one group and keeps DeleteGroup from racing them.
CREATE TABLE groups (
    name          TEXT    COLLATE "C" PRIMARY KEY,
    protocol_type TEXT    NOT NULL DEFAULT '',
    protocol      TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL DEFAULT 'Empty',
    generation    INTEGER NOT NULL DEFAULT 0,
    leader        TEXT    NOT NULL DEFAULT '',
    members       BYTEA   NOT NULL DEFAULT '\x',
    updated_at    BIGINT  NOT NULL -- unix nanoseconds
);

-- Committed offsets, keyed by topic name as Kafka keys them: they are not
-- tied to a topic ID, so DeleteTopic leaves them alone.
CREATE TABLE group_offsets (
    group_name       TEXT    COLLATE "C" NOT NULL REFERENCES groups (name),
    topic            TEXT    COLLATE "C" NOT NULL,
    partition        INTEGER NOT NULL,
    committed_offset BIGINT  NOT NULL,
    leader_epoch     INTEGER NOT NULL,
    metadata         TEXT,            -- NULL is a null metadata string
    commit_time      BIGINT  NOT NULL, -- unix nanoseconds
    PRIMARY KEY (group_name, topic, partition)
);
