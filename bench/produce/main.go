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
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/fs"
)

func main() {
	mb := flag.Int("mb", 512, "MiB of record values to produce per acks mode")
	parts := flag.Int("partitions", 6, "partitions of the benchmark topic")
	recSize := flag.Int("record-bytes", 1024, "value size of each record")
	dir := flag.String("dir", "", "data directory (default: a temp dir, removed afterwards)")
	metaURL := flag.String("metastore", "", "also run on this metastore (e.g. postgres://...); needs -objstore")
	objURL := flag.String("objstore", "", "also run on this object store (e.g. s3://bucket/prefix?endpoint=...)")
	flag.Parse()
	if (*metaURL == "") != (*objURL == "") {
		log.Fatal("-metastore and -objstore go together")
	}

	root := *dir
	if root == "" {
		d, err := os.MkdirTemp("", "strata-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		root = d
	}
	fmt.Printf("# strata produce benchmark: %d MiB per mode, %d B records, %d partitions, franz-go over loopback\n", *mb, *recSize, *parts)
	cmdline := fmt.Sprintf("go run ./bench/produce -mb %d -partitions %d -record-bytes %d", *mb, *parts, *recSize)
	if *metaURL != "" {
		cmdline += " -metastore $STRATA_TEST_POSTGRES_URL -objstore $STRATA_TEST_S3_URL"
	}
	fmt.Printf("# command: %s\n\n", cmdline)

	ctx := context.Background()
	diskMBs := fsyncBaseline(filepath.Join(root, "fsync-baseline"), 256<<20, 1<<20)
	fmt.Printf("baseline  fsync'd sequential writes, 1 MiB each:       %8.1f MB/s\n", diskMBs)
	fsStore, err := fs.Open(filepath.Join(root, "put-baseline"))
	if err != nil {
		log.Fatal(err)
	}
	setups := []setup{{name: "embedded", putMBs: putBaseline(ctx, fsStore, "baseline/", 256<<20, 8<<20)}}
	fmt.Printf("baseline  PUT 8 MiB objects, local directory:          %8.1f MB/s\n", setups[0].putMBs)
	if *metaURL != "" {
		remote, err := agent.OpenObjectStore(ctx, *objURL)
		if err != nil {
			log.Fatal(err)
		}
		s := setup{name: "postgres+s3", meta: *metaURL, obj: *objURL, putMBs: putBaseline(ctx, remote, fmt.Sprintf("baseline-%d/", time.Now().UnixNano()), 256<<20, 8<<20)}
		fmt.Printf("baseline  PUT 8 MiB objects, %s: %8.1f MB/s\n", "S3 (one stream)        ", s.putMBs)
		setups = append(setups, s)
	}
	fmt.Println()
	fmt.Printf("%-12s %-5s %9s %11s %10s %10s %10s\n", "backends", "acks", "MB/s", "records/s", "PUTs/GiB", "vs fsync", "vs PUT")
	for _, su := range setups {
		for _, acks := range []struct {
			name string
			acks kgo.Acks
		}{{"1", kgo.LeaderAck()}, {"all", kgo.AllISRAcks()}} {
			r := runProduce(filepath.Join(root, su.name+"-acks-"+acks.name), su, acks.acks, *mb<<20, *recSize, int32(*parts))
			fmt.Printf("%-12s %-5s %9.1f %11.0f %10.1f %9.2fx %9.2fx\n", su.name, acks.name, r.mbs, r.recs, r.putsPerGiB, r.mbs/diskMBs, r.mbs/su.putMBs)
		}
	}
	fmt.Println("\nDurability: acks=1 = fsynced to the local write-ahead buffer; acks=all = in the object store and committed in the metastore.")
}

// setup is one set of backends to run on.
type setup struct {
	name      string
	meta, obj string // "" = embedded defaults
	putMBs    float64
}

type result struct {
	mbs, recs, putsPerGiB float64
}

func runProduce(dataDir string, su setup, acks kgo.Acks, totalBytes, recSize int, partitions int32) result {
	ctx := context.Background()
	a, err := agent.New(ctx, agent.Config{
		DataDir:      dataDir,
		Listen:       "127.0.0.1:0",
		AdminListen:  "off",
		MetastoreURL: su.meta,
		ObjstoreURL:  su.obj,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, agent.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	go a.Serve()
	defer a.Close()

	// A topic of its own: a shared metastore keeps earlier runs' topics.
	topic := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	opts := []kgo.Opt{kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks),
		kgo.ProducerLinger(5 * time.Millisecond), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(100000)}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
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

// putBaseline PUTs total bytes as objects of size bytes, one at a time,
// and returns MB/s.
func putBaseline(ctx context.Context, s objstore.Store, prefix string, total, size int) float64 {
	buf := make([]byte, size)
	rand.Read(buf)
	start := time.Now()
	for i := 0; i*size < total; i++ {
		if err := s.Put(ctx, fmt.Sprintf("%s%06d", prefix, i), buf); err != nil {
			log.Fatal(err)
		}
	}
	mbs := float64(total) / time.Since(start).Seconds() / 1e6
	for i := 0; i*size < total; i++ {
		s.Delete(ctx, fmt.Sprintf("%s%06d", prefix, i))
	}
	return mbs
}
