package metastoretest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stratalog/strata/metastore"
)

var securityTests = []struct {
	name string
	fn   func(t *testing.T, s metastore.Store)
}{
	{"AgentListeners", testAgentListeners},
	{"ScramCredentials", testScramCredentials},
}

func testAgentListeners(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	got, err := s.AgentListeners(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v %v", got, err)
	}
	a := []metastore.Listener{{Name: "SASL_SSL", Host: "a.example", Port: 9093}, {Name: "INTERNAL", Host: "10.0.0.1", Port: 9092}}
	b := []metastore.Listener{{Name: "PLAINTEXT", Host: "b", Port: 1}}
	if err := s.SetAgentListeners(ctx, "a", a); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAgentListeners(ctx, "b", b); err != nil {
		t.Fatal(err)
	}
	got, err = s.AgentListeners(ctx)
	if err != nil || !reflect.DeepEqual(got, map[string][]metastore.Listener{"a": a, "b": b}) {
		t.Fatalf("AgentListeners = %v, %v", got, err)
	}
	// Replaced whole: a listener dropped from the agent's set is gone.
	if err := s.SetAgentListeners(ctx, "a", a[1:]); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AgentListeners(ctx)
	if !reflect.DeepEqual(got["a"], a[1:]) {
		t.Fatalf("after replace: %v", got["a"])
	}
}

func testScramCredentials(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	if _, err := s.ScramCredential(ctx, "alice", "SCRAM-SHA-256"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	c1 := metastore.ScramCredential{User: "alice", Mechanism: "SCRAM-SHA-256", Salt: []byte{1, 2}, StoredKey: []byte{3, 0, 4}, ServerKey: []byte{5}, Iterations: 4096}
	c2 := metastore.ScramCredential{User: "alice", Mechanism: "SCRAM-SHA-512", Salt: []byte{6}, StoredKey: []byte{7}, ServerKey: []byte{8}, Iterations: 8192}
	c3 := metastore.ScramCredential{User: "bob", Mechanism: "SCRAM-SHA-512", Salt: []byte{9}, StoredKey: []byte{10}, ServerKey: []byte{11}, Iterations: 4096}
	for _, c := range []metastore.ScramCredential{c3, c1, c2} {
		if err := s.PutScramCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ScramCredential(ctx, "alice", "SCRAM-SHA-256")
	if err != nil || !reflect.DeepEqual(got, c1) {
		t.Fatalf("ScramCredential = %+v, %v", got, err)
	}
	c1.Salt, c1.Iterations = []byte{42}, 10000
	if err := s.PutScramCredential(ctx, c1); err != nil {
		t.Fatal(err)
	}
	all, err := s.ScramCredentials(ctx)
	if err != nil || !reflect.DeepEqual(all, []metastore.ScramCredential{c1, c2, c3}) {
		t.Fatalf("ScramCredentials = %+v, %v", all, err)
	}
	if err := s.DeleteScramCredential(ctx, "alice", "SCRAM-SHA-512"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteScramCredential(ctx, "alice", "SCRAM-SHA-512"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	all, _ = s.ScramCredentials(ctx)
	if len(all) != 2 {
		t.Fatalf("after delete: %+v", all)
	}
}
