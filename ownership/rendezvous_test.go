package ownership

import (
	"testing"

	"github.com/stratalog/strata/metastore"
)

func TestRendezvousOwner(t *testing.T) {
	agents := []metastore.Agent{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	var id metastore.TopicID
	counts := map[string]int{}
	moved := 0
	for p := int32(0); p < 300; p++ {
		o := PartitionOwner(agents, id, p)
		counts[o]++
		// Removing an agent moves only the partitions it owned.
		if o2 := PartitionOwner(agents[:2], id, p); o != "c" && o2 != o {
			moved++
		}
	}
	if moved != 0 {
		t.Fatalf("%d partitions moved between surviving agents", moved)
	}
	for _, ag := range agents {
		if counts[ag.ID] < 60 {
			t.Fatalf("uneven spread: %v", counts)
		}
	}
	if PartitionOwner(nil, id, 0) != "" {
		t.Fatal("no agents must mean no owner")
	}
}
