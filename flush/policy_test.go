package flush

import (
	"testing"
	"time"
)

func TestSealDecision(t *testing.T) {
	cfg := Config{AgentID: "a", FlushInterval: 100 * time.Millisecond, FlushMinInterval: 10 * time.Millisecond, FlushBytes: 8 << 20}
	cfg.EnsureDefaults()
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		s    sealState
		seal bool
		wait time.Duration
	}{
		{"nothing buffered", sealState{open: 0, sinceSeal: time.Hour, freeSlots: 4}, false, 0},
		{"idle pipeline: seal at once", sealState{open: 100, openAge: 0, sinceSeal: time.Second, freeSlots: 4}, true, 0},
		{"floor not reached", sealState{open: 100, sinceSeal: 3 * ms, freeSlots: 4}, false, 7 * ms},
		{"upload in flight: wait for it or the interval", sealState{open: 100, openAge: 30 * ms, sinceSeal: 30 * ms, uploading: 1, freeSlots: 3}, false, 70 * ms},
		{"upload in flight, interval up", sealState{open: 100, openAge: 100 * ms, sinceSeal: 100 * ms, uploading: 1, freeSlots: 3}, true, 0},
		{"no free slot: wait for one", sealState{open: 100, openAge: time.Second, sinceSeal: time.Second, uploading: 4, freeSlots: 0}, false, 0},
		{"full object, no slot: let it grow", sealState{open: 8 << 20, openAge: ms, sinceSeal: ms, uploading: 4, freeSlots: 0}, false, 0},
		{"twice full, no slot: seal and queue", sealState{open: 16 << 20, openAge: ms, sinceSeal: ms, uploading: 4, freeSlots: 0}, true, 0},
		{"full object, idle pipeline", sealState{open: 8 << 20, openAge: ms, sinceSeal: ms, uploading: 0, freeSlots: 4}, true, 0},
		{"full object beside an upload: let it grow", sealState{open: 9 << 20, openAge: ms, sinceSeal: 20 * ms, uploading: 1, freeSlots: 3}, false, 99 * ms},
		{"twice full beside an upload", sealState{open: 16 << 20, openAge: ms, sinceSeal: ms, uploading: 1, freeSlots: 3}, true, 0},
		{"full object inside the floor", sealState{open: 9 << 20, sinceSeal: 0, uploading: 0, freeSlots: 4}, true, 0},
	} {
		seal, wait := cfg.sealDecision(tc.s)
		if seal != tc.seal || wait != tc.wait {
			t.Errorf("%s: sealDecision(%+v) = %v, %v; want %v, %v", tc.name, tc.s, seal, wait, tc.seal, tc.wait)
		}
	}
}

func TestConfigMinInterval(t *testing.T) {
	for _, tc := range []struct {
		min, max time.Duration
		ok       bool
	}{
		{0, 100 * time.Millisecond, true},
		{100 * time.Millisecond, 100 * time.Millisecond, true},
		{-time.Millisecond, 100 * time.Millisecond, false},
		{time.Second, 100 * time.Millisecond, true}, // the floor wins over the interval
	} {
		c := Config{AgentID: "a", FlushInterval: tc.max, FlushMinInterval: tc.min}
		c.EnsureDefaults()
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("min %v, interval %v: Validate() = %v, want ok %v", tc.min, tc.max, err, tc.ok)
		}
	}
}
