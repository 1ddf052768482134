// Command cleaner measures the key cleaner of compacted topics at scale:
// one partition of -mb MiB holding -keys distinct keys, -versions
// versions each (written version by version, so every stretch of the log
// holds every key), cleaned by one `strata compactor --once` process.
// It reports wall time, input MB/s, the compactor's peak RSS, bytes read
// and written, and objects PUT; and, as the baseline measured in the same
// run, the same compactor merging an identical topic with
// cleanup.policy=delete (plain object compaction: read once, write all).
// It checks the outcome with kgo: the cleaned topic holds exactly the
// latest record of every key.
//
//	go run ./bench/cleaner -mb 1024 -keys 1000000 -versions 10
//	go run ./bench/cleaner -metastore "$STRATA_TEST_POSTGRES_URL" -objstore "$STRATA_TEST_S3_URL"
//
// Without -metastore/-objstore it runs on SQLite and a local directory.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	mb := flag.Int("mb", 1024, "MiB of records (keys and values) in the partition")
	keys := flag.Int("keys", 1000000, "distinct keys")
	versions := flag.Int("versions", 10, "versions of each key")
	metaURL := flag.String("metastore", "", "metastore URL (default: SQLite in the work dir)")
	objURL := flag.String("objstore", "", "object store URL (default: a directory in the work dir)")
	dedupe := flag.String("dedupe-bytes", "64MiB", "the compactor's --compaction-dedupe-bytes")
	bin := flag.String("strata", "", "strata binary (default: built from ./cmd/strata)")
	showLog := flag.Bool("log", false, "copy the compactor's log to stderr")
	flag.Parse()
	if (*metaURL == "") != (*objURL == "") {
		log.Fatal("-metastore and -objstore go together")
	}
	work, err := os.MkdirTemp("", "strata-bench-cleaner-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	if *metaURL == "" {
		*metaURL = "sqlite://" + filepath.Join(work, "meta.db")
		*objURL = "file://" + filepath.Join(work, "objects")
	}
	if *bin == "" {
		*bin = filepath.Join(work, "strata")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/strata").CombinedOutput(); err != nil {
			log.Fatalf("build: %v\n%s", err, out)
		}
	}
	backends := []string{"--metastore", *metaURL, "--objstore", *objURL}

	addr := freeAddr()
	agent := exec.Command(*bin, append([]string{"agent", "--listen", addr, "--admin-listen", "off",
		"--data-dir", filepath.Join(work, "agent"), "--compaction=false"}, backends...)...)
	var agentLog bytes.Buffer
	agent.Stderr = &agentLog
	if err := agent.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = agent.Process.Kill(); _ = agent.Wait() }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(200000),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	waitReady(cl, &agentLog)
	adm := kadm.NewClient(cl)

	// Record size: key "key-%07d" (11 bytes) plus a value filling -mb.
	total := int64(*mb) << 20
	valueSize := int(total/int64(*keys**versions)) - 11
	if valueSize < 1 {
		log.Fatalf("-mb %d is too small for %d records", *mb, *keys**versions)
	}
	fmt.Printf("# Key cleaner at scale\n\n")
	fmt.Printf("Command: `go run ./bench/cleaner -mb %d -keys %d -versions %d%s`\n\n", *mb, *keys, *versions, backendNote(*metaURL))
	fmt.Printf("Input: one partition, %d records (%d keys × %d versions, written version by version), %d-byte values, %.0f MiB; compactor --compaction-dedupe-bytes %s.\n\n",
		*keys**versions, *keys, *versions, valueSize, float64(total)/(1<<20), *dedupe)

	type run struct {
		name, policy string
		topic        string
		res          result
	}
	runs := []*run{{name: "object compaction (cleanup.policy=delete), baseline", policy: "delete"},
		{name: "key cleaning (cleanup.policy=compact)", policy: "compact"}}
	for _, r := range runs {
		r.topic = fmt.Sprintf("bench-%s-%d", r.policy, time.Now().UnixNano())
		resp, err := adm.CreateTopic(context.Background(), 1, -1, map[string]*string{
			"cleanup.policy": kadm.StringPtr(r.policy), "retention.ms": kadm.StringPtr("-1")}, r.topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			log.Fatalf("create %s: %v\nagent log:\n%s", r.topic, err, lastLines(agentLog.String(), 30))
		}
		start := time.Now()
		produce(cl, r.topic, *keys, *versions, valueSize)
		log.Printf("%s: produced %.0f MiB in %s", r.topic, float64(total)/(1<<20), time.Since(start).Round(time.Millisecond))
		r.res = compactOnce(*bin, backends, *dedupe, *showLog)
		log.Printf("%s: %+v", r.topic, r.res)
	}
	got := consumeCount(addr, runs[1].topic, int64(*keys**versions))
	if got != int64(*keys) {
		log.Fatalf("the cleaned topic holds %d records, want %d (one per key)", got, *keys)
	}

	fmt.Printf("| run | wall s | input MB/s | peak RSS MiB | read MiB | written MiB | objects PUT |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range runs {
		fmt.Printf("| %s | %.1f | %.0f | %.0f | %.0f | %.0f | %d |\n", r.name, r.res.wall.Seconds(),
			float64(total)/1e6/r.res.wall.Seconds(), float64(r.res.maxRSS)/(1<<20),
			float64(r.res.read)/(1<<20), float64(r.res.written)/(1<<20), r.res.puts)
	}
	base, clean := runs[0].res, runs[1].res
	fmt.Printf("\nKey cleaning ÷ object compaction, input rate: %.2f×. Consumer check: %d records after cleaning, one per key.\n",
		base.wall.Seconds()/clean.wall.Seconds(), got)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func backendNote(meta string) string {
	if strings.HasPrefix(meta, "postgres") {
		return ` -metastore "$STRATA_TEST_POSTGRES_URL" -objstore "$STRATA_TEST_S3_URL"`
	}
	return ""
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(cl *kgo.Client, agentLog *bytes.Buffer) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("agent not ready: %v\n%s", err, agentLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// produce writes versions rounds over all keys, acks=all.
func produce(cl *kgo.Client, topic string, keys, versions, valueSize int) {
	value := bytes.Repeat([]byte{'v'}, valueSize)
	errs := make(chan error, 1)
	for v := range versions {
		for k := range keys {
			r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%07d", k), Value: value}
			cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			})
		}
		_ = v
	}
	if err := cl.Flush(context.Background()); err != nil {
		log.Fatal(err)
	}
	select {
	case err := <-errs:
		log.Fatalf("produce: %v", err)
	default:
	}
}

type result struct {
	wall                time.Duration
	maxRSS              int64 // bytes
	read, written, puts int64
}

var (
	cleanedLine   = regexp.MustCompile(`msg=cleaned .*segments=(\d+) .*read_bytes=(\d+) written_bytes=(\d+)`)
	compactedLine = regexp.MustCompile(`msg=compacted .*input_bytes=(\d+) .*segment_bytes=(\d+)`)
)

// compactOnce runs `strata compactor --once` and sums its log's job lines.
func compactOnce(bin string, backends []string, dedupe string, showLog bool) result {
	cmd := exec.Command(bin, append([]string{"compactor", "--once", "--admin-listen", "off", "--compaction-max-lag", "1ns",
		"--compaction-dedupe-bytes", dedupe, "--compaction-max-requests-per-second", "-1"}, backends...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("compactor: %v\n%s", err, stderr.String())
	}
	res := result{wall: time.Since(start)}
	if showLog {
		os.Stderr.Write(stderr.Bytes())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := cleanedLine.FindStringSubmatch(line); m != nil {
			res.puts += atoi(m[1])
			res.read += atoi(m[2])
			res.written += atoi(m[3])
		} else if m := compactedLine.FindStringSubmatch(line); m != nil {
			res.puts++
			res.read += atoi(m[1])
			res.written += atoi(m[2])
		}
	}
	return res
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// consumeCount reads the topic from its start to end (exclusive end
// offset, -1 if unknown) and returns how many records it holds.
func consumeCount(addr, topic string, end int64) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	var n int64
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Offset == end-1 {
				done = true
			}
		})
		if done {
			return n
		}
	}
	log.Fatalf("%s: read %d records, never reached offset %d", topic, n, end-1)
	return n
}
