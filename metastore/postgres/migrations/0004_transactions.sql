-- 0004_transactions: transaction coordinator state (metastore.Transactions);
-- the Postgres twin of metastore/sqlite/migrations/0004_transactions.sql.
--
-- A transactional id's row is its coordinator's whole record; every change
-- is a compare-and-swap on version. Markers still to be written into
-- partition logs wait in txn_markers until the flush that commits them
-- deletes them in its own transaction. aborted_txns is each partition's
-- aborted-transaction index, written by the flush that commits the abort
-- marker. txn_offsets holds transactional offset commits until their
-- transaction ends.

CREATE TABLE transactions (
    transactional_id    TEXT    COLLATE "C" PRIMARY KEY,
    producer_id         BIGINT  NOT NULL,
    producer_epoch      INTEGER NOT NULL,
    last_producer_id    BIGINT  NOT NULL DEFAULT -1,
    last_producer_epoch INTEGER NOT NULL DEFAULT -1,
    state               TEXT    NOT NULL,
    timeout_ms          INTEGER NOT NULL,
    start_ms            BIGINT  NOT NULL DEFAULT 0, -- 0 when no transaction is open
    update_ms           BIGINT  NOT NULL,
    partitions          TEXT    NOT NULL DEFAULT '[]', -- JSON [{"t": topic, "p": partition}]
    groups              TEXT    NOT NULL DEFAULT '[]', -- JSON array of group names
    last_commit         BOOLEAN NOT NULL DEFAULT FALSE,
    coordinator_epoch   INTEGER NOT NULL DEFAULT 0,
    version             BIGINT  NOT NULL
);

CREATE TABLE txn_markers (
    topic_id          UUID    NOT NULL,
    partition         INTEGER NOT NULL,
    producer_id       BIGINT  NOT NULL,
    producer_epoch    INTEGER NOT NULL,
    is_commit         BOOLEAN NOT NULL,
    coordinator_epoch INTEGER NOT NULL,
    transactional_id  TEXT    NOT NULL,
    PRIMARY KEY (topic_id, partition, producer_id)
);

CREATE INDEX txn_markers_txn ON txn_markers (transactional_id);

CREATE TABLE aborted_txns (
    topic_id     UUID    NOT NULL,
    partition    INTEGER NOT NULL,
    last_offset  BIGINT  NOT NULL, -- the abort marker's offset
    producer_id  BIGINT  NOT NULL,
    first_offset BIGINT  NOT NULL,
    PRIMARY KEY (topic_id, partition, last_offset)
);

CREATE TABLE txn_offsets (
    transactional_id TEXT    NOT NULL,
    group_name       TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    partition        INTEGER NOT NULL,
    committed_offset BIGINT  NOT NULL,
    leader_epoch     INTEGER NOT NULL,
    metadata         TEXT,
    commit_time      BIGINT  NOT NULL, -- unix nanoseconds
    PRIMARY KEY (transactional_id, group_name, topic, partition)
);

CREATE INDEX txn_offsets_group ON txn_offsets (group_name);

ALTER TABLE producer_states ADD COLUMN txn_first_offset BIGINT  NOT NULL DEFAULT -1;
ALTER TABLE producer_states ADD COLUMN marker_epoch INTEGER NOT NULL DEFAULT -1;
