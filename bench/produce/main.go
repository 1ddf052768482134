// Command produce measures Strata's produce throughput on this machine: an
// in-process agent on embedded defaults (SQLite metastore, local-directory
// object store) driven by franz-go over loopback, 1 KiB records, at acks=1
// and acks=all. In the same run it measures two baselines the agent cannot
// beat — fsync'd sequential writes to the same disk (the write-ahead
// buffer's limit) and raw object-store PUTs of flush-sized objects — and
// prints every figure with its ratio to them, plus object PUTs per GiB.
//
//	go run ./bench/produce -mb 512 -partitions 6
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/tiering/objstore/fs"
)

func main() {
	mb := flag.Int("mb", 512, "MiB of record values to produce per acks mode")
	parts := flag.Int("partitions", 6, "partitions of the benchmark topic")
	recSize := flag.Int("record-bytes", 1024, "value size of each record")
	dir := flag.String("dir", "", "data directory (default: a temp dir, removed afterwards)")
	flag.Parse()

	root := *dir
	if root == "" {
		d, err := os.MkdirTemp("", "strata-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		root = d
	}
	fmt.Printf("# strata produce benchmark: %d MiB per mode, %d B records, %d partitions\n", *mb, *recSize, *parts)
	fmt.Printf("# command: go run ./bench/produce -mb %d -partitions %d -record-bytes %d\n\n", *mb, *parts, *recSize)

	diskMBs := fsyncBaseline(filepath.Join(root, "fsync-baseline"), 256<<20, 1<<20)
	putMBs := putBaseline(filepath.Join(root, "put-baseline"), 256<<20, 8<<20)
	fmt.Printf("baseline  fsync'd sequential write (1 MiB writes): %8.1f MB/s\n", diskMBs)
	fmt.Printf("baseline  object store PUT (8 MiB objects, fs):    %8.1f MB/s\n\n", putMBs)

	fmt.Printf("%-9s %10s %12s %12s %14s %14s\n", "acks", "MB/s", "records/s", "PUTs/GiB", "vs fsync", "vs PUT")
	for _, acks := range []struct {
		name string
		acks kgo.Acks
	}{{"1", kgo.LeaderAck()}, {"all", kgo.AllISRAcks()}} {
		r := runProduce(filepath.Join(root, "agent-acks-"+acks.name), acks.acks, *mb<<20, *recSize, int32(*parts))
		fmt.Printf("%-9s %10.1f %12.0f %12.1f %13.2fx %13.2fx\n", acks.name, r.mbs, r.recs, r.putsPerGiB, r.mbs/diskMBs, r.mbs/putMBs)
	}
}

type result struct {
	mbs, recs, putsPerGiB float64
}

func runProduce(dataDir string, acks kgo.Acks, totalBytes, recSize int, partitions int32) result {
	ctx := context.Background()
	a, err := agent.New(ctx, agent.Config{
		DataDir:     dataDir,
		Listen:      "127.0.0.1:0",
		AdminListen: "off",
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, agent.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	go a.Serve()
	defer a.Close()

	opts := []kgo.Opt{kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic("bench"), kgo.RequiredAcks(acks),
		kgo.ProducerLinger(5 * time.Millisecond), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(100000)}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, "bench"); err != nil {
		log.Fatal(err)
	}
	val := make([]byte, recSize)
	rand.Read(val)
	n := totalBytes / recSize
	putsBefore := a.ObjectMetrics().Count("put")
	var failed atomic.Int64
	start := time.Now()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	el := time.Since(start).Seconds()
	if f := failed.Load(); f > 0 {
		log.Fatalf("%d records failed", f)
	}
	puts := a.ObjectMetrics().Count("put") - putsBefore
	return result{
		mbs:        float64(totalBytes) / el / 1e6,
		recs:       float64(n) / el,
		putsPerGiB: float64(puts) / (float64(totalBytes) / (1 << 30)),
	}
}

// fsyncBaseline writes total bytes in chunk-sized writes, each followed by
// fsync, and returns MB/s.
func fsyncBaseline(path string, total, chunk int) float64 {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, chunk)
	rand.Read(buf)
	start := time.Now()
	for w := 0; w < total; w += chunk {
		if _, err := f.Write(buf); err != nil {
			log.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			log.Fatal(err)
		}
	}
	return float64(total) / time.Since(start).Seconds() / 1e6
}

// putBaseline PUTs total bytes as objects of size bytes to a local
// directory store and returns MB/s.
func putBaseline(dir string, total, size int) float64 {
	s, err := fs.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	buf := make([]byte, size)
	rand.Read(buf)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i*size < total; i++ {
		if err := s.Put(ctx, fmt.Sprintf("p/%06d", i), buf); err != nil {
			log.Fatal(err)
		}
	}
	return float64(total) / time.Since(start).Seconds() / 1e6
}
