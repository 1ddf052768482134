package agent

import (
	"testing"
	"time"
)

func TestParseCPULine(t *testing.T) {
	for _, tc := range []struct {
		line        string
		busy, total uint64
		ok          bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"cpu  100 5 50 800 40 3 2 0 7 0\n", 160, 1000, true},
		{"cpu 10 0 10 80\n", 20, 100, true},
		{"cpu0 100 5 50 800 40 3 2 0 0 0\n", 0, 0, false},
		{"cpu  100 x 50 800\n", 0, 0, false},
		{"cpu 1 2\n", 0, 0, false},
	} {
		busy, total, ok := parseCPULine([]byte(tc.line))
		if busy != tc.busy || total != tc.total || ok != tc.ok {
			t.Errorf("parseCPULine(%q) = %d, %d, %v; want %d, %d, %v", tc.line, busy, total, ok, tc.busy, tc.total, tc.ok)
		}
	}
}

// TestCPULoad: busy when at least cpuBusyShare of the processor time
// since the last measurement was busy; asked again within cpuLoadWindow,
// the same answer without a new measurement; asked long after the last
// measurement, the answer is about the next cpuLoadSample, not the idle
// stretch before; never busy without /proc/stat.
func TestCPULoad(t *testing.T) {
	now := time.Unix(1000, 0)
	var busy, total uint64
	var sampleBusy, sampleTotal uint64 // what the processors do while Busy sleeps
	reads := 0
	c := &cpuLoad{
		read: func() (uint64, uint64, bool) { reads++; return busy, total, true },
		now:  func() time.Time { return now },
		sleep: func(d time.Duration) {
			busy, total = busy+sampleBusy, total+sampleTotal
			now = now.Add(d)
		},
	}
	step := func(dBusy, dTotal uint64, d time.Duration) bool {
		busy, total = busy+dBusy, total+dTotal
		now = now.Add(d)
		return c.Busy()
	}
	if step(0, 0, 0) || reads != 2 {
		t.Fatalf("first question: want not busy after a sample of nothing, 2 reads (%d)", reads)
	}
	if !step(90, 100, time.Second) {
		t.Fatal("90% busy: not reported busy")
	}
	if !step(0, 100, 100*time.Millisecond) || reads != 3 {
		t.Fatalf("asked again within the window: want the last answer without a read (%d reads)", reads)
	}
	if step(0, 100, time.Second) { // 0 of 200 busy since the last read
		t.Fatal("idle: reported busy")
	}
	if step(79, 100, time.Second) {
		t.Fatal("79% busy: reported busy")
	}
	if !step(80, 100, time.Second) {
		t.Fatal("80% busy: not reported busy")
	}
	// Ten idle seconds, then a burst: the answer is the burst's.
	sampleBusy, sampleTotal = 24, 25
	if !step(0, 1000, 10*time.Second) {
		t.Fatal("busy during the fresh sample after an idle stretch: not reported busy")
	}
	sampleBusy, sampleTotal = 0, 25
	if step(1000, 1000, 10*time.Second) {
		t.Fatal("idle during the fresh sample after a busy stretch: reported busy")
	}
	none := &cpuLoad{read: func() (uint64, uint64, bool) { return 0, 0, false }, now: time.Now, sleep: func(time.Duration) {}}
	if none.Busy() || none.Busy() {
		t.Fatal("busy without /proc/stat")
	}
}
