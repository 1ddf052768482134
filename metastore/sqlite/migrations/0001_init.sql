-- 0001_init: the initial Strata metastore schema.
--
-- Conventions: topic IDs are 16-byte BLOBs; timestamps are INTEGER unix
-- nanoseconds (created_at, lease_expires) or the Kafka record timestamps
-- exactly as given (unix millis); an empty owner means "unowned".
-- Child rows reference their parents without ON DELETE CASCADE: DeleteTopic
-- deletes children explicitly, and the foreign keys catch a forgotten one.

-- The cluster's one row: its Kafka cluster ID, created on first use.
CREATE TABLE cluster (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    cluster_id TEXT    NOT NULL
);

-- Registered agents. node_id is AUTOINCREMENT so a Kafka broker id is never
-- handed to a second agent, even after rows are removed.
CREATE TABLE agents (
    node_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id      TEXT    NOT NULL UNIQUE,
    host          TEXT    NOT NULL,
    port          INTEGER NOT NULL,
    rack          TEXT    NOT NULL,
    lease_expires INTEGER NOT NULL
);

CREATE INDEX agents_lease ON agents (lease_expires);

CREATE TABLE topics (
    topic_id           BLOB    PRIMARY KEY CHECK (length(topic_id) = 16),
    name               TEXT    NOT NULL UNIQUE,
    partitions         INTEGER NOT NULL CHECK (partitions > 0),
    replication_factor INTEGER NOT NULL,
    configs            TEXT    NOT NULL DEFAULT '{}', -- JSON object of string to string
    created_at         INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE partitions (
    topic_id         BLOB    NOT NULL REFERENCES topics (topic_id),
    partition        INTEGER NOT NULL,
    owner            TEXT    NOT NULL DEFAULT '',
    epoch            INTEGER NOT NULL DEFAULT 0,
    high_watermark   INTEGER NOT NULL DEFAULT 0,
    log_start_offset INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;

-- The log index: one metastore.IndexRow per row. CommitFlush only appends
-- rows at or above a partition's high watermark, so a partition's rows
-- never overlap: ordering by base_offset also orders by last_offset (the
-- IndexRows query relies on it).
CREATE TABLE segments (
    topic_id      BLOB    NOT NULL,
    partition     INTEGER NOT NULL,
    base_offset   INTEGER NOT NULL,
    last_offset   INTEGER NOT NULL CHECK (last_offset >= base_offset),
    object_key    TEXT    NOT NULL,
    pos           INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    min_timestamp INTEGER NOT NULL,
    max_timestamp INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition, base_offset),
    FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition)
) WITHOUT ROWID;

-- MaxTimestampRow: largest max_timestamp, earliest row on ties.
CREATE INDEX segments_max_timestamp
    ON segments (topic_id, partition, max_timestamp DESC, base_offset ASC);

-- Which segments reference an object; garbage collection asks the reverse.
CREATE INDEX segments_object_key ON segments (object_key);

CREATE TABLE producer_states (
    topic_id       BLOB    NOT NULL,
    partition      INTEGER NOT NULL,
    producer_id    INTEGER NOT NULL,
    epoch          INTEGER NOT NULL,
    batches        TEXT    NOT NULL DEFAULT '[]', -- JSON array, oldest first
    last_timestamp INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition, producer_id),
    FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition)
) WITHOUT ROWID;

-- Every object a committed flush wrote. Rows outlive the segments that
-- point into them (DeleteTopic, compaction): an object no segment
-- references is garbage.
CREATE TABLE objects (
    object_key TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The next idempotent producer ID to hand out. IDs start at 1000, leaving
-- small numbers free for tests and tools that pick fixed IDs.
CREATE TABLE producer_ids (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    next_id   INTEGER NOT NULL
);

INSERT INTO producer_ids (singleton, next_id) VALUES (1, 1000);
