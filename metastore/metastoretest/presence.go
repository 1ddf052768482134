package metastoretest

import (
	"testing"

	"github.com/stratalog/strata/metastore"
)

// testPresence: a held presence is seen by PresentAgents, a second
// holder of the same agent ID waits until the first gives it up, and a
// closed hold is absent at once.
func testPresence(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	present := func(want map[string]bool) {
		t.Helper()
		got, err := s.PresentAgents(ctx, []string{"agent-a", "agent-b"})
		if err != nil {
			t.Fatal(err)
		}
		for id, w := range want {
			if got[id] != w {
				t.Fatalf("PresentAgents: %s present %v, want %v (all: %v)", id, got[id], w, got)
			}
		}
	}
	present(map[string]bool{"agent-a": false, "agent-b": false})
	a, err := s.HoldPresence(ctx, "agent-a")
	if err != nil {
		t.Fatal(err)
	}
	if held, err := a.Renew(ctx); err != nil || !held {
		t.Fatalf("Renew of a fresh hold = %v, %v; want held", held, err)
	}
	present(map[string]bool{"agent-a": true, "agent-b": false})

	// A second process with the same ID (a restart racing its
	// predecessor) does not get it while the first holds it.
	a2, err := s.HoldPresence(ctx, "agent-a")
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if held, err := a2.Renew(ctx); err != nil || held {
		t.Fatalf("second hold of a held presence: Renew = %v, %v; want not held", held, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	present(map[string]bool{"agent-a": false})
	if held, err := a2.Renew(ctx); err != nil || !held {
		t.Fatalf("second hold after the first closed: Renew = %v, %v; want held", held, err)
	}
	present(map[string]bool{"agent-a": true, "agent-b": false})
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	present(map[string]bool{"agent-a": false, "agent-b": false})
}
