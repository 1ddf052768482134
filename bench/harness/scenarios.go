package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const gib = float64(1 << 30)

// The same franz-go producer settings on every target.
func producerOpts(addr, topic string, acks string, linger time.Duration) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(linger), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(100000),
		kgo.ProducerBatchCompression(kgo.NoCompression())}
	if acks == "all" {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	return opts
}

func newClient(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fatalf("client: %v", err)
	}
	return cl
}

var topicSeq atomic.Int64

func createTopic(addr string, partitions int32) string {
	return createTopicWith(addr, partitions, nil)
}

// createTopicWith creates a topic with the given topic configs (e.g.
// retention.ms).
func createTopicWith(addr string, partitions int32, configs map[string]*string) string {
	topic := fmt.Sprintf("bench-%d-%d", time.Now().Unix(), topicSeq.Add(1))
	cl := newClient(kgo.SeedBrokers(addr))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		fatalf("create topic %s on %s: %v", topic, addr, err)
	}
	return topic
}

// produceRun produces n records of recSize bytes. rate > 0 paces it at
// rate records/s; lat (if non-nil) receives each record's produce latency
// in ms; stamp writes the send time into the first 8 bytes of each value.
type produceRun struct {
	addr, topic, acks string
	n, recSize        int
	rate              float64
	linger            time.Duration
	stamp             bool
	label             string
}

type produceResult struct {
	seconds float64
	latMs   []float64
}

func (r produceRun) run() produceResult {
	ctx := context.Background()
	cl := newClient(producerOpts(r.addr, r.topic, r.acks, r.linger)...)
	defer cl.Close()
	// Incompressible and distinct values: record i is a slice of a random
	// pool at a stride larger than a record.
	pool := make([]byte, 16<<20)
	rand.Read(pool)
	span := len(pool) - r.recSize
	var failed atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	var lat []float64
	if r.rate > 0 {
		lat = make([]float64, 0, r.n)
	}
	prog := newProgress(r.label, float64(r.n)*float64(r.recSize)/(1<<20), "MiB")
	start := time.Now()
	for i := 0; i < r.n; i++ {
		if r.rate > 0 {
			// Pace: record i goes out at start + i/rate.
			if d := time.Until(start.Add(time.Duration(float64(i) / r.rate * 1e9))); d > 0 {
				time.Sleep(d)
			}
		}
		off := (i * 4099) % span
		val := pool[off : off+r.recSize : off+r.recSize]
		if r.stamp {
			val = make([]byte, r.recSize)
			copy(val, pool[off:])
			binary.BigEndian.PutUint64(val, uint64(time.Now().UnixNano()))
		}
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				if failed.Add(1) == 1 {
					firstErr.Store(err)
				}
				return
			}
			if r.rate > 0 {
				ms := float64(time.Since(sent).Microseconds()) / 1000
				mu.Lock()
				lat = append(lat, ms)
				mu.Unlock()
			}
		})
		if i%4096 == 0 {
			prog.set(float64(i) * float64(r.recSize) / (1 << 20))
		}
	}
	if err := cl.Flush(ctx); err != nil {
		fatalf("flush: %v", err)
	}
	el := time.Since(start).Seconds()
	prog.done()
	if f := failed.Load(); f > 0 {
		fatalf("%s: %d records failed, first: %v", r.label, f, firstErr.Load())
	}
	return produceResult{seconds: el, latMs: lat}
}

// consume reads n records of topic from the start, with a group (group
// != "") or without, calling onRecord for each, at most timeout. ready is
// closed once the consumer has its partitions (group) or right away.
func consume(addr, topic, group string, n int, timeout time.Duration, label string, ready chan struct{}, onRecord func(*kgo.Record), extra ...kgo.Opt) (got int, first, last time.Time) {
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500 * time.Millisecond)}
	opts = append(opts, extra...)
	var once sync.Once
	signal := func() { once.Do(func() { close(ready) }) }
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit(),
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { signal() }))
	}
	cl := newClient(opts...)
	defer cl.Close()
	if group == "" {
		signal()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	prog := newProgress(label, float64(n), "records")
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			logf("  %s: timed out after %s with %d/%d records", label, timeout, got, n)
			break
		}
		fs.EachError(func(t string, p int32, err error) { logf("  %s: fetch %s/%d: %v", label, t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if got == 0 {
				first = time.Now()
			}
			got++
			if onRecord != nil {
				onRecord(r)
			}
		})
		last = time.Now()
		prog.set(float64(got))
	}
	prog.done()
	return got, first, last
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// --- Kafka's own ProducerPerformance, the cross-check of scenario 1 ---------

var ppLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th`)

type ppResult struct {
	RecordsPerSec, MBs, AvgMs, P50Ms, P99Ms float64
}

// ppJavaDefaults is the cross-check run's acks column when the producer
// keeps every Java client default (acks=all with idempotence, 16 KiB
// batches, 5 requests in flight): what an untouched application gets.
const ppJavaDefaults = "all, Java defaults"

func producerPerformance(lib, addr, topic, acks string, n, recSize int, label string) (ppResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logf("  %s: Kafka ProducerPerformance, %d records", label, n)
	props := []string{"bootstrap.servers=" + addr}
	if acks != ppJavaDefaults {
		props = append(props, "acks="+acks, "linger.ms=5", "batch.size=1048576", "buffer.memory=67108864")
	}
	args := append([]string{"-Xmx512m", "-Dlog4j.configuration=file:/dev/null", "-cp", lib + "/*",
		"org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", strconv.Itoa(n),
		"--record-size", strconv.Itoa(recSize), "--throughput", "-1", "--producer-props"}, props...)
	cmd := exec.CommandContext(ctx, "java", args...)
	out, err := cmd.CombinedOutput()
	m := ppLine.FindAllSubmatch(out, -1)
	if err != nil || len(m) == 0 {
		return ppResult{}, fmt.Errorf("ProducerPerformance: %v: %s", err, tailBytes(out, 600))
	}
	last := m[len(m)-1]
	f := func(i int) float64 { v, _ := strconv.ParseFloat(string(last[i]), 64); return v }
	// MB/sec in the tool is MiB/s; report MB/s like the rest.
	return ppResult{RecordsPerSec: f(2), MBs: f(3) * (1 << 20) / 1e6, AvgMs: f(4), P50Ms: f(6), P99Ms: f(8)}, nil
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

var _ = slices.Sort[[]float64]
