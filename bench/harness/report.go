package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func writeResults(c config, res *Result) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(c.out, res.Date+"-"+res.Name)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	cdf, bars := "", base+"-throughput.png"
	if len(res.latencies) > 0 {
		cdf = base + "-latency-cdf.png"
		if err := plotCDF(res, cdf); err != nil {
			return fmt.Errorf("latency plot: %w", err)
		}
	}
	if err := plotBars(res, bars); err != nil {
		return fmt.Errorf("throughput plot: %w", err)
	}
	life := ""
	if len(res.Lifecycle) > 0 {
		life = base + "-lifecycle.png"
		if err := plotLifecycle(res, life); err != nil {
			return fmt.Errorf("lifecycle plot: %w", err)
		}
	}
	lifeName := ""
	if life != "" {
		lifeName = filepath.Base(life)
	}
	cdfName := ""
	if cdf != "" {
		cdfName = filepath.Base(cdf)
	}
	md := markdown(res, cdfName, filepath.Base(bars), lifeName)
	if err := os.WriteFile(base+".md", []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	logf("wrote %s.md, %s.json and the plots %s", base, base, strings.TrimSpace(strings.Join([]string{cdf, bars, life}, " ")))
	return nil
}

func fmtV(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtRatio(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func (r *Result) targetsPresent() []string {
	var ts []string
	for _, t := range allTargets {
		if _, ok := r.Durability[t]; ok {
			ts = append(ts, t)
		}
	}
	return ts
}

func markdown(res *Result, cdf, bars, life string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Strata vs Apache Kafka, %s (%s)\n\n", res.Date, res.Name)
	w("Command: `%s` (%.0f s). Machine: %s.\n\n", strings.TrimSpace(res.Command), res.Seconds, res.Machine)
	w("Every figure comes with its ratio to Apache Kafka measured in the same run (×Kafka; for latencies, PUTs, GETs and RSS lower is better, so <1× favours Strata) and, where one applies, to the limit measured in the same run (×limit).\n\n")
	w("## Sizes\n\n| | |\n|---|---|\n")
	keys := make([]string, 0, len(res.Sizes))
	for k := range res.Sizes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w("| %s | %s |\n", k, res.Sizes[k])
	}
	w("\n## Durability offered\n\n| target | acks=1 | acks=all |\n|---|---|---|\n")
	for _, t := range res.targetsPresent() {
		w("| %s | %s | %s |\n", t, res.Durability[t]["1"], res.Durability[t]["all"])
	}
	w("\n## Limits (same run)\n\n| limit | MB/s |\n|---|---:|\n")
	for _, l := range res.Limits {
		w("| %s | %s |\n", l.Label, fmtV(l.MBs))
	}
	ts := res.targetsPresent()
	w("\n## Results\n\n| scenario | metric |")
	sep := "|---|---|"
	for _, t := range ts {
		if t == kafkaPeer {
			w(" kafka |")
			sep += "---:|"
		} else {
			w(" %s | ×Kafka | ×limit |", t)
			sep += "---:|---:|---:|"
		}
	}
	w(" limit used |\n%s---|\n", sep)
	type key struct{ s, m string }
	var order []key
	vals := map[key]map[string]Row{}
	for _, r := range res.Rows {
		k := key{r.Scenario, r.Metric}
		if vals[k] == nil {
			vals[k] = map[string]Row{}
			order = append(order, k)
		}
		vals[k][r.Target] = r
	}
	rank := func(s string) int {
		return slices.Index([]string{"produce", "latency", "e2e", "tail", "catchup", "compaction", "lifecycle", "puts", "cpu", "rss"}, s)
	}
	// By scenario; cpu rows by measurement (first seen first), then by
	// process.
	what := map[string]int{}
	cpuKey := func(k key) (int, int) {
		w, who, _ := strings.Cut(k.m, ": cores busy, ")
		if _, ok := what[w]; !ok {
			what[w] = len(what)
		}
		return what[w], slices.Index(cpuWho, who)
	}
	for _, k := range order {
		if k.s == "cpu" {
			cpuKey(k)
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		if d := rank(a.s) - rank(b.s); d != 0 || a.s != "cpu" {
			return d
		}
		aw, ap := cpuKey(a)
		bw, bp := cpuKey(b)
		if aw != bw {
			return aw - bw
		}
		return ap - bp
	})
	// A Strata row compared with a Kafka metric of another name shows that
	// figure in its kafka column; Kafka's own row is then left out.
	peerOf := map[key]Row{}
	referenced := map[key]bool{}
	for _, r := range res.Rows {
		if r.PeerMetric == "" {
			continue
		}
		pk := key{r.Scenario, r.PeerMetric}
		if pr, ok := vals[pk][kafkaPeer]; ok {
			peerOf[key{r.Scenario, r.Metric}] = pr
			referenced[pk] = true
		}
	}
	for _, k := range order {
		if referenced[k] && len(vals[k]) == 1 {
			if _, ok := vals[k][kafkaPeer]; ok {
				continue
			}
		}
		w("| %s | %s |", k.s, k.m)
		var lims []string
		unit := ""
		for _, t := range ts {
			r, ok := vals[k][t]
			if !ok && t == kafkaPeer {
				r, ok = peerOf[k]
			}
			if ok {
				unit = r.Unit
				if r.LimitKey != "" && r.Target != kafkaPeer && !slices.Contains(lims, r.LimitKey) {
					lims = append(lims, r.LimitKey)
				}
			}
			if t == kafkaPeer {
				if ok {
					w(" %s |", fmtV(r.Value))
				} else {
					w(" n/a |")
				}
				continue
			}
			if !ok {
				w(" n/a | | |")
				continue
			}
			w(" %s | %s | %s |", fmtV(r.Value), fmtRatio(r.VsPeer), fmtRatio(r.VsLimit))
		}
		w(" %s |\n", strings.TrimSuffix(unit+"; "+strings.Join(lims, ", "), "; "))
	}
	goalsTable(res, w)
	if len(res.CrossCheck) > 0 {
		w("\n## Cross-check: Kafka's ProducerPerformance (scenario produce)\n\n")
		w("`org.apache.kafka.tools.ProducerPerformance --record-size %s --throughput -1`, linger.ms=5, batch.size=1 MiB, same record count as the franz-go run, a fresh %s-partition topic; the row `%s` sets only bootstrap.servers (acks=all, idempotence, batch.size 16 KiB, 5 requests in flight) and sends a quarter of the records.\n\n", strings.TrimSuffix(res.Sizes["record"], " B"), res.Sizes["partitions"], ppJavaDefaults)
		w("| target | acks | MB/s | ×Kafka | records/s | avg ms | p50 ms | p99 ms |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range res.CrossCheck {
			w("| %s | %s | %s | %s | %.0f | %s | %.0f | %.0f |\n", c.Target, c.Acks, fmtV(c.MBs), fmtRatio(c.VsPeer), c.RecordsPerSec, fmtV(c.AvgMs), c.P50Ms, c.P99Ms)
		}
	}
	if len(res.Notes) > 0 {
		w("\n## Notes\n\n")
		for _, n := range res.Notes {
			w("- %s\n", n)
		}
	}
	w("\n## Plots\n\n")
	if cdf != "" {
		w("![latency CDF](%s)\n\n", cdf)
	}
	w("![throughput](%s)\n", bars)
	if life != "" {
		w("\n![lifecycle: bucket and live bytes over time](%s)\n", life)
	}
	return b.String()
}

// plotCDF draws every latency series as a CDF, latency on a log axis.
func plotCDF(res *Result, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Latency CDF, %s (%s)", res.Date, res.Name)
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "percentile"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	// Room above 100 for the legend, top left.
	p.Y.Min, p.Y.Max = 0, 150
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"},
		{Value: 75, Label: "75"}, {Value: 90, Label: "90"}, {Value: 99, Label: "99"}, {Value: 100, Label: ""}})
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	names := make([]string, 0, len(res.latencies))
	for k := range res.latencies {
		names = append(names, k)
	}
	slices.Sort(names)
	colors := map[string]int{}
	for _, t := range allTargets {
		colors[t] = len(colors)
	}
	for _, name := range names {
		lat := res.latencies[name]
		if len(lat) == 0 {
			continue
		}
		step := max(1, len(lat)/2000)
		var xy plotter.XYs
		for i := 0; i < len(lat); i += step {
			xy = append(xy, plotter.XY{X: max(lat[i], 0.01), Y: 100 * float64(i+1) / float64(len(lat))})
		}
		xy = append(xy, plotter.XY{X: max(lat[len(lat)-1], 0.01), Y: 100})
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		t, kind, _ := strings.Cut(name, " ")
		l.Color = plotutil.Color(colors[t])
		l.Width = vg.Points(1.5)
		switch {
		case strings.Contains(kind, "end-to-end"):
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		case strings.Contains(kind, "acks=1"):
			l.Dashes = []vg.Length{vg.Points(1.5), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(name, l)
	}
	return p.Save(10*vg.Inch, 7*vg.Inch, path)
}

// plotBars draws the throughput figures per target, with the limits.
func plotBars(res *Result, path string) error {
	// metric is Strata's; kafka, if set, is Kafka's figure to draw beside.
	metrics := []struct{ scenario, metric, kafka, label, limit string }{
		{"produce", "acks=1 throughput", "", "produce acks=1", "fsync"},
		{"produce", "acks=all throughput", "", "produce acks=all", "PUT 8MiB x4"},
		{"tail", "tail consumer throughput", "", "tail consumer", ""},
		{"catchup", "cold read from offset 0, flush objects (before compaction)", "cold read from offset 0", "catch-up, flush objects", "GET 8MiB x4"},
		{"catchup", "cold read from offset 0, compacted segments", "cold read from offset 0", "catch-up, compacted", "GET 8MiB x4"},
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Throughput (MB/s), %s (%s)", res.Date, res.Name)
	p.Y.Label.Text = "MB/s"
	p.Legend.Top = true
	p.Legend.Left = true
	top := 0.0
	p.Add(plotter.NewGrid())
	series := append(res.targetsPresent(), "limit")
	w := vg.Points(18)
	labels := make([]string, len(metrics))
	for i, m := range metrics {
		labels[i] = m.label
	}
	store := "local-dir"
	if _, ok := res.Durability[strataRemote]; ok {
		store = "minio"
	}
	for si, s := range series {
		vals := make(plotter.Values, len(metrics))
		for i, m := range metrics {
			if s == "limit" {
				k := m.limit
				if k != "" && k != "fsync" {
					k = store + " " + k
				}
				vals[i] = res.limit(k)
				continue
			}
			metric := m.metric
			if s == kafkaPeer && m.kafka != "" {
				metric = m.kafka
			}
			for _, r := range res.Rows {
				if r.Target == s && r.Scenario == m.scenario && r.Metric == metric {
					vals[i] = r.Value
				}
			}
		}
		for _, v := range vals {
			top = max(top, v)
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		ci := slices.Index(allTargets, s)
		if ci < 0 {
			ci = len(allTargets)
		}
		bc.Color = plotutil.Color(ci)
		bc.LineStyle.Width = 0
		bc.Offset = w * vg.Length(float64(si)-float64(len(series)-1)/2)
		p.Add(bc)
		name := s
		if s == "limit" {
			name = "limit: fsync / " + store + " PUT, GET 8 MiB x4"
		}
		p.Legend.Add(name, bc)
	}
	p.NominalX(labels...)
	p.Y.Min, p.Y.Max = 0, top*1.45 // room for the legend
	return p.Save(10*vg.Inch, 6*vg.Inch, path)
}

// plotLifecycle draws scenario lifecycle's samples: bytes in the bucket
// (solid) and live bytes (dashed) over time, per target.
func plotLifecycle(res *Result, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Scenario lifecycle: bucket bytes and live bytes, %s (%s)", res.Date, res.Name)
	p.X.Label.Text = "seconds since the produce started"
	p.Y.Label.Text = "MiB"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for _, t := range res.targetsPresent() {
		ss := res.Lifecycle[t]
		if len(ss) == 0 {
			continue
		}
		for _, kind := range []string{"bucket", "live"} {
			xy := make(plotter.XYs, len(ss))
			for i, s := range ss {
				v := s.BucketBytes
				if kind == "live" {
					v = s.LiveBytes
				}
				xy[i] = plotter.XY{X: s.Seconds, Y: float64(v) / (1 << 20)}
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.Color = plotutil.Color(slices.Index(allTargets, t))
			l.Width = vg.Points(1.5)
			if kind == "live" {
				l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			p.Add(l)
			p.Legend.Add(t+" "+kind+" bytes", l)
		}
	}
	return p.Save(10*vg.Inch, 6*vg.Inch, path)
}

// goal is one issue goal checked against the rows of a run.
type goal struct {
	goal, scenario, metric string
	of                     string // "value", "kafka" (ratio to Kafka) or "limit" (ratio to the limit)
	atMost                 bool
	bound                  float64
}

// lifecycleGoals are the storage lifecycle issue's goals, checked against
// every Strata target that measured them (the issue states them for
// Postgres + MinIO with a 2 GiB catch-up).
var lifecycleGoals = []goal{
	{"cold catch-up after compaction ≥ 1.0× Kafka", "catchup", "cold read from offset 0, compacted segments", "kafka", false, 1.0},
	{"cold catch-up after compaction ≥ 0.5× raw GET (8 MiB × 4)", "catchup", "cold read from offset 0, compacted segments", "limit", false, 0.5},
	{"cold catch-up after compaction ≤ 128 GETs/GiB", "catchup", "object GETs per GiB read cold, compacted segments", "value", true, 128},
	{"index rows after compaction ≤ 64 per GiB", "compaction", "index rows per GiB, after compaction", "value", true, 64},
	{"space amplification (bucket ÷ live) ≤ 1.5×, max", "lifecycle", "bucket bytes ÷ live bytes, max", "value", true, 1.5},
	{"space amplification (bucket ÷ live) ≤ 1.5×, final", "lifecycle", "bucket bytes ÷ live bytes, final", "value", true, 1.5},
	{"produce acks=1 with compaction ≥ 0.9× without", "produce", "acks=1 throughput, compaction on ÷ off", "value", false, 0.9},
	{"produce acks=all with compaction ≥ 0.9× without", "produce", "acks=all throughput, compaction on ÷ off", "value", false, 0.9},
}

// flushGoals are the goals of the issue on flushing driven by the upload
// pipeline (acks=all at the speed of the bucket), stated for Postgres +
// MinIO (p50 latency) or for every target.
var flushGoals = []goal{
	{"franz-go acks=all throughput ≥ 1.0× Kafka", "produce", "acks=all throughput", "kafka", false, 1.0},
	{"acks=all latency p50 ≤ 25 ms (at half the lowest peak)", "latency", "acks=all p50", "value", true, 25},
	{"acks=all latency p99 ≤ 1.0× Kafka", "latency", "acks=all p99", "kafka", true, 1.0},
	{"produce → group consumer p50 ≤ 30 ms", "e2e", "produce→group consumer p50", "value", true, 30},
	{"produce → group consumer p99 ≤ 1.0× Kafka", "e2e", "produce→group consumer p99", "kafka", true, 1.0},
	{"acks=all PUTs/GiB at saturation ≤ 128", "puts", "acks=all PUTs/GiB at saturation", "value", true, 128},
	{"acks=all PUTs/GiB at saturation ≤ 128, --compaction=false", "puts", "acks=all PUTs/GiB at saturation, --compaction=false", "value", true, 128},
	{"acks=1 PUTs/GiB at saturation ≤ 128", "puts", "acks=1 PUTs/GiB at saturation", "value", true, 128},
	{"acks=1 PUTs/GiB at saturation ≤ 128, --compaction=false", "puts", "acks=1 PUTs/GiB at saturation, --compaction=false", "value", true, 128},
}

// goalsTable writes the goals this run measured, met or missed.
func goalsTable(res *Result, w func(string, ...any)) {
	goalLines(res, w, "Storage lifecycle goals", "The issue states them for Postgres + MinIO with a 2 GiB catch-up; every Strata target that measured them is listed.", lifecycleGoals)
	goalLines(res, w, "Flush goals (acks=all at the speed of the bucket)", "The acks=all p50 goal is stated for Postgres + MinIO; every Strata target that measured a goal is listed. ProducerPerformance with the Java defaults is in the cross-check table (goal ≥ 1.0× Kafka).", flushGoals)
}

func goalLines(res *Result, w func(string, ...any), title, intro string, goals []goal) {
	var lines []string
	for _, g := range goals {
		for _, r := range res.Rows {
			if r.Target == kafkaPeer || r.Scenario != g.scenario || r.Metric != g.metric {
				continue
			}
			v := r.Value
			switch g.of {
			case "kafka":
				v = r.VsPeer
			case "limit":
				v = r.VsLimit
			}
			if v == 0 && g.of != "value" {
				continue // no peer or limit in this run
			}
			met := v >= g.bound
			if g.atMost {
				met = v <= g.bound
			}
			verdict := "met"
			if !met {
				verdict = fmt.Sprintf("**missed** (%.2f× the bound)", v/g.bound)
			}
			shown := fmtV(v)
			if g.of != "value" {
				shown = fmtRatio(v)
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s |\n", g.goal, r.Target, shown, verdict))
		}
	}
	if len(lines) == 0 {
		return
	}
	w("\n## %s\n\n%s\n\n| goal | target | measured | |\n|---|---|---:|---|\n", title, intro)
	for _, l := range lines {
		w("%s", l)
	}
}
