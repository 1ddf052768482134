-- 0004_transactions: transaction coordinator state (metastore.Transactions).
--
-- A transactional id's row is its coordinator's whole record; every change
-- is a compare-and-swap on version. Markers still to be written into
-- partition logs wait in txn_markers until the flush that commits them
-- deletes them in its own transaction. aborted_txns is each partition's
-- aborted-transaction index, written by the flush that commits the abort
-- marker. txn_offsets holds transactional offset commits until their
-- transaction ends.

CREATE TABLE transactions (
    transactional_id    TEXT    PRIMARY KEY,
    producer_id         INTEGER NOT NULL,
    producer_epoch      INTEGER NOT NULL,
    last_producer_id    INTEGER NOT NULL DEFAULT -1,
    last_producer_epoch INTEGER NOT NULL DEFAULT -1,
    state               TEXT    NOT NULL,
    timeout_ms          INTEGER NOT NULL,
    start_ms            INTEGER NOT NULL DEFAULT 0, -- 0 when no transaction is open
    update_ms           INTEGER NOT NULL,
    partitions          TEXT    NOT NULL DEFAULT '[]', -- JSON [{"t": topic, "p": partition}]
    groups              TEXT    NOT NULL DEFAULT '[]', -- JSON array of group names
    last_commit         INTEGER NOT NULL DEFAULT 0,
    coordinator_epoch   INTEGER NOT NULL DEFAULT 0,
    version             INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE txn_markers (
    topic_id          BLOB    NOT NULL,
    partition         INTEGER NOT NULL,
    producer_id       INTEGER NOT NULL,
    producer_epoch    INTEGER NOT NULL,
    is_commit         INTEGER NOT NULL,
    coordinator_epoch INTEGER NOT NULL,
    transactional_id  TEXT    NOT NULL,
    PRIMARY KEY (topic_id, partition, producer_id)
) WITHOUT ROWID;

CREATE INDEX txn_markers_txn ON txn_markers (transactional_id);

CREATE TABLE aborted_txns (
    topic_id     BLOB    NOT NULL,
    partition    INTEGER NOT NULL,
    last_offset  INTEGER NOT NULL, -- the abort marker's offset
    producer_id  INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition, last_offset)
) WITHOUT ROWID;

CREATE TABLE txn_offsets (
    transactional_id TEXT    NOT NULL,
    group_name       TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    partition        INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    leader_epoch     INTEGER NOT NULL,
    metadata         TEXT,
    commit_time      INTEGER NOT NULL, -- unix nanoseconds
    PRIMARY KEY (transactional_id, group_name, topic, partition)
) WITHOUT ROWID;

CREATE INDEX txn_offsets_group ON txn_offsets (group_name);

ALTER TABLE producer_states ADD COLUMN txn_first_offset INTEGER NOT NULL DEFAULT -1;
ALTER TABLE producer_states ADD COLUMN marker_epoch INTEGER NOT NULL DEFAULT -1;
