package tiering

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/mem"
	"github.com/stratalog/strata/tiering/objstore/open"
	"github.com/stratalog/strata/tiering/objstore/s3/s3test"
	"github.com/stratalog/strata/tiering/segment"
)

// BenchmarkSequentialRead reads compacted segments (64 MiB objects of
// 1 MiB chunks) from the first chunk to the last through Read and
// ReadAhead, as a cold catch-up does, with the default ReaderConfig over
// a fresh 1 GiB disk cache each pass, two ways in the same run:
// "cache-every-block" writes every fetched block to the disk cache and
// evicts hot blocks in LRU order, read-ahead displacing any of them (the
// old way), "spill-unread" keeps blocks in memory, evicts those read to
// the end first, lets read-ahead displace only those, and writes to disk
// only blocks that leave memory before they were read to the end. One
// reader, then six at once (a consumer catching up on 6 partitions,
// each reader its own segments). It
// reports MB/s, this process's CPU per MB (getrusage: the GETs, the
// cache's writes, the reads) and the bytes written to the disk cache per
// MB read.
//
// The store is in memory unless STRATA_TEST_S3_URL names a bucket
// (MinIO); STRATA_BENCH_MB sets the data size (default 512):
//
//	. /tmp/minio.env; go test -run '^$' -bench SequentialRead -benchtime 3x ./tiering/
func BenchmarkSequentialRead(b *testing.B) {
	ctx := context.Background()
	var store objstore.Store = mem.New()
	if os.Getenv(s3test.EnvURL) != "" {
		s, err := open.ObjectStore(ctx, s3test.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		store = s
	}
	mb := 512
	if v := os.Getenv("STRATA_BENCH_MB"); v != "" {
		var err error
		if mb, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	const chunkBytes, segChunks = 1 << 20, 64
	chunk := make([]byte, chunkBytes)
	rand.Read(chunk)
	var spans []Span
	var off int64
	for seg := 0; off < int64(mb); seg++ {
		sb := segment.NewBuilderSize(segChunks*chunkBytes, segChunks)
		for i := 0; i < segChunks && off < int64(mb); i++ {
			sb.Add(segment.ChunkMeta{TopicID: testTopic, Partition: 3, FirstOffset: off, LastOffset: off, Batches: 1}, chunk)
			off++
		}
		obj, _ := sb.Finish()
		key := fmt.Sprintf("bench/seq/%04d", seg)
		if err := store.Put(ctx, key, obj); err != nil {
			b.Fatal(err)
		}
		spans = append(spans, Span{Key: key, Size: int64(len(obj)), Segment: true, TopicID: testTopic, Partition: 3})
	}
	for _, mode := range []struct {
		name       string
		readers    int
		everyBlock bool
	}{
		{"readers=1/cache-every-block", 1, true},
		{"readers=1/spill-unread", 1, false},
		{"readers=6/cache-every-block", 6, true},
		{"readers=6/spill-unread", 6, false},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var elapsed, cpu time.Duration
			var written int64
			for b.Loop() {
				d, c, w := seqReadPass(b, store, spans, mode.readers, mode.everyBlock)
				elapsed += d
				cpu += c
				written += w
			}
			read := float64(off) * chunkBytes * float64(b.N) / 1e6
			b.ReportMetric(read/elapsed.Seconds(), "MB/s")
			b.ReportMetric(float64(cpu.Milliseconds())/read, "cpu-ms/MB")
			b.ReportMetric(float64(written)/1e6/read, "cached-MB/MB")
		})
	}
}

// seqReadPass reads every span's chunks in order and returns the time,
// this process's CPU and the bytes written to the cache.
func seqReadPass(b *testing.B, store objstore.Store, spans []Span, readers int, everyBlock bool) (time.Duration, time.Duration, int64) {
	dir := b.TempDir()
	cache, err := NewCache(filepath.Join(dir, "cache"), 1<<30, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ReaderConfig{}
	cfg.EnsureDefaults()
	r := newReader(store, cache, cfg)
	r.cacheEveryBlock = everyBlock
	defer r.Close()
	ctx := context.Background()
	cpu0, w0 := processCPU(), writtenBytes()
	start := time.Now()
	// Reader k reads segments k, k+readers, ...: one partition each, as
	// a consumer of several partitions catches up on all at once.
	var wg sync.WaitGroup
	for k := range readers {
		var mine []Span
		for i := k; i < len(spans); i += readers {
			mine = append(mine, spans[i])
		}
		wg.Go(func() {
			for i, s := range mine {
				chunks, err := r.Chunks(ctx, s)
				if err != nil {
					b.Error(err)
					return
				}
				for offset := chunks[0].FirstOffset; offset <= chunks[len(chunks)-1].LastOffset; {
					data, err := r.Read(ctx, s, offset, 1<<20)
					if err != nil || len(data) == 0 {
						b.Errorf("read at %d: %d bytes, %v", offset, len(data), err)
						return
					}
					offset += int64(len(data)) >> 20 // one offset a chunk
					r.ReadAhead(s, offset, mine[i+1:], true)
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	r.Close() // waits for writes to the cache
	return d, processCPU() - cpu0, writtenBytes() - w0
}

// writtenBytes is what this process passed to write system calls
// (wchar in /proc/self/io): here, nearly all of it the disk cache's
// files (the HTTP requests of GETs are a few hundred bytes each).
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// processCPU is the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
