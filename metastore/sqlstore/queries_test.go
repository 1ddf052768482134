package sqlstore

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stratalog/strata/metastore"
)

func TestStandardQueriesLackOnlyDialectStatements(t *testing.T) {
	err := StandardQueries("", "keys").validate()
	if err == nil {
		t.Fatal("StandardQueries validates, but backends must spell some statements")
	}
	var missing []string
	for _, line := range strings.Split(err.Error(), "\n") {
		missing = append(missing, strings.TrimSuffix(strings.TrimPrefix(line, "query "), " is empty"))
	}
	want := []string{"SelectSchemaMigrationsExists", "InsertClusterID", "AllocateProducerID", "InsertPartitions"}
	if !reflect.DeepEqual(missing, want) {
		t.Errorf("StandardQueries lacks %q, want exactly %q (the optional ones may stay empty)", missing, want)
	}
}

func TestStandardQueriesForUpdate(t *testing.T) {
	locking := StandardQueries(" FOR UPDATE", "keys")
	plain := StandardQueries("", "keys")
	for _, q := range []string{locking.SelectTopicForUpdate, locking.SelectPartitionBoundsForUpdate,
		locking.SelectPartitionForUpdate, locking.LockGroup} {
		if !strings.HasSuffix(q, " FOR UPDATE") {
			t.Errorf("locking read %q does not lock", q)
		}
	}
	if strings.Contains(fmt.Sprintf("%+v", plain), "FOR UPDATE") {
		t.Error("StandardQueries(\"\") locks rows")
	}
}

func TestMap(t *testing.T) {
	q := StandardQueries("", "keys").Map(strings.ToUpper)
	if q.SelectTopics != strings.ToUpper(StandardQueries("", "keys").SelectTopics) {
		t.Errorf("Map did not rewrite SelectTopics: %q", q.SelectTopics)
	}
	if q.LockMigrations != "" {
		t.Errorf("Map filled in an empty statement: %q", q.LockMigrations)
	}
}

func TestNewPanicsOnMissingQueries(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "InsertPartitions") {
			t.Errorf("New with incomplete queries: recovered %v, want a panic naming InsertPartitions", r)
		}
	}()
	New(Config{Name: "test", Queries: StandardQueries("", "keys")})
}

func TestMergeStatus(t *testing.T) {
	known := []metastore.MigrationFile{{Version: 1, Name: "0001_a"}, {Version: 2, Name: "0002_b"}}
	recorded := map[int]metastore.Migration{
		1: {Version: 1, Name: "0001_a", Applied: true},
		9: {Version: 9, Name: "0009_future", Applied: true},
		5: {Version: 5, Name: "0005_future", Applied: true},
	}
	got := MergeStatus(known, recorded)
	want := []metastore.Migration{
		{Version: 1, Name: "0001_a", Applied: true},
		{Version: 2, Name: "0002_b"},
		{Version: 5, Name: "0005_future", Applied: true},
		{Version: 9, Name: "0009_future", Applied: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergeStatus = %+v, want %+v", got, want)
	}
	if got := MergeStatus(known, nil); len(got) != 2 || got[0].Applied || got[1].Applied {
		t.Errorf("MergeStatus with nothing recorded = %+v, want both pending", got)
	}
}
