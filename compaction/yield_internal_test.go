package compaction

import (
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// TestYieldBounded: while Busy says produce is busy, work that is not
// overdue waits, but no longer than MaxLag from when it was first left
// for later (work without flush data, such as a cleaning pass due, has
// no lag of its own); flush data past the max lag never waits, and a
// partition whose work went on starts its wait afresh next time.
func TestYieldBounded(t *testing.T) {
	busy := true
	s := &Service{cfg: Config{MaxLag: time.Minute, Busy: func() bool { return busy }}, metrics: NewMetrics(nil)}
	a, b := metastore.PartitionRef{Partition: 1}, metastore.PartitionRef{Partition: 2}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		ref    metastore.PartitionRef
		at     time.Duration
		lagged bool
		busy   bool
		want   bool
	}{
		{a, 0, false, true, true},                  // busy: a waits, from t0
		{a, 59 * time.Second, false, true, true},   // still within the max lag
		{a, time.Minute, false, true, false},       // deferred a max lag: goes on, forgotten
		{a, 61 * time.Second, false, true, true},   // a new wait starts
		{b, 61 * time.Second, true, true, false},   // lagged flush data never waits
		{b, 62 * time.Second, false, false, false}, // not busy: goes on
		{b, 63 * time.Second, false, true, true},   // busy again: waits
		{b, 63*time.Second + time.Minute, false, true, false},
	} {
		busy = tc.busy
		if got := s.yield(tc.ref, t0.Add(tc.at), tc.lagged); got != tc.want {
			t.Fatalf("partition %d at +%s (lagged %v, busy %v): yield = %v, want %v", tc.ref.Partition, tc.at, tc.lagged, tc.busy, got, tc.want)
		}
	}
}
