-- 0003_lifecycle: what compaction, retention and garbage collection need
-- (metastore.Lifecycle): object kinds and live-bytes accounting, index-row
-- kinds, and compaction leases on partitions.
--
-- The accounting invariant, kept by every transaction that adds or removes
-- index rows: objects.live_bytes is the sum of the size of the segments
-- rows whose object_key names the object, and dead_since is NULL exactly
-- while at least one such row exists (else when the last one went, unix
-- nanoseconds). Garbage collection deletes an object a grace period after
-- dead_since and only then forgets its row.

-- Existing objects were all written by flushes.
ALTER TABLE objects ADD COLUMN kind TEXT NOT NULL DEFAULT 'flush'
    CHECK (kind IN ('flush', 'segment'));
ALTER TABLE objects ADD COLUMN live_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (live_bytes >= 0);
ALTER TABLE objects ADD COLUMN dead_since INTEGER; -- NULL while referenced

UPDATE objects SET live_bytes = COALESCE(
    (SELECT SUM(s.size) FROM segments s WHERE s.object_key = objects.object_key), 0);

-- Objects no row references (a deleted topic's) are dead from now on: when
-- they died is unknown, so the grace period starts at the migration.
UPDATE objects SET dead_since = CAST(unixepoch('subsec') * 1000 AS INTEGER) * 1000000
WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.object_key = objects.object_key);

-- DeadObjects: oldest dead first.
CREATE INDEX objects_dead ON objects (dead_since) WHERE dead_since IS NOT NULL;

-- LowLiveObjects: live objects of a kind, oldest first.
CREATE INDEX objects_live ON objects (kind, created_at) WHERE dead_since IS NULL;

-- An index row's layout (metastore.RowKind): 0 a run of batches in a
-- flush object, 1 a compacted segment object's whole body.
ALTER TABLE segments ADD COLUMN kind INTEGER NOT NULL DEFAULT 0 CHECK (kind IN (0, 1));

-- A compactor's lease on one partition (metastore.Lease). A released lease
-- keeps its row with holder '' and its token, so tokens only ever grow and
-- a holder that lost the lease is never mistaken for the current one.
CREATE TABLE leases (
    topic_id  BLOB    NOT NULL,
    partition INTEGER NOT NULL,
    holder    TEXT    NOT NULL, -- '' once released
    token     INTEGER NOT NULL, -- increases at every change of holder
    expires   INTEGER NOT NULL, -- unix nanoseconds
    PRIMARY KEY (topic_id, partition),
    FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition)
) WITHOUT ROWID;

-- Objects garbage collection deleted and forgot, kept for
-- metastore.MaxCommitDelay: a flush commit retried with one of these keys
-- (its object is gone from the bucket) is refused as stale, never
-- recorded anew.
CREATE TABLE forgotten_objects (
    object_key   TEXT   PRIMARY KEY,
    forgotten_at BIGINT NOT NULL -- unix nanoseconds
);
