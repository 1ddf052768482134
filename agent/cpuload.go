package agent

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// cpuBusyShare is the share of the machine's processor time in use above
// which compaction leaves work that is not yet overdue for later.
const cpuBusyShare = 0.8

// cpuLoadWindow is the shortest time over which cpuLoad measures: a
// sooner question gets the last answer. A question more than
// cpuLoadMaxAge after the last measurement measures afresh over
// cpuLoadSample, so the answer is about now, not about an idle stretch
// since then (compaction asks only when it has work, often right after a
// burst began).
const (
	cpuLoadWindow = 500 * time.Millisecond
	cpuLoadMaxAge = 2 * time.Second
	cpuLoadSample = 250 * time.Millisecond
)

// cpuLoad reports whether the machine's processors were mostly busy
// (cpuBusyShare or more of their time, /proc/stat) lately. Compaction
// rewrites every byte produce writes, so running it beside a produce
// that saturates the processors takes a third of produce's throughput
// away; while they are busy, only overdue compaction runs (data past the
// max lag), and the rest when they are free again. Without /proc/stat
// (not Linux) it never reports busy.
type cpuLoad struct {
	read  func() (busy, total uint64, ok bool)
	now   func() time.Time
	sleep func(time.Duration)

	mu struct {
		sync.Mutex
		busy, total uint64
		at          time.Time
		verdict     bool
	}
}

func newCPULoad() *cpuLoad {
	return &cpuLoad{read: readProcStat, now: time.Now, sleep: time.Sleep}
}

// Busy reports whether the processors were busy since the last
// measurement, or over the next cpuLoadSample if that was long ago.
func (c *cpuLoad) Busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.mu.at.IsZero() && now.Sub(c.mu.at) < cpuLoadWindow {
		return c.mu.verdict
	}
	if c.mu.at.IsZero() || now.Sub(c.mu.at) > cpuLoadMaxAge {
		if !c.sampleLocked(now) {
			return false
		}
		c.sleep(cpuLoadSample)
		now = c.now()
	}
	c.sampleLocked(now)
	return c.mu.verdict
}

// sampleLocked reads the processors' times, judges the time since the
// last sample, and keeps this one; false if they cannot be read.
func (c *cpuLoad) sampleLocked(now time.Time) bool {
	busy, total, ok := c.read()
	if !ok {
		return false
	}
	if !c.mu.at.IsZero() && total > c.mu.total {
		c.mu.verdict = float64(busy-c.mu.busy) >= cpuBusyShare*float64(total-c.mu.total)
	}
	c.mu.busy, c.mu.total, c.mu.at = busy, total, now
	return true
}

// readProcStat returns the processors' busy and total time from the
// first line of /proc/stat.
func readProcStat() (busy, total uint64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil {
		return 0, 0, false
	}
	return parseCPULine(line)
}

// parseCPULine parses the "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq, steal (guest time is counted in user and
// nice already); idle and iowait are not busy.
func parseCPULine(line []byte) (busy, total uint64, ok bool) {
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0, 0, false
	}
	for i, f := range fields[1:min(len(fields), 9)] {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}
