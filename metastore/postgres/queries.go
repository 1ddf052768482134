package postgres

import "github.com/stratalog/strata/metastore/sqlstore"

// queries is the SQL the store runs: sqlstore's standard statements, with
// row locks, and Postgres' spelling of the ones that differ. The schema
// itself lives in migrations/*.sql. Unqualified names resolve through the
// connection's search_path, so one database can hold several metastores
// in different schemas.
var queries = postgresQueries()

func postgresQueries() sqlstore.Queries {
	// Key sets are text[] parameters (see dialect.KeySet).
	q := sqlstore.StandardQueries(" FOR UPDATE", `SELECT unnest($1::text[])`)
	// SelectCurrentSchema is NULL when search_path names no existing
	// schema: checked first, it fails usefully where CREATE TABLE would
	// fail obscurely.
	q.SelectCurrentSchema = `SELECT current_schema()`
	// LockMigrations serialises migrators of one schema (other processes
	// opening the same metastore) until the transaction ends.
	q.LockMigrations = `SELECT pg_advisory_xact_lock(hashtext('strata-migrate:' || current_schema()))`
	q.SelectSchemaMigrationsExists = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	q.InsertClusterID = `INSERT INTO cluster (singleton, cluster_id) VALUES (TRUE, $1)
ON CONFLICT (singleton) DO NOTHING`
	q.AllocateProducerID = `SELECT nextval('producer_ids')`
	q.InsertPartitions = `INSERT INTO partitions (topic_id, partition) SELECT $1, generate_series($2::integer, $3::integer - 1)`
	q.LockTopicPartitions = `SELECT partition FROM partitions WHERE topic_id = $1 ORDER BY partition FOR UPDATE`
	// Parameters: parallel arrays of topic IDs and partitions.
	q.LockFlushPartitions = `SELECT p.topic_id, p.partition, p.owner, p.epoch, p.high_watermark
FROM partitions p
JOIN unnest($1::uuid[], $2::integer[]) AS f (topic_id, partition)
  ON p.topic_id = f.topic_id AND p.partition = f.partition
ORDER BY p.topic_id, p.partition
FOR UPDATE OF p`
	// COLLATE "C": byte order, the order sqlstore sorts and chunks keys
	// in, so that every transaction locks objects in one global order.
	q.LockObjects = `SELECT object_key FROM objects
WHERE object_key IN (SELECT unnest($1::text[]))
ORDER BY object_key COLLATE "C"
FOR UPDATE`
	return q
}
