// Command harness runs Strata and Apache Kafka side by side on this
// machine, with raw MinIO and the data disk measured as the limits in the
// same run, and writes bench/results/<date>-<name>.md, a JSON beside it
// and two PNG plots. Run it through bench/run.sh (see bench/README.md):
//
//	bench/run.sh                          # every scenario, every target
//	bench/run.sh -smoke                   # seconds, Strata embedded only
//	bench/run.sh -scenarios produce,latency -targets strata-embedded,kafka
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/fs"
)

var allScenarios = []string{"produce", "latency", "e2e", "txn", "tail", "catchup", "trickle", "lifecycle"}
var allTargets = []string{strataEmbedded, strataRemote, kafkaPeer}

var began = time.Now()

func logf(format string, args ...any) {
	el := time.Since(began).Round(time.Second)
	fmt.Fprintf(os.Stderr, "[%02d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

var cleanups []func()
var cleanupMu sync.Mutex

func atExit(f func()) { cleanupMu.Lock(); cleanups = append(cleanups, f); cleanupMu.Unlock() }
func runCleanups() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func fatalf(format string, args ...any) {
	logf("FATAL: "+format, args...)
	runCleanups()
	os.Exit(1)
}

// progress prints "label: x/total unit" at most every 2 seconds.
type progress struct {
	label, unit string
	total       float64
	start, last time.Time
}

func newProgress(label string, total float64, unit string) *progress {
	return &progress{label: label, unit: unit, total: total, start: time.Now(), last: time.Now()}
}

func (p *progress) set(x float64) {
	if time.Since(p.last) < 2*time.Second {
		return
	}
	p.last = time.Now()
	logf("  %s: %.0f/%.0f %s (%.1f %s/s)", p.label, x, p.total, p.unit, x/time.Since(p.start).Seconds(), p.unit)
}

func (p *progress) done() {}

type config struct {
	scenarios, targets  []string
	mb, catchupMB       int
	recSize, partitions int
	latencyDur, trickle time.Duration
	rateMBs             float64
	limitMB             int
	smoke               bool
	name, out, repo     string
	kafkaLib            string
	crossCheck          bool
	work                string
	rev                 string
	cpuProfiles         string

	// Storage lifecycle: the produce runs' agent --compaction-interval
	// ("" = the agent's default), and scenario lifecycle's duration, rate,
	// sampling interval and topic retention.ms.
	produceCompactionInterval string
	lifeTime, lifeSample      time.Duration
	lifeRateMBs               float64
	lifeRetentionMs           int64
	lifeAgentFlags            string
}

func main() {
	var c config
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { s := <-sigs; fatalf("interrupted (%v): stopping everything started", s) }()
	scen := flag.String("scenarios", "all", "comma-separated: "+strings.Join(allScenarios, ",")+" (or all)")
	targ := flag.String("targets", "all", "comma-separated: "+strings.Join(allTargets, ",")+" (or all)")
	flag.IntVar(&c.mb, "mb", 256, "MiB produced per throughput run (scenarios produce and tail, and the ProducerPerformance cross-check)")
	flag.IntVar(&c.catchupMB, "catchup-mb", 512, "MiB written then read cold in scenario catchup (the issue's figure is 2048)")
	flag.IntVar(&c.recSize, "record-bytes", 1024, "value size of each record")
	flag.IntVar(&c.partitions, "partitions", 6, "partitions of every benchmark topic")
	flag.DurationVar(&c.latencyDur, "latency-time", 10*time.Second, "duration of each fixed-rate run (scenarios latency and e2e)")
	flag.DurationVar(&c.trickle, "trickle-time", 30*time.Second, "duration of the 1 record/s run (scenario trickle)")
	flag.Float64Var(&c.rateMBs, "rate", 0, "fixed rate in MB/s for latency and e2e (default: half the lowest acks=all peak of scenario produce, else 10)")
	flag.IntVar(&c.limitMB, "limit-mb", 256, "MiB written/read by each limit measurement (fsync, PUT, GET)")
	flag.BoolVar(&c.smoke, "smoke", false, "a few seconds, Strata embedded only, tiny sizes, no plots of note, the working tree unless -rev (CI)")
	flag.StringVar(&c.name, "name", "", "results file name part (default: full, smoke, or the scenario list)")
	flag.StringVar(&c.out, "out", "", "results directory (default: <repo>/bench/results)")
	flag.StringVar(&c.repo, "repo", "", "the Strata repository (default: found above the working directory)")
	flag.StringVar(&c.work, "work", "", "working directory for data dirs, logs and services (default: a temp dir, removed afterwards)")
	flag.StringVar(&c.rev, "rev", "HEAD", "build the strata binary from this commit (exported with git archive, so uncommitted changes in the working tree are not measured); \"worktree\" builds the working tree as it is")
	flag.StringVar(&c.cpuProfiles, "cpuprofile", "", "directory for profiles of the Strata agent in scenario produce: CPU over the first 20 s of each run, heap at its end")
	flag.BoolVar(&c.crossCheck, "cross-check", true, "run Kafka's ProducerPerformance against each target in scenario produce")
	flag.StringVar(&c.produceCompactionInterval, "produce-compaction-interval", "1s", "the agent's --compaction-interval in scenario produce, so compaction runs during runs shorter than its 15s default (\"\": the default)")
	flag.DurationVar(&c.lifeTime, "lifecycle-time", 10*time.Minute, "duration of the steady produce of scenario lifecycle")
	flag.Float64Var(&c.lifeRateMBs, "lifecycle-rate", 10, "MB/s produced in scenario lifecycle")
	flag.DurationVar(&c.lifeSample, "lifecycle-sample", 10*time.Second, "how often scenario lifecycle counts the bucket and the metastore")
	flag.Int64Var(&c.lifeRetentionMs, "lifecycle-retention-ms", 120000, "retention.ms of scenario lifecycle's topic")
	flag.StringVar(&c.lifeAgentFlags, "lifecycle-agent-flags", "", "extra agent flags in scenario lifecycle, space-separated (e.g. \"--gc-grace 15s\"; default none: the lifecycle at its defaults)")
	render := flag.String("render", "", "write the .md and plots again from a results JSON (after a change to the report; not the latency CDF, whose raw latencies the JSON does not keep)")
	flag.Parse()
	if *render != "" {
		rerender(*render)
		return
	}

	if c.smoke {
		revSet := false
		flag.Visit(func(f *flag.Flag) { revSet = revSet || f.Name == "rev" })
		if !revSet {
			c.rev = "worktree" // CI checks the tree it tests
		}
		*targ = strataEmbedded
		c.mb, c.catchupMB, c.limitMB = 8, 8, 8
		c.latencyDur, c.trickle = time.Second, 2*time.Second
		c.crossCheck = false
		c.lifeTime, c.lifeSample, c.lifeRateMBs = 3*time.Second, time.Second, 2
	}
	c.scenarios = pickList(*scen, allScenarios, "scenario")
	c.targets = pickList(*targ, allTargets, "target")
	if c.name == "" {
		switch {
		case c.smoke:
			c.name = "smoke"
		case *scen == "all" && *targ == "all":
			c.name = "full"
		default:
			c.name = strings.Join(c.scenarios, "+")
		}
	}
	if c.repo == "" {
		c.repo = findRepo()
	}
	if c.out == "" {
		c.out = filepath.Join(c.repo, "bench", "results")
	}
	if c.work == "" {
		d, err := os.MkdirTemp("", "strata-bench-")
		if err != nil {
			fatalf("%v", err)
		}
		os.Chmod(d, 0o755) // the postgres user must reach its cluster dir
		atExit(func() { os.RemoveAll(d) })
		c.work = d
	}
	res := run(c)
	runCleanups()
	if err := writeResults(c, res); err != nil {
		fatalf("writing results: %v", err)
	}
}

func pickList(s string, all []string, what string) []string {
	if s == "all" {
		return all
	}
	var out []string
	for _, x := range strings.Split(s, ",") {
		x = strings.TrimSpace(x)
		if !slices.Contains(all, x) {
			fmt.Fprintf(os.Stderr, "unknown %s %q; choose from %s\n", what, x, strings.Join(all, ","))
			os.Exit(2)
		}
		out = append(out, x)
	}
	return out
}

func findRepo() string {
	d, _ := os.Getwd()
	for i := 0; i < 10; i++ {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/stratalog/strata\n") {
			return d
		}
		d = filepath.Dir(d)
	}
	fatalf("cannot find the Strata repository above the working directory; pass -repo")
	return ""
}

// sh runs a script of the repository and returns its stdout.
func sh(repo string, args ...string) string {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = repo
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// parseEnv reads `export K='V'` lines.
func parseEnv(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "export ")
		k, v, ok := strings.Cut(l, "=")
		if ok {
			m[k] = strings.Trim(v, "'\"")
		}
	}
	return m
}

// Result is everything a run measured; it is also the JSON file.
type Result struct {
	Date       string                       `json:"date"`
	Name       string                       `json:"name"`
	Command    string                       `json:"command"`
	Machine    string                       `json:"machine"`
	Sizes      map[string]string            `json:"sizes"`
	Limits     []Limit                      `json:"limits"`
	Rows       []Row                        `json:"rows"`
	CrossCheck []CrossRow                   `json:"cross_check,omitempty"`
	Durability map[string]map[string]string `json:"durability"`
	Notes      []string                     `json:"notes,omitempty"`
	Seconds    float64                      `json:"seconds"`
	// Lifecycle is scenario lifecycle's samples per target.
	Lifecycle map[string][]lifeSample `json:"lifecycle,omitempty"`

	latencies map[string][]float64 // plot series -> sorted ms
}

type Limit struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	MBs   float64 `json:"mb_per_s"`
}

type Row struct {
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Metric      string  `json:"metric"`
	Unit        string  `json:"unit"`
	Value       float64 `json:"value"`
	LowerBetter bool    `json:"lower_is_better,omitempty"`
	LimitKey    string  `json:"limit,omitempty"`
	// PeerMetric names Kafka's metric (same scenario) this row is compared
	// with, when it is not Metric itself (a Strata-only variant of it).
	PeerMetric string  `json:"peer_metric,omitempty"`
	VsPeer     float64 `json:"ratio_to_kafka,omitempty"`
	VsLimit    float64 `json:"ratio_to_limit,omitempty"`
}

type CrossRow struct {
	Target string `json:"target"`
	Acks   string `json:"acks"`
	ppResult
	VsPeer float64 `json:"ratio_to_kafka,omitempty"`
}

func (r *Result) add(row Row) {
	r.Rows = append(r.Rows, row)
	logf("  => %s %s %s: %.2f %s", row.Target, row.Scenario, row.Metric, row.Value, row.Unit)
}

func (r *Result) limit(key string) float64 {
	for _, l := range r.Limits {
		if l.Key == key {
			return l.MBs
		}
	}
	return 0
}

// storeKey names a target's object store in limit keys.
func storeKey(target string) string {
	switch target {
	case strataEmbedded:
		return "local-dir"
	case strataRemote:
		return "minio"
	}
	return ""
}

func run(c config) *Result {
	ctx := context.Background()
	res := &Result{
		Date:    time.Now().Format("2006-01-02"),
		Name:    c.name,
		Command: commandLine(),
		Machine: machine(),
		Sizes: map[string]string{
			"record":            fmt.Sprintf("%d B", c.recSize),
			"partitions":        fmt.Sprint(c.partitions),
			"throughput runs":   fmt.Sprintf("%d MiB each", c.mb),
			"catch-up":          fmt.Sprintf("%d MiB", c.catchupMB),
			"fixed-rate runs":   c.latencyDur.String(),
			"trickle":           fmt.Sprintf("1 record/s for %s", c.trickle),
			"lifecycle":         lifecycleSizes(c),
			"produce agents":    produceAgentSizes(c),
			"limit runs":        fmt.Sprintf("%d MiB each", c.limitMB),
			"scenarios":         strings.Join(c.scenarios, ","),
			"targets":           strings.Join(c.targets, ","),
			"franz-go producer": "linger 5ms (0 in fixed-rate runs), batch max 1 MiB, 100000 buffered records, idempotent only at acks=all",
		},
		Durability: map[string]map[string]string{},
		Lifecycle:  map[string][]lifeSample{},
		latencies:  map[string][]float64{},
	}
	defer func() { res.Seconds = time.Since(began).Seconds() }()
	stopLoad := sampleLoad(res)
	defer stopLoad()
	logf("strata bench %q: scenarios %s, targets %s, work dir %s", c.name, strings.Join(c.scenarios, ","), strings.Join(c.targets, ","), c.work)

	// --- Binaries and services --------------------------------------------
	bin := buildStrata(c, res)
	wantKafka := slices.Contains(c.targets, kafkaPeer)
	if wantKafka || c.crossCheck {
		logf("fetching Apache Kafka (bench/kafka/fetch.sh; cached after the first time)")
		c.kafkaLib = strings.TrimSpace(sh(c.repo, "bench/kafka/fetch.sh"))
		res.Sizes["kafka"] = filepath.Base(filepath.Dir(c.kafkaLib)) + " (Maven Central), single node KRaft, -Xmx1g"
	}
	var targets []*target
	for _, name := range c.targets {
		switch name {
		case strataEmbedded:
			targets = append(targets, strataTarget(name, bin, filepath.Join(c.work, name), "", "", nil))
		case strataRemote:
			logf("starting Postgres and MinIO (scripts/start-postgres.sh, scripts/start-minio.sh)")
			svc := filepath.Join(c.work, "services")
			os.MkdirAll(svc, 0o755)
			pg := parseEnv(sh(c.repo, "scripts/start-postgres.sh", filepath.Join(svc, "postgres")))
			atExit(func() {
				exec.Command(filepath.Join(c.repo, "scripts/stop-postgres.sh"), filepath.Join(svc, "postgres")).Run()
			})
			mi := parseEnv(sh(c.repo, "scripts/start-minio.sh", filepath.Join(svc, "minio")))
			atExit(func() {
				exec.Command(filepath.Join(c.repo, "scripts/stop-minio.sh"), filepath.Join(svc, "minio")).Run()
			})
			env := []string{"AWS_EC2_METADATA_DISABLED=true"}
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
				os.Setenv(k, mi[k])
				env = append(env, k+"="+mi[k])
			}
			os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			u, err := url.Parse(mi["STRATA_TEST_S3_URL"])
			if err != nil {
				fatalf("minio url: %v", err)
			}
			u.Path = fmt.Sprintf("/bench-%d/", time.Now().Unix())
			t := strataTarget(name, bin, filepath.Join(c.work, name), pg["STRATA_TEST_POSTGRES_URL"], u.String(), env)
			t.minioPid, _ = strconv.Atoi(mi["STRATA_MINIO_PID"])
			t.postgresPid, _ = strconv.Atoi(pg["STRATA_POSTGRES_PID"])
			targets = append(targets, t)
			res.Sizes["minio"] = u.Host + " (scripts/start-minio.sh, data on the same disk)"
		case kafkaPeer:
			targets = append(targets, kafkaTarget(c.kafkaLib, filepath.Join(c.work, "kafka")))
		}
	}
	for _, t := range targets {
		os.MkdirAll(filepath.Join(c.work, t.name), 0o755)
		res.Durability[t.name] = t.durability
	}

	// --- Limits -----------------------------------------------------------
	measureLimits(ctx, c, res, targets)

	// --- Scenarios --------------------------------------------------------
	peaks := map[string]float64{} // target -> acks=all MB/s
	for _, s := range c.scenarios {
		if s == "latency" || s == "e2e" || s == "txn" {
			if c.rateMBs == 0 {
				c.rateMBs = 10
				if len(peaks) > 0 {
					c.rateMBs = 1e18
					for _, v := range peaks {
						c.rateMBs = min(c.rateMBs, v/2)
					}
				}
				res.Sizes["fixed rate"] = fmt.Sprintf("%.1f MB/s (%.0f records/s) on every target", c.rateMBs, c.rateMBs*1e6/float64(c.recSize))
			}
		}
		for _, t := range targets {
			if (s == "trickle" || s == "lifecycle") && t.name == kafkaPeer {
				continue // no object store: nothing to count
			}
			logf("scenario %s on %s", s, t.name)
			runScenario(c, res, t, s, peaks)
		}
	}
	computeRatios(res)
	return res
}

func measureLimits(ctx context.Context, c config, res *Result, targets []*target) {
	total := c.limitMB << 20
	logf("limit: fsync'd sequential writes, 1 MiB each, %d MiB, in %s", c.limitMB, c.work)
	res.Limits = append(res.Limits, Limit{"fsync", "fsync'd sequential writes of 1 MiB, data disk", fsyncLimit(c.work, total, 1<<20)})
	logf("  => %.1f MB/s", res.Limits[0].MBs)
	for _, t := range targets {
		var s objstore.Store
		var err error
		switch t.name {
		case strataEmbedded:
			s, err = fs.Open(filepath.Join(c.work, "limit-objects"))
		case strataRemote:
			s, err = agent.OpenObjectStore(ctx, res.remoteURL(targets))
		default:
			continue
		}
		if err != nil {
			fatalf("object store for limits: %v", err)
		}
		k := storeKey(t.name)
		for _, size := range []int{8 << 20, 1 << 20} {
			for _, streams := range []int{1, 4} {
				logf("limit: %s PUT then GET of %d MiB objects, %d stream(s), %d MiB", k, size>>20, streams, c.limitMB)
				put, get := objLimits(ctx, s, fmt.Sprintf("limits-%d/%d-%d/", time.Now().UnixNano(), size, streams), total, size, streams)
				for _, l := range []Limit{
					{fmt.Sprintf("%s PUT %dMiB x%d", k, size>>20, streams), fmt.Sprintf("%s PUT of %d MiB objects, %d stream(s)", k, size>>20, streams), put},
					{fmt.Sprintf("%s GET %dMiB x%d", k, size>>20, streams), fmt.Sprintf("%s GET of %d MiB objects, %d stream(s)", k, size>>20, streams), get},
				} {
					res.Limits = append(res.Limits, l)
					logf("  => %s: %.1f MB/s", l.Label, l.MBs)
				}
			}
		}
	}
}

// remoteURL is the object store URL of the remote Strata target, found in
// its start function's closure via a dry description: we keep it in Sizes.
func (r *Result) remoteURL(targets []*target) string {
	for _, t := range targets {
		if t.name == strataRemote {
			return t.objURL
		}
	}
	return ""
}

func runScenario(c config, res *Result, t *target, s string, peaks map[string]float64) {
	t.fresh(s)
	isStrata := t.name != kafkaPeer
	var args []string // extra agent flags of this scenario
	switch {
	case isStrata && s == "catchup":
		// No compaction while writing or reading: the first read is of
		// flush objects only, the second of what `strata compactor --once`
		// made of them.
		args = []string{"--compaction=false"}
	case isStrata && s == "produce" && c.produceCompactionInterval != "":
		args = []string{"--compaction-interval", c.produceCompactionInterval}
	case isStrata && s == "lifecycle":
		args = strings.Fields(c.lifeAgentFlags)
	}
	p := t.start(false, args...)
	rssProcs := []*proc{p}
	peak := 0.0
	// retire records a process's peak RSS for this scenario and stops it.
	retire := func(q *proc) { peak = max(peak, q.peakRSS()); q.stop() }
	defer func() {
		for _, q := range rssProcs {
			retire(q)
		}
		res.add(Row{Scenario: "rss", Target: t.name, Metric: "agent/broker peak RSS (VmHWM), scenario " + s, Unit: "MiB", Value: peak, LowerBetter: true})
		t.drop()
	}()
	n := (c.mb << 20) / c.recSize
	label := t.name + " " + s
	switch s {
	case "produce":
		crossCheck := func(p *proc) {
			if !c.crossCheck || c.kafkaLib == "" {
				return
			}
			for _, acks := range []string{"1", "all", ppJavaDefaults} {
				topic := createTopic(p.addr, int32(c.partitions))
				records := n
				if acks == ppJavaDefaults {
					records = max(n/4, 1) // 16 KiB batches are slow everywhere
				}
				pp, err := producerPerformance(c.kafkaLib, p.addr, topic, acks, records, c.recSize, label+" acks="+acks)
				if err != nil {
					logf("  cross-check failed: %v", err)
					res.Notes = append(res.Notes, fmt.Sprintf("ProducerPerformance on %s acks=%s failed: %v", t.name, acks, err))
					continue
				}
				logf("  => ProducerPerformance %s acks=%s: %.1f MB/s, p50 %.0f ms, p99 %.0f ms", t.name, acks, pp.MBs, pp.P50Ms, pp.P99Ms)
				res.CrossCheck = append(res.CrossCheck, CrossRow{Target: t.name, Acks: acks, ppResult: pp})
			}
		}
		if !isStrata {
			produceOne(c, res, t, p, "1", "", label)
			peaks[t.name] = produceOne(c, res, t, p, "all", "", label)
			crossCheck(p)
			break
		}
		// Compaction on (the default agent) and off (--compaction=false,
		// its own metastore and bucket prefix, so the next agent with
		// compaction on finds none of its data), in the order on, off,
		// off, on: each pair of runs compared is adjacent in time, so both
		// see about the same machine.
		on1 := produceOne(c, res, t, p, "1", "", label)
		retire(p)
		rssProcs = nil
		logf("  %s: the same runs on an agent with --compaction=false", label)
		meta, objs := t.metaURL, t.objURL
		t.fresh(s + "-off")
		q := t.start(false, append(args, "--compaction=false")...)
		off1 := produceOne(c, res, t, q, "1", ", --compaction=false", label+" --compaction=false")
		offAll := produceOne(c, res, t, q, "all", ", --compaction=false", label+" --compaction=false")
		res.add(Row{Scenario: "rss", Target: t.name, Metric: "agent/broker peak RSS (VmHWM), scenario produce, --compaction=false", Unit: "MiB", Value: q.peakRSS(), LowerBetter: true})
		q.stop()
		t.drop()
		t.metaURL, t.objURL = meta, objs
		logf("  %s: acks=all on an agent with compaction on (a fresh process, same metastore and bucket as acks=1)", label)
		p = t.start(false, args...)
		rssProcs = []*proc{p}
		onAll := produceOne(c, res, t, p, "all", "", label)
		peaks[t.name] = onAll
		res.add(Row{Scenario: s, Target: t.name, Metric: "acks=1 throughput, compaction on ÷ off", Unit: "×", Value: on1 / off1})
		res.add(Row{Scenario: s, Target: t.name, Metric: "acks=all throughput, compaction on ÷ off", Unit: "×", Value: onAll / offAll})
		crossCheck(p)
	case "latency":
		rate := c.rateMBs * 1e6 / float64(c.recSize)
		for _, acks := range []string{"1", "all"} {
			topic := createTopic(p.addr, int32(c.partitions))
			m := int(rate * c.latencyDur.Seconds())
			r := produceRun{addr: p.addr, topic: topic, acks: acks, n: m, recSize: c.recSize, rate: rate, label: label + " acks=" + acks}.run()
			slices.Sort(r.latMs)
			res.latencies[t.name+" produce acks="+acks] = r.latMs
			for _, q := range []struct {
				name string
				p    float64
			}{{"p50", .50}, {"p99", .99}, {"p999", .999}} {
				res.add(Row{Scenario: s, Target: t.name, Metric: "acks=" + acks + " " + q.name, Unit: "ms", Value: pct(r.latMs, q.p), LowerBetter: true})
			}
		}
	case "e2e":
		rate := c.rateMBs * 1e6 / float64(c.recSize)
		topic := createTopic(p.addr, int32(c.partitions))
		m := int(rate * c.latencyDur.Seconds())
		ready := make(chan struct{})
		var lat []float64
		done := make(chan struct{})
		go func() {
			defer close(done)
			consume(p.addr, topic, "bench-group-"+topic, m, c.latencyDur+90*time.Second, label+" consumer", ready, func(r *kgo.Record) {
				sent := int64(binary.BigEndian.Uint64(r.Value))
				lat = append(lat, float64(time.Now().UnixNano()-sent)/1e6)
			})
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			fatalf("%s: group consumer got no partitions in 60s", label)
		}
		produceRun{addr: p.addr, topic: topic, acks: "1", n: m, recSize: c.recSize, rate: rate, stamp: true, label: label + " producer"}.run()
		<-done
		slices.Sort(lat)
		res.latencies[t.name+" end-to-end"] = lat
		res.add(Row{Scenario: s, Target: t.name, Metric: "produce→group consumer p50", Unit: "ms", Value: pct(lat, .5), LowerBetter: true})
		res.add(Row{Scenario: s, Target: t.name, Metric: "produce→group consumer p99", Unit: "ms", Value: pct(lat, .99), LowerBetter: true})
	case "txn":
		topic := createTopic(p.addr, int32(c.partitions))
		secs, commits := txnThroughput(p.addr, topic, n, c.recSize, txnRecords, label+" transactional")
		res.add(Row{Scenario: s, Target: t.name, Metric: fmt.Sprintf("transactional produce throughput (franz-go, acks=all, %d records a transaction)", txnRecords),
			Unit: "MB/s", Value: float64(n) * float64(c.recSize) / 1e6 / secs})
		res.add(Row{Scenario: s, Target: t.name, Metric: "commit latency (EndTransaction) p50", Unit: "ms", Value: pct(commits, .5), LowerBetter: true})
		res.add(Row{Scenario: s, Target: t.name, Metric: "commit latency (EndTransaction) p99", Unit: "ms", Value: pct(commits, .99), LowerBetter: true})
		if c.crossCheck && c.kafkaLib != "" {
			ppTopic := createTopic(p.addr, int32(c.partitions))
			if pp, err := producerPerformanceTxn(c.kafkaLib, p.addr, ppTopic, n, c.recSize, label); err != nil {
				logf("  transactional ProducerPerformance failed: %v", err)
				res.Notes = append(res.Notes, fmt.Sprintf("transactional ProducerPerformance on %s failed: %v", t.name, err))
			} else {
				res.add(Row{Scenario: s, Target: t.name, Metric: "Kafka ProducerPerformance --transactional-id (100 ms transactions, acks=all)", Unit: "MB/s", Value: pp.MBs})
			}
		}
		rate := c.rateMBs * 1e6 / float64(c.recSize)
		m := int(rate * c.latencyDur.Seconds())
		lat := txnE2E(p.addr, createTopic(p.addr, int32(c.partitions)), m, c.recSize, rate, c.latencyDur+90*time.Second, label)
		res.latencies[t.name+" end-to-end read_committed"] = lat
		res.add(Row{Scenario: s, Target: t.name, Metric: "produce→read_committed consumer p50 (commit every 100 ms)", Unit: "ms", Value: pct(lat, .5), LowerBetter: true})
		res.add(Row{Scenario: s, Target: t.name, Metric: "produce→read_committed consumer p99 (commit every 100 ms)", Unit: "ms", Value: pct(lat, .99), LowerBetter: true})
	case "tail":
		topic := createTopic(p.addr, int32(c.partitions))
		gets := p.counter("strata_objstore_requests_total", `op="get`) // get and getrange
		ready := make(chan struct{})
		var bytes int64
		var got int
		var last time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, _, last = consume(p.addr, topic, "", n, 10*time.Minute, label+" consumer", ready, func(r *kgo.Record) { bytes += int64(len(r.Value)) })
		}()
		<-ready
		start := time.Now()
		pr := produceRun{addr: p.addr, topic: topic, acks: "1", n: n, recSize: c.recSize, linger: 5 * time.Millisecond, label: label + " producer"}.run()
		<-done
		if got < n {
			fatalf("%s: consumer got %d of %d records", label, got, n)
		}
		res.add(Row{Scenario: s, Target: t.name, Metric: "producer throughput (acks=1) while tailed", Unit: "MB/s", Value: float64(n*c.recSize) / pr.seconds / 1e6, LimitKey: "fsync"})
		res.add(Row{Scenario: s, Target: t.name, Metric: "tail consumer throughput", Unit: "MB/s", Value: float64(bytes) / last.Sub(start).Seconds() / 1e6})
		if isStrata {
			d := p.counter("strata_objstore_requests_total", `op="get`) - gets
			res.add(Row{Scenario: s, Target: t.name, Metric: "object GETs per GiB tailed", Unit: "GETs/GiB", Value: d / (float64(bytes) / gib), LowerBetter: true})
		}
	case "catchup":
		m := (c.catchupMB << 20) / c.recSize
		topic := createTopic(p.addr, int32(c.partitions))
		puts := p.counter("strata_objstore_requests_total", `op="put"`)
		produceRun{addr: p.addr, topic: topic, acks: "all", n: m, recSize: c.recSize, linger: 5 * time.Millisecond, label: label + " write"}.run()
		if isStrata {
			rssProcs = nil
			catchupStrata(c, res, t, p, topic, m, p.counter("strata_objstore_requests_total", `op="put"`)-puts, args, label, retire)
			return
		}
		logf("  %s: restarting the broker on its data dir", label)
		p.stop()
		rssProcs = nil
		res.Notes = appendOnce(res.Notes, dropCaches())
		p = t.start(true)
		rssProcs = []*proc{p}
		var bytes int64
		cpu0 := takeCPU(t, p)
		start := time.Now()
		got, _, last := consume(p.addr, topic, "", m, 10*time.Minute, label+" read", make(chan struct{}), func(r *kgo.Record) { bytes += int64(len(r.Value)) })
		if got < m {
			fatalf("%s: read %d of %d records", label, got, m)
		}
		res.add(Row{Scenario: s, Target: t.name, Metric: "cold read from offset 0", Unit: "MB/s", Value: float64(bytes) / last.Sub(start).Seconds() / 1e6})
		// Compared with both of Strata's cold reads.
		for _, v := range []string{"flush objects", "compacted segments"} {
			addBusy(res, t, "cold read, "+v, takeCPU(t, p).sub(cpu0), last.Sub(start).Seconds())
		}
	case "trickle":
		topic := createTopic(p.addr, int32(c.partitions))
		puts := p.counter("strata_objstore_requests_total", `op="put"`)
		m := int(c.trickle.Seconds())
		produceRun{addr: p.addr, topic: topic, acks: "1", n: m, recSize: c.recSize, rate: 1, label: label}.run()
		time.Sleep(time.Second)
		d := p.counter("strata_objstore_requests_total", `op="put"`) - puts
		res.add(Row{Scenario: "puts", Target: t.name, Metric: "PUTs/GiB at a trickle (1 record/s)", Unit: "PUTs/GiB", Value: d / (float64(m*c.recSize) / gib), LowerBetter: true})
		res.add(Row{Scenario: "puts", Target: t.name, Metric: "PUTs per hour at a trickle (1 record/s)", Unit: "PUTs/h", Value: d / (c.trickle.Seconds() + 1) * 3600, LowerBetter: true})
	case "lifecycle":
		lifecycle(c, res, t, p, label)
	}
}

// buildStrata builds cmd/strata into the work dir: from c.rev exported
// with git archive (others may be editing the working tree while this
// runs), or from the working tree itself when c.rev is "worktree". It
// records what was built in res.Sizes.
func buildStrata(c config, res *Result) string {
	bin := filepath.Join(c.work, "strata")
	src := c.repo
	what := "the working tree of " + c.repo
	if c.rev != "worktree" {
		commit := strings.TrimSpace(sh(c.repo, "git", "rev-parse", "--verify", c.rev+"^{commit}"))
		src = filepath.Join(c.work, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			fatalf("%v", err)
		}
		logf("exporting %s (%s) with git archive", c.rev, commit[:12])
		archive := exec.Command("sh", "-c", `git archive --format=tar "$1" | tar -x -C "$2"`, "sh", commit, src)
		archive.Dir, archive.Stderr = c.repo, os.Stderr
		if err := archive.Run(); err != nil {
			fatalf("git archive %s: %v", commit, err)
		}
		what = "commit " + commit
		if dirty := strings.TrimSpace(sh(c.repo, "git", "status", "--porcelain", "--untracked-files=no")); dirty != "" && c.rev == "HEAD" {
			what += " (HEAD; the working tree's uncommitted changes were not built)"
		}
	}
	logf("building strata (go build ./cmd/strata) from %s", what)
	args := []string{"build", "-o", bin, "./cmd/strata"}
	if src != c.repo {
		// The build cache then serves an export in a new directory.
		args = append(args[:1], append([]string{"-trimpath"}, args[1:]...)...)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fatalf("go build ./cmd/strata: %v", err)
	}
	res.Sizes["strata built from"] = what
	return bin
}

// commandLine is the command as typed: bench/run.sh passes -repo itself.
func commandLine() string {
	var args []string
	for i := 1; i < len(os.Args); i++ {
		if os.Args[i] == "-repo" && i+1 < len(os.Args) {
			i++
			continue
		}
		a := os.Args[i]
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		args = append(args, a)
	}
	return strings.TrimSpace("bench/run.sh " + strings.Join(args, " "))
}

func appendOnce(xs []string, s string) []string {
	if s == "" || slices.Contains(xs, s) {
		return xs
	}
	return append(xs, s)
}

// dropCaches asks the kernel to drop the page cache before a cold read, so
// neither Kafka's segment files nor MinIO's objects are read from memory.
func dropCaches() string {
	exec.Command("sync").Run()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1\n"), 0); err != nil {
		return fmt.Sprintf("Cold catch-up: the page cache could NOT be dropped (%v): Kafka's segment files and the object store's files may have been read from memory.", err)
	}
	return "Cold catch-up: the kernel page cache was dropped (/proc/sys/vm/drop_caches) before each cold read."
}

func machine() string {
	k, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs, %s/%s, Linux %s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(k)), runtime.Version())
}

func computeRatios(res *Result) {
	peer := map[string]float64{}
	for _, r := range res.Rows {
		if r.Target == kafkaPeer {
			peer[r.Scenario+"|"+r.Metric] = r.Value
		}
	}
	for i := range res.Rows {
		r := &res.Rows[i]
		pm := r.Metric
		if r.PeerMetric != "" {
			pm = r.PeerMetric
		}
		if v := peer[r.Scenario+"|"+pm]; v > 0 && r.Target != kafkaPeer {
			r.VsPeer = r.Value / v
		}
		if l := res.limit(r.LimitKey); l > 0 {
			r.VsLimit = r.Value / l
		}
	}
	for i := range res.CrossCheck {
		for _, k := range res.CrossCheck {
			if k.Target == kafkaPeer && k.Acks == res.CrossCheck[i].Acks && k.MBs > 0 && res.CrossCheck[i].Target != kafkaPeer {
				res.CrossCheck[i].VsPeer = res.CrossCheck[i].MBs / k.MBs
			}
		}
	}
}

// sampleLoad samples the 1-minute load average every 15 s until the
// returned function is called, which adds a note with its range: other
// work on the machine moves every figure.
func sampleLoad(res *Result) func() {
	read := func() float64 {
		b, _ := os.ReadFile("/proc/loadavg")
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0
		}
		v, _ := strconv.ParseFloat(f[0], 64)
		return v
	}
	var mu sync.Mutex
	loads := []float64{read()}
	logf("load average (1 min) at start: %.2f on %d CPUs", loads[0], runtime.NumCPU())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				mu.Lock()
				loads = append(loads, read())
				mu.Unlock()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		lo, hi, sum := loads[0], loads[0], 0.0
		for _, v := range loads {
			lo, hi, sum = min(lo, v), max(hi, v), sum+v
		}
		res.Notes = append(res.Notes, fmt.Sprintf("Load average (1 min) during the run, sampled every 15 s: min %.2f, mean %.2f, max %.2f on %d CPUs (above %d, runnable processes waited for a CPU; the benchmark itself keeps about 2 busy).",
			lo, sum/float64(len(loads)), hi, runtime.NumCPU(), runtime.NumCPU()))
	}
}

// rerender writes a results JSON's markdown and plots again, beside it.
func rerender(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	res := &Result{}
	if err := json.Unmarshal(b, res); err != nil {
		fatalf("%s: %v", path, err)
	}
	res.latencies = map[string][]float64{}
	computeRatios(res)
	if err := writeResults(config{out: filepath.Dir(path)}, res); err != nil {
		fatalf("%v", err)
	}
}
