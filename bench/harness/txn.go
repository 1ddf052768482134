package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Scenario txn: transactions. The franz-go producer of scenario produce
// (acks=all, idempotent) with a transactional id, committing every
// txnRecords records; Kafka's ProducerPerformance with --transactional-id;
// and the end-to-end latency to a read_committed consumer at a fixed rate
// with a commit every 100 ms.

// txnRecords is how many records one transaction of the throughput run
// holds (1 MB at 1 KiB records).
const txnRecords = 1000

// txnThroughput produces n records in transactions of per records and
// returns the wall time and each commit's latency (EndTransaction after
// the transaction's records were flushed) in ms.
func txnThroughput(addr, topic string, n, recSize, per int, label string) (float64, []float64) {
	ctx := context.Background()
	cl := newClient(append(producerOpts(addr, topic, "all", 5*time.Millisecond), kgo.TransactionalID(topic+"-tx"))...)
	defer cl.Close()
	pool := make([]byte, 16<<20)
	rand.Read(pool)
	span := len(pool) - recSize
	var commits []float64
	var mu sync.Mutex
	var firstErr error
	prog := newProgress(label, float64(n)*float64(recSize)/(1<<20), "MiB")
	start := time.Now()
	for i := 0; i < n; {
		if err := cl.BeginTransaction(); err != nil {
			fatalf("%s: begin: %v", label, err)
		}
		for j := 0; j < per && i < n; j, i = j+1, i+1 {
			off := (i * 4099) % span
			cl.Produce(ctx, &kgo.Record{Value: pool[off : off+recSize : off+recSize]}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			fatalf("%s: flush: %v", label, err)
		}
		t0 := time.Now()
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			fatalf("%s: commit: %v", label, err)
		}
		commits = append(commits, float64(time.Since(t0).Microseconds())/1000)
		prog.set(float64(i) * float64(recSize) / (1 << 20))
	}
	el := time.Since(start).Seconds()
	prog.done()
	if firstErr != nil {
		fatalf("%s: produce: %v", label, firstErr)
	}
	slices.Sort(commits)
	return el, commits
}

// txnE2E produces m stamped records at rate records/s, committing every
// 100 ms, while a read_committed consumer reads them; it returns each
// record's produce→consume latency in ms.
func txnE2E(addr, topic string, m, recSize int, rate float64, timeout time.Duration, label string) []float64 {
	var lat []float64
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		consume(addr, topic, "", m, timeout, label+" read_committed consumer", ready, func(r *kgo.Record) {
			sent := int64(binary.BigEndian.Uint64(r.Value))
			lat = append(lat, float64(time.Now().UnixNano()-sent)/1e6)
		}, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}()
	<-ready
	ctx := context.Background()
	cl := newClient(append(producerOpts(addr, topic, "all", 0), kgo.TransactionalID(topic+"-e2e"))...)
	defer cl.Close()
	start := time.Now()
	lastCommit := start
	if err := cl.BeginTransaction(); err != nil {
		fatalf("%s: begin: %v", label, err)
	}
	for i := 0; i < m; i++ {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * 1e9))); d > 0 {
			time.Sleep(d)
		}
		val := make([]byte, recSize)
		binary.BigEndian.PutUint64(val, uint64(time.Now().UnixNano()))
		cl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				fatalf("%s: produce: %v", label, err)
			}
		})
		if time.Since(lastCommit) >= 100*time.Millisecond || i == m-1 {
			// EndTransaction commits what was acknowledged: flush first.
			if err := cl.Flush(ctx); err != nil {
				fatalf("%s: flush: %v", label, err)
			}
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				fatalf("%s: commit: %v", label, err)
			}
			lastCommit = time.Now()
			if i < m-1 {
				if err := cl.BeginTransaction(); err != nil {
					fatalf("%s: begin: %v", label, err)
				}
			}
		}
	}
	<-done
	slices.Sort(lat)
	return lat
}

// producerPerformanceTxn is Kafka's ProducerPerformance with a
// transactional id, a transaction every 100 ms (the tool's own pacing).
func producerPerformanceTxn(lib, addr, topic string, n, recSize int, label string) (ppResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logf("  %s: Kafka ProducerPerformance --transactional-id, %d records", label, n)
	cmd := exec.CommandContext(ctx, "java", "-Xmx512m", "-Dlog4j.configuration=file:/dev/null", "-cp", lib+"/*",
		"org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", strconv.Itoa(n),
		"--record-size", strconv.Itoa(recSize), "--throughput", "-1",
		"--transactional-id", topic+"-pp", "--transaction-duration-ms", "100", "--producer-props",
		"bootstrap.servers="+addr, "acks=all", "linger.ms=5", "batch.size=1048576", "buffer.memory=67108864")
	out, err := cmd.CombinedOutput()
	mm := ppLine.FindAllSubmatch(out, -1)
	if err != nil || len(mm) == 0 {
		return ppResult{}, fmt.Errorf("ProducerPerformance: %v: %s", err, tailBytes(out, 600))
	}
	last := mm[len(mm)-1]
	f := func(i int) float64 { v, _ := strconv.ParseFloat(string(last[i]), 64); return v }
	return ppResult{RecordsPerSec: f(2), MBs: f(3) * (1 << 20) / 1e6, AvgMs: f(4), P50Ms: f(6), P99Ms: f(8)}, nil
}
