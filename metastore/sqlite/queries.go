package sqlite

import (
	"strings"

	"github.com/stratalog/strata/metastore/sqlstore"
)

// queries is the SQL the store runs: sqlstore's standard statements, with
// SQLite's spelling of the few that differ. The schema itself lives in
// migrations/*.sql.
var queries = sqliteQueries()

func sqliteQueries() sqlstore.Queries {
	// No FOR UPDATE: every write transaction is BEGIN IMMEDIATE, which
	// holds the database's write lock from its first statement.
	// Key sets are JSON arrays of strings (see dialect.KeySet), read back
	// with the built-in json_each.
	q := sqlstore.StandardQueries("", `SELECT value FROM json_each($1)`)
	q.SelectSchemaMigrationsExists = `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`
	q.InsertClusterID = `INSERT INTO cluster (singleton, cluster_id) VALUES (1, $1)
ON CONFLICT (singleton) DO NOTHING`
	q.AllocateProducerID = `UPDATE producer_ids SET next_id = next_id + 1
WHERE singleton = 1 RETURNING next_id - 1`
	// SQLite has no generate_series unless an extension provides it; a
	// recursive CTE counts from $2 (always below $3) instead.
	q.InsertPartitions = `WITH RECURSIVE p (partition) AS (
    SELECT $2 UNION ALL SELECT partition + 1 FROM p WHERE partition + 1 < $3)
INSERT INTO partitions (topic_id, partition) SELECT $1, partition FROM p`
	return q.Map(placeholders)
}

// placeholders rewrites $N to ?N. SQLite reads $1 as a parameter named
// "$1", numbered by first appearance rather than by its digits; ?1 is
// parameter 1.
func placeholders(query string) string {
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		if query[i] == '$' && i+1 < len(query) && '0' <= query[i+1] && query[i+1] <= '9' {
			b.WriteByte('?')
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}
