package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The storage lifecycle's figures: produce throughput with the agent's
// compaction on and off (produceOne), cold catch-up before and after
// `strata compactor --once` with the objects, index rows and requests per
// GiB around it (catchupStrata), and space amplification under steady
// produce with retention (lifecycle).

// lifecycleSizes describes scenario lifecycle.
func lifecycleSizes(c config) string {
	flags := "agent flags at their defaults"
	if c.lifeAgentFlags != "" {
		flags = "agent flags at their defaults but " + c.lifeAgentFlags
	}
	return fmt.Sprintf("%.1f MB/s for %s to a topic with retention.ms=%d, sampled every %s; %s", c.lifeRateMBs, c.lifeTime, c.lifeRetentionMs, c.lifeSample, flags)
}

// produceAgentSizes describes the agents of scenario produce.
func produceAgentSizes(c config) string {
	iv := "its default (15s)"
	if c.produceCompactionInterval != "" {
		iv = c.produceCompactionInterval
	}
	return "Strata: every run once on an agent with compaction on (--compaction-interval " + iv +
		", other lifecycle flags at their defaults) and once on an agent with --compaction=false (its own metastore and bucket prefix), in the order acks=1 on, acks=1 off, acks=all off, acks=all on"
}

// produceOne runs one produce at full speed on p at acks, adds its rows
// (metric suffix names the variant, "" for the default agent) and returns
// its MB/s.
func produceOne(c config, res *Result, t *target, p *proc, acks, suffix, label string) float64 {
	isStrata := t.name != kafkaPeer
	n := (c.mb << 20) / c.recSize
	topic := createTopic(p.addr, int32(c.partitions))
	puts := p.counter("strata_objstore_requests_total", `op="put"`)
	jobs := p.counter("strata_compaction_jobs_total", `result="ok"`)
	rewritten := p.counter("strata_compaction_bytes_rewritten_total", "")
	prof := cpuProfile(c, t, p, "acks="+acks+suffix)
	cpu0 := takeCPU(t, p)
	r := produceRun{addr: p.addr, topic: topic, acks: acks, n: n, recSize: c.recSize, linger: 5 * time.Millisecond, label: label + " acks=" + acks}.run()
	cpu := takeCPU(t, p).sub(cpu0)
	jobs = p.counter("strata_compaction_jobs_total", `result="ok"`) - jobs
	rewritten = p.counter("strata_compaction_bytes_rewritten_total", "") - rewritten
	<-prof
	heapProfile(c, t, p, "acks="+acks+suffix)
	mbs := float64(n*c.recSize) / r.seconds / 1e6
	lk := "fsync"
	if acks == "all" && isStrata {
		lk = storeKey(t.name) + " PUT 8MiB x4"
	}
	metric := "acks=" + acks + " throughput"
	row := Row{Scenario: "produce", Target: t.name, Metric: metric + suffix, Unit: "MB/s", Value: mbs, LimitKey: lk}
	if suffix != "" {
		row.PeerMetric = metric
	}
	res.add(row)
	addBusy(res, t, "acks="+acks+" produce"+suffix, cpu, r.seconds)
	if !isStrata {
		return mbs
	}
	if suffix == "" {
		// So the on/off ratio is not vacuous: what compaction did while
		// this run was measured (jobs finished, input bytes rewritten).
		res.add(Row{Scenario: "produce", Target: t.name, Metric: "acks=" + acks + " compaction jobs finished during the run", Unit: "jobs", Value: jobs})
		res.add(Row{Scenario: "produce", Target: t.name, Metric: "acks=" + acks + " bytes compacted during the run ÷ bytes produced", Unit: "%", Value: 100 * rewritten / float64(n*c.recSize)})
	}
	time.Sleep(500 * time.Millisecond) // the last flush
	d := p.counter("strata_objstore_requests_total", `op="put"`) - puts
	res.add(Row{Scenario: "puts", Target: t.name, Metric: "acks=" + acks + " PUTs/GiB at saturation" + suffix, Unit: "PUTs/GiB", Value: d / (float64(n*c.recSize) / gib), LowerBetter: true})
	return mbs
}

// addBusy adds rows saying where the cores went during a measurement of
// seconds (cores busy on average), named "<what>: cores busy, <who>".
func addBusy(res *Result, t *target, what string, cpu cpuSnap, seconds float64) {
	busy := func(who string, sec float64) {
		if sec > 0 {
			res.add(Row{Scenario: "cpu", Target: t.name, Metric: what + ": cores busy, " + who, Unit: "cores", Value: sec / seconds, LowerBetter: true})
		}
	}
	busy(cpuWho[0], cpu.machine)
	busy(cpuWho[1], cpu.agent)
	busy(cpuWho[2], cpu.objstore)
	busy(cpuWho[3], cpu.metastore)
	busy(cpuWho[4], cpu.client)
	// The rest, never below 0 (the samples of /proc/stat and of the
	// processes are not taken at the very same instant).
	busy(cpuWho[5], max(cpu.other(), 1e-9))
}

// cpuWho names the cpu rows' processes, in report order.
var cpuWho = []string{"whole machine", "agent/broker", "MinIO", "Postgres", "client (franz-go, in the harness)", "anything else"}

// coldRead drops the page cache, starts a fresh agent (empty data dir, the
// same metastore and bucket) and reads topic from offset 0: MB/s of record
// values and object GETs (get + getrange) per GiB of them.
// what names it in the CPU rows.
func coldRead(c config, res *Result, t *target, topic string, m int, args []string, what, label string, retire func(*proc)) (mbs, getsPerGiB float64) {
	logf("  %s: a fresh agent on an empty data dir, same metastore and object store", label)
	res.Notes = appendOnce(res.Notes, dropCaches())
	p := t.start(false, args...)
	defer retire(p)
	gets := p.counter("strata_objstore_requests_total", `op="get`)
	var bytes int64
	prof := cpuProfile(c, t, p, what)
	cpu0 := takeCPU(t, p)
	start := time.Now()
	got, _, last := consume(p.addr, topic, "", m, 20*time.Minute, label, make(chan struct{}), func(r *kgo.Record) { bytes += int64(len(r.Value)) })
	if got < m {
		fatalf("%s: read %d of %d records", label, got, m)
	}
	addBusy(res, t, what, takeCPU(t, p).sub(cpu0), last.Sub(start).Seconds())
	<-prof
	d := p.counter("strata_objstore_requests_total", `op="get`) - gets
	return float64(bytes) / last.Sub(start).Seconds() / 1e6, d / (float64(bytes) / gib)
}

// catchupStrata is scenario catchup on Strata after the write: w (the
// writing agent, stopped here) made writePuts PUTs for m records. It reads
// cold from flush objects, runs `strata compactor --once
// --compaction-max-lag 1ns` with no agent running, reads cold again from
// the segments, and finally collects the dead inputs (`strata compactor
// --once --gc-grace 1ns`), counting objects and index rows in the
// metastore and the bucket, and the compactor's requests, in between.
func catchupStrata(c config, res *Result, t *target, w *proc, topic string, m int, writePuts float64, args []string, label string, retire func(*proc)) {
	w.stop()
	written := float64(m*c.recSize) / gib
	add := func(scenario, metric, unit string, v float64, lower bool) {
		res.add(Row{Scenario: scenario, Target: t.name, Metric: metric, Unit: unit, Value: v, LowerBetter: lower})
	}
	probe := openProbe(t)
	defer probe.close()
	before := probe.mustStats(label + ", flush objects")

	lk := storeKey(t.name) + " GET 8MiB x4"
	mbs, gets := coldRead(c, res, t, topic, m, args, "cold read, flush objects", label+" read (flush objects)", retire)
	res.add(Row{Scenario: "catchup", Target: t.name, Metric: "cold read from offset 0, flush objects (before compaction)", Unit: "MB/s", Value: mbs, LimitKey: lk, PeerMetric: "cold read from offset 0"})
	add("catchup", "object GETs per GiB read cold, flush objects", "GETs/GiB", gets, true)

	comp := runCompactor(t, label+" compaction", "--compaction-max-lag", "1ns")
	after := probe.mustStats(label + ", after compaction")
	if after.FlushRows > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %d flush index rows were left after `strata compactor --once --compaction-max-lag 1ns`.", t.name, after.FlushRows))
	}

	mbs, gets = coldRead(c, res, t, topic, m, args, "cold read, compacted segments", label+" read (compacted)", retire)
	res.add(Row{Scenario: "catchup", Target: t.name, Metric: "cold read from offset 0, compacted segments", Unit: "MB/s", Value: mbs, LimitKey: lk, PeerMetric: "cold read from offset 0"})
	add("catchup", "object GETs per GiB read cold, compacted segments", "GETs/GiB", gets, true)

	gc := runCompactor(t, label+" garbage collection", "--gc-grace", "1ns")
	collected := probe.mustStats(label + ", after garbage collection")

	const cs = "compaction"
	add(cs, "compaction jobs (strata compactor --once --compaction-max-lag 1ns)", "jobs", float64(comp.jobs), false)
	add(cs, "compactor --once wall time", "s", comp.seconds, true)
	add(cs, "compaction rate (input bytes ÷ compactor wall time)", "MB/s", float64(comp.inputBytes)/comp.seconds/1e6, false)
	add(cs, "index rows per GiB, flush objects (before)", "rows/GiB", float64(before.rows())/written, true)
	add(cs, "index rows per GiB, after compaction", "rows/GiB", float64(after.rows())/written, true)
	add(cs, "live objects per GiB, flush objects (before)", "objects/GiB", float64(before.LiveObjects)/written, true)
	add(cs, "live objects per GiB, after compaction", "objects/GiB", float64(after.LiveObjects)/written, true)
	add(cs, "objects in bucket per GiB, after compaction (inputs awaiting GC)", "objects/GiB", float64(after.BucketObjects)/written, true)
	add(cs, "objects in bucket per GiB, after GC", "objects/GiB", float64(collected.BucketObjects)/written, true)
	add(cs, "bucket bytes ÷ live bytes, after GC", "×", float64(collected.BucketBytes)/float64(collected.LiveBytes), true)
	add(cs, "PUTs per GiB, agent write (flush objects)", "PUTs/GiB", writePuts/written, true)
	if comp.requests != nil {
		add(cs, "S3 PUT requests per GiB, compactor (PUT + multipart create/parts/complete)", "PUTs/GiB", float64(comp.puts())/written, true)
		add(cs, "PUTs per GiB, write + compaction", "PUTs/GiB", (writePuts+float64(comp.puts()))/written, true)
		add(cs, "S3 GET requests per GiB, compactor", "GETs/GiB", float64(comp.gets())/written, true)
		add(cs, "S3 DELETE requests per GiB, garbage collection", "DELETEs/GiB", float64(gc.deletes()+comp.deletes())/written, true)
		add(cs, "S3 LIST requests, both compactor runs", "LISTs", float64(comp.lists()+gc.lists()), true)
		res.Notes = appendOnce(res.Notes, fmt.Sprintf("%s: the compactor's S3 requests were counted by a proxy in front of MinIO, by HTTP request; "+
			"compaction: %v; garbage collection: %v. The agents' requests are their own strata_objstore_requests_total "+
			"(one count per Put, however many parts).", t.name, comp.requests, gc.requests))
	}
}

// lifeSample is one look at the bucket and the metastore in scenario
// lifecycle.
type lifeSample struct {
	Seconds float64 `json:"t_seconds"`
	storageStats
}

// lifecycle is scenario lifecycle: a steady produce at lifeRateMBs for
// lifeTime to a topic with retention.ms=lifeRetentionMs on an agent with
// the lifecycle at its defaults, sampling bucket and metastore every
// lifeSample: space amplification (bucket bytes ÷ live bytes) and object
// count, their maximum and final values.
func lifecycle(c config, res *Result, t *target, p *proc, label string) {
	ret := strconv.FormatInt(c.lifeRetentionMs, 10)
	topic := createTopicWith(p.addr, int32(c.partitions), map[string]*string{"retention.ms": &ret})
	probe := openProbe(t)
	defer probe.close()
	reqs := func() map[string]float64 {
		out := map[string]float64{}
		for _, op := range []string{"put", "get", "getrange", "delete", "delete_batch", "list"} {
			out[op] = p.counter("strata_objstore_requests_total", `op="`+op+`"`)
		}
		out["strata_compaction_jobs_total"] = p.counter("strata_compaction_jobs_total", `result="ok"`)
		for _, k := range []string{"strata_compaction_gc_deleted_objects_total", "strata_compaction_retention_trims_total", "strata_compaction_bytes_rewritten_total"} {
			out[k] = p.counter(k, "")
		}
		return out
	}
	r0 := reqs()
	var (
		mu      sync.Mutex
		samples []lifeSample
		stop    = make(chan struct{})
		done    = make(chan struct{})
	)
	start := time.Now()
	sample := func() {
		s, err := probe.stats()
		if err != nil {
			logf("  %s: sample: %v", label, err)
			return
		}
		mu.Lock()
		samples = append(samples, lifeSample{Seconds: time.Since(start).Seconds(), storageStats: s})
		mu.Unlock()
	}
	go func() {
		defer close(done)
		tk := time.NewTicker(c.lifeSample)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				sample()
			}
		}
	}()
	rate := c.lifeRateMBs * 1e6 / float64(c.recSize)
	m := int(rate * c.lifeTime.Seconds())
	pr := produceRun{addr: p.addr, topic: topic, acks: "1", n: m, recSize: c.recSize, rate: rate, label: label + " produce"}.run()
	close(stop)
	<-done
	sample()
	r1 := reqs()
	if len(samples) == 0 {
		fatalf("%s: no samples", label)
	}
	res.Lifecycle[t.name] = samples
	produced := float64(m*c.recSize) / gib

	amp := func(s lifeSample) float64 {
		if s.LiveBytes == 0 {
			return 0
		}
		return float64(s.BucketBytes) / float64(s.LiveBytes)
	}
	var maxAmp, maxBytes, maxLive, maxObjs, steadySum float64
	steadyN := 0
	for _, s := range samples {
		maxAmp = max(maxAmp, amp(s))
		maxBytes = max(maxBytes, float64(s.BucketBytes))
		maxLive = max(maxLive, float64(s.LiveBytes))
		maxObjs = max(maxObjs, float64(s.BucketObjects))
		if s.Seconds >= c.lifeTime.Seconds()/2 {
			steadySum += amp(s)
			steadyN++
		}
	}
	final := samples[len(samples)-1]
	add := func(metric, unit string, v float64, lower bool) {
		res.add(Row{Scenario: "lifecycle", Target: t.name, Metric: metric, Unit: unit, Value: v, LowerBetter: lower})
	}
	add("produce rate achieved", "MB/s", float64(m*c.recSize)/pr.seconds/1e6, false)
	add("bucket bytes ÷ live bytes, max", "×", maxAmp, true)
	add("bucket bytes ÷ live bytes, final", "×", amp(final), true)
	if steadyN > 0 {
		add("bucket bytes ÷ live bytes, mean of the second half", "×", steadySum/float64(steadyN), true)
	}
	add("bucket bytes, max", "MiB", maxBytes/(1<<20), true)
	add("bucket bytes, final", "MiB", float64(final.BucketBytes)/(1<<20), true)
	add("live bytes, max", "MiB", maxLive/(1<<20), false)
	add("live bytes, final", "MiB", float64(final.LiveBytes)/(1<<20), false)
	add("objects in bucket, max", "objects", maxObjs, true)
	add("objects in bucket, final", "objects", float64(final.BucketObjects), true)
	add("index rows, final", "rows", float64(final.rows()), true)
	if final.LiveBytes > 0 {
		add("index rows per GiB of live bytes, final", "rows/GiB", float64(final.rows())/(float64(final.LiveBytes)/gib), true)
	}
	add("compaction jobs", "jobs", r1["strata_compaction_jobs_total"]-r0["strata_compaction_jobs_total"], false)
	add("retention trims", "trims", r1["strata_compaction_retention_trims_total"]-r0["strata_compaction_retention_trims_total"], false)
	add("dead objects deleted by GC", "objects", r1["strata_compaction_gc_deleted_objects_total"]-r0["strata_compaction_gc_deleted_objects_total"], false)
	add("bytes rewritten by compaction ÷ bytes produced", "×", (r1["strata_compaction_bytes_rewritten_total"]-r0["strata_compaction_bytes_rewritten_total"])/float64(m*c.recSize), true)
	per := func(ops ...string) float64 {
		d := 0.0
		for _, op := range ops {
			d += r1[op] - r0[op]
		}
		return d / produced
	}
	add("PUTs per GiB produced (flushes + compaction)", "PUTs/GiB", per("put"), true)
	add("GETs per GiB produced (compaction's reads)", "GETs/GiB", per("get", "getrange"), true)
	add("DELETE requests per GiB produced (GC)", "DELETEs/GiB", per("delete", "delete_batch"), true)
}

// cpuProfile, with -cpuprofile, fetches a 20 s CPU profile of a Strata
// agent in the background into that directory; the channel is closed when
// it is written (at once without -cpuprofile).
func cpuProfile(c config, t *target, p *proc, what string) chan struct{} {
	done := make(chan struct{})
	if c.cpuProfiles == "" || p.admin == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		fetchProfile(c, p, "profile?seconds=20", t.name+"_"+what+".cpu")
	}()
	return done
}

// heapProfile, with -cpuprofile, saves the agent's heap profile (in use
// now, and allocated since start) beside the CPU profiles.
func heapProfile(c config, t *target, p *proc, what string) {
	if c.cpuProfiles != "" && p.admin != "" {
		fetchProfile(c, p, "heap", t.name+"_"+what+".heap")
	}
}

func fetchProfile(c config, p *proc, query, name string) {
	name = strings.NewReplacer(" ", "", ",", "_", "=", "-", "--", "").Replace(name)
	path := filepath.Join(c.cpuProfiles, name+".pprof")
	resp, err := http.Get("http://" + p.admin + "/debug/pprof/" + query)
	if err != nil {
		logf("  profile %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	os.MkdirAll(c.cpuProfiles, 0o755)
	f, err := os.Create(path)
	if err == nil {
		_, err = io.Copy(f, resp.Body)
		f.Close()
	}
	if err != nil {
		logf("  profile %s: %v", path, err)
		return
	}
	logf("  wrote profile %s", path)
}
