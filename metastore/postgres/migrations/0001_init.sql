-- 0001_init: the initial Strata metastore schema (the Postgres twin of
-- metastore/sqlite/migrations/0001_init.sql; versions match across the two).
--
-- Conventions: topic IDs are UUIDs; created_at and lease_expires are BIGINT
-- unix nanoseconds, exactly what the SQLite store keeps, so both compare
-- leases at the same precision; Kafka record timestamps are stored as given
-- (unix millis); an empty owner means "unowned". Names that Kafka lists in
-- order use COLLATE "C", byte order, whatever the database's locale.
-- Child rows reference their parents without ON DELETE CASCADE: DeleteTopic
-- deletes children explicitly, and the foreign keys catch a forgotten one.

-- The cluster's one row: its Kafka cluster ID, created on first use.
CREATE TABLE cluster (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    cluster_id TEXT    NOT NULL
);

-- Registered agents. node_id comes from an identity sequence, so a Kafka
-- broker id is never handed to a second agent, even after rows are removed.
CREATE TABLE agents (
    node_id       INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id      TEXT    NOT NULL UNIQUE,
    host          TEXT    NOT NULL,
    port          INTEGER NOT NULL,
    rack          TEXT    NOT NULL,
    lease_expires BIGINT  NOT NULL
);

CREATE INDEX agents_lease ON agents (lease_expires);

CREATE TABLE topics (
    topic_id           UUID     PRIMARY KEY,
    name               TEXT     COLLATE "C" NOT NULL UNIQUE,
    partitions         INTEGER  NOT NULL CHECK (partitions > 0),
    replication_factor SMALLINT NOT NULL,
    configs            JSONB    NOT NULL DEFAULT '{}', -- object of string to string
    created_at         BIGINT   NOT NULL
);

CREATE TABLE partitions (
    topic_id         UUID    NOT NULL REFERENCES topics (topic_id),
    partition        INTEGER NOT NULL,
    owner            TEXT    NOT NULL DEFAULT '',
    epoch            INTEGER NOT NULL DEFAULT 0,
    high_watermark   BIGINT  NOT NULL DEFAULT 0,
    log_start_offset BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
);

-- The log index: one metastore.IndexRow per row. CommitFlush only appends
-- rows at or above a partition's high watermark, so a partition's rows
-- never overlap: ordering by base_offset also orders by last_offset (the
-- IndexRows query relies on it).
CREATE TABLE segments (
    topic_id      UUID    NOT NULL,
    partition     INTEGER NOT NULL,
    base_offset   BIGINT  NOT NULL,
    last_offset   BIGINT  NOT NULL CHECK (last_offset >= base_offset),
    object_key    TEXT    NOT NULL,
    pos           BIGINT  NOT NULL,
    size          BIGINT  NOT NULL,
    min_timestamp BIGINT  NOT NULL,
    max_timestamp BIGINT  NOT NULL,
    PRIMARY KEY (topic_id, partition, base_offset),
    FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition)
);

-- MaxTimestampRow: largest max_timestamp, earliest row on ties.
CREATE INDEX segments_max_timestamp
    ON segments (topic_id, partition, max_timestamp DESC, base_offset ASC);

-- Which segments reference an object; garbage collection asks the reverse.
CREATE INDEX segments_object_key ON segments (object_key);

CREATE TABLE producer_states (
    topic_id       UUID     NOT NULL,
    partition      INTEGER  NOT NULL,
    producer_id    BIGINT   NOT NULL,
    epoch          SMALLINT NOT NULL,
    batches        JSONB    NOT NULL DEFAULT '[]', -- array, oldest first
    last_timestamp BIGINT   NOT NULL,
    PRIMARY KEY (topic_id, partition, producer_id),
    FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition)
);

-- Every object a committed flush wrote. Rows outlive the segments that
-- point into them (DeleteTopic, compaction): an object no segment
-- references is garbage.
CREATE TABLE objects (
    object_key TEXT   PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Idempotent producer IDs. They start at 1000, leaving small numbers free
-- for tests and tools that pick fixed IDs. A sequence never hands a value
-- out twice, and allocating one takes no row lock.
CREATE SEQUENCE producer_ids START WITH 1000 NO CYCLE;
