package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CPU time of the processes on this machine, so a throughput figure can
// say where the two cores went: the agent, the object store (MinIO), the
// metastore (Postgres, its postmaster and every backend), the benchmark
// client (this process), and the whole machine (/proc/stat: the rest is
// anything else running, e.g. other people's tests).

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// cpuSnap is CPU seconds used so far.
type cpuSnap struct {
	agent, objstore, metastore, client, machine float64
}

func (a cpuSnap) sub(b cpuSnap) cpuSnap {
	return cpuSnap{a.agent - b.agent, a.objstore - b.objstore, a.metastore - b.metastore, a.client - b.client, a.machine - b.machine}
}

// other is what the machine spent outside the processes named.
func (a cpuSnap) other() float64 { return a.machine - a.agent - a.objstore - a.metastore - a.client }

func takeCPU(t *target, p *proc) cpuSnap {
	tree := procTree()
	// The client is this process (franz-go producers and consumers run
	// in it); its children are the agents, counted apart.
	s := cpuSnap{machine: machineCPU(), client: tree.cpu(os.Getpid(), false)}
	if p != nil && p.cmd.Process != nil {
		s.agent = tree.cpu(p.cmd.Process.Pid, false)
	}
	if t.minioPid > 0 {
		s.objstore = tree.cpu(t.minioPid, true)
	}
	if t.postgresPid > 0 {
		s.metastore = tree.cpu(t.postgresPid, true)
	}
	return s
}

type procInfo struct {
	ppid int
	cpu  float64 // utime + stime, seconds
}

type procs map[int]procInfo

// procTree reads every process's parent and CPU time from /proc.
func procTree() procs {
	out := procs{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		// The command name is in parentheses and may hold spaces.
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		out[pid] = procInfo{ppid: ppid, cpu: (ut + st) / clockTicks}
	}
	return out
}

// cpu is pid's CPU seconds, with all its descendants' if tree is set.
func (ps procs) cpu(pid int, tree bool) float64 {
	sum := ps[pid].cpu
	if !tree {
		return sum
	}
	for q, info := range ps {
		for a, depth := info.ppid, 0; a > 1 && depth < 16; a, depth = ps[a].ppid, depth+1 {
			if a == pid && q != pid {
				sum += info.cpu
				break
			}
		}
	}
	return sum
}

// machineCPU is the busy CPU seconds of the whole machine (all cores).
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	busy := 0.0
	// user nice system idle iowait irq softirq steal guest...: user,
	// nice, system, irq and softirq (guest time is inside user; steal is
	// the hypervisor running someone else).
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 7 {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks
}
