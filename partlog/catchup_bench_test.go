package partlog

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/mem"
	"github.com/stratalog/strata/tiering/objstore/open"
	"github.com/stratalog/strata/tiering/objstore/s3/s3test"
	"github.com/stratalog/strata/tiering/segment"
)

// BenchmarkCatchUp measures a cold sequential catch-up read of compacted
// segments (64 MiB objects of ~1 MiB chunks of 64 KiB batches) through
// Partition.Read in 1 MiB fetches, as a consumer does, against the raw
// limit of the store measured in the same run: 8 MiB range GETs, 4
// streams. Each iteration reads everything once with a fresh disk cache and
// Reader, and reports MB/s, GETs/GiB and the ratio to raw (x-raw).
//
// The store is in memory unless STRATA_TEST_S3_URL names a bucket (MinIO);
// STRATA_BENCH_MB sets the data size (default 256). For example:
//
//	. /tmp/minio.env; STRATA_BENCH_MB=512 go test -run '^$' -bench CatchUp -benchtime 3x ./partlog/
func BenchmarkCatchUp(b *testing.B) {
	env := catchUpData(b)
	for _, tc := range []struct {
		name string
		cfg  tiering.ReaderConfig
	}{
		{"defaults", tiering.ReaderConfig{}}, // 16 MiB blocks, 4 ahead, 128 MiB
		{"block=8MiB,budget=64MiB", tiering.ReaderConfig{BlockBytes: 8 << 20, ReadAheadBytes: 64 << 20}},
		{"block=12MiB,budget=96MiB", tiering.ReaderConfig{BlockBytes: 12 << 20, ReadAheadBytes: 96 << 20}},
		{"block=16MiB,budget=64MiB", tiering.ReaderConfig{BlockBytes: 16 << 20, ReadAheadBytes: 64 << 20}},
		{"ahead=off", tiering.ReaderConfig{ReadAhead: -1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var raw, read time.Duration
			var gets int64
			for b.Loop() {
				raw += env.rawPass(b)
				d, n := env.readPass(b, tc.cfg)
				read += d
				gets += n
			}
			mb := float64(env.bytes) / 1e6 * float64(b.N)
			b.ReportMetric(mb/raw.Seconds(), "raw-MB/s")
			b.ReportMetric(mb/read.Seconds(), "MB/s")
			b.ReportMetric(raw.Seconds()/read.Seconds(), "x-raw")
			b.ReportMetric(float64(gets)/(float64(env.bytes)*float64(b.N)/(1<<30)), "GETs/GiB")
		})
	}
}

// catchUp is the benchmark's data: segment objects in a store and the
// index rows naming them.
type catchUp struct {
	store objstore.Store
	meta  *fakeMeta
	rows  []metastore.IndexRow
	bytes int64 // of batches
}

var (
	catchUpOnce sync.Once
	catchUpEnv  *catchUp
)

func catchUpData(b *testing.B) *catchUp {
	catchUpOnce.Do(func() {
		store, where := catchUpStore(b)
		env := buildCatchUp(b, store, newFakeMeta("catchup"), "seg/", int64(catchUpMB(b, 256))<<20)
		b.Logf("catch-up data: %d MiB in %d segment objects in %s", env.bytes>>20, len(env.rows), where)
		catchUpEnv = env
	})
	if catchUpEnv == nil {
		b.Fatal("no benchmark data")
	}
	return catchUpEnv
}

// catchUpStore is the benchmarks' store: MinIO if STRATA_TEST_S3_URL
// names a bucket, else memory.
func catchUpStore(b *testing.B) (objstore.Store, string) {
	if os.Getenv(s3test.EnvURL) == "" {
		return mem.New(), "memory"
	}
	s, err := open.ObjectStore(context.Background(), s3test.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	return s, "S3 " + os.Getenv(s3test.EnvURL)
}

// catchUpMB is STRATA_BENCH_MB, or def.
func catchUpMB(b *testing.B, def int) int {
	v := os.Getenv("STRATA_BENCH_MB")
	if v == "" {
		return def
	}
	mb, err := strconv.Atoi(v)
	if err != nil {
		b.Fatal(err)
	}
	return mb
}

// buildCatchUp writes size bytes of batches for meta's partition as
// segment objects under prefix and indexes them in meta.
func buildCatchUp(b *testing.B, store objstore.Store, meta *fakeMeta, prefix string, size int64) *catchUp {
	ctx := context.Background()
	env := &catchUp{store: store, meta: meta}
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	const chunkBytes, segBytes = 1 << 20, 64 << 20
	var off int64
	ts := time.Now().UnixMilli()
	for seg := 0; env.bytes < size; seg++ {
		sb := segment.NewBuilder()
		first := off
		for n := 0; n < segBytes && env.bytes < size; n += chunkBytes {
			cm := segment.ChunkMeta{TopicID: meta.topic.ID, FirstOffset: off, MinTimestamp: ts, MaxTimestamp: ts}
			var chunk []byte
			for len(chunk) < chunkBytes {
				var recs []record.Record
				for j := range 16 {
					p := (int(off) * 4096) % (len(payload) - 4096)
					recs = append(recs, record.Record{OffsetDelta: int32(j), Value: payload[p : p+4096-80]})
					off++
				}
				batch, err := record.Build(record.Header{BaseOffset: off - 16, FirstTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, record.CodecNone)
				if err != nil {
					b.Fatal(err)
				}
				chunk = append(chunk, batch...)
				cm.Batches++
			}
			cm.LastOffset = off - 1
			sb.Add(cm, chunk)
			env.bytes += int64(len(chunk))
		}
		obj, _ := sb.Finish()
		key := fmt.Sprintf("%s%04d", prefix, seg)
		if err := store.Put(ctx, key, obj); err != nil {
			b.Fatal(err)
		}
		env.rows = append(env.rows, metastore.IndexRow{TopicID: meta.topic.ID, BaseOffset: first, LastOffset: off - 1,
			ObjectKey: key, Size: int64(len(obj)), MinTimestamp: ts, MaxTimestamp: ts, Kind: metastore.RowSegment})
	}
	meta.setRows(env.rows)
	return env
}

// rawPass reads every object's body with 8 MiB range GETs, 4 at a time.
func (e *catchUp) rawPass(b *testing.B) time.Duration {
	type rng struct {
		key    string
		off, n int64
	}
	var ranges []rng
	for _, r := range e.rows {
		body := r.Size - 64<<10 // about: the footer is at the end
		for off := int64(0); off < body; off += 8 << 20 {
			ranges = append(ranges, rng{r.ObjectKey, off, min(8<<20, body-off)})
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ranges) {
					return
				}
				if _, err := e.store.GetRange(context.Background(), ranges[i].key, ranges[i].off, ranges[i].n); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// countingStore counts GetRange calls and the time they spend, so the
// mean number in flight is busy/elapsed.
type countingStore struct {
	objstore.Store
	gets atomic.Int64
	busy atomic.Int64 // ns
}

func (s *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.gets.Add(1)
	start := time.Now()
	defer func() { s.busy.Add(int64(time.Since(start))) }()
	return s.Store.GetRange(ctx, key, off, n)
}

// freshReader is a Reader of store, counting its GETs, over a fresh 1 GiB
// disk cache; done closes it and removes the cache.
func freshReader(b *testing.B, store objstore.Store, cfg tiering.ReaderConfig) (reader *tiering.Reader, cs *countingStore, done func()) {
	dir, err := os.MkdirTemp("", "strata-catchup-")
	if err != nil {
		b.Fatal(err)
	}
	cache, err := tiering.NewCache(filepath.Join(dir, "cache"), 1<<30, nil)
	if err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	cs = &countingStore{Store: store}
	if reader, err = tiering.NewReaderConfig(cs, cache, cfg); err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	return reader, cs, func() { reader.Close(); os.RemoveAll(dir) }
}

// readPass reads the partition from 0 to its end in 1 MiB reads through a
// fresh Reader and 1 GiB disk cache, and returns the time and GETs taken.
func (e *catchUp) readPass(b *testing.B, cfg tiering.ReaderConfig) (time.Duration, int64) {
	reader, cs, done := freshReader(b, e.store, cfg)
	defer done()
	reg := NewRegistry(Config{}, Deps{AgentID: "a", Meta: e.meta, Reader: reader})
	top, err := reg.AddTopic(context.Background(), e.meta.topic)
	if err != nil {
		b.Fatal(err)
	}
	p := top.Partition(0)
	hwm := p.HighWatermark()
	start := time.Now()
	var n int64
	for offset := int64(0); offset < hwm; {
		data, err := p.Read(context.Background(), offset, 1<<20, hwm)
		if err != nil || len(data) == 0 {
			b.Fatalf("read at %d: %d bytes, %v", offset, len(data), err)
		}
		n += int64(len(data))
		offset = lastOffset(b, data) + 1
	}
	d := time.Since(start)
	if os.Getenv("STRATA_BENCH_VERBOSE") != "" {
		b.Logf("%d GETs, %.2f in flight on average", cs.gets.Load(), float64(cs.busy.Load())/float64(d))
	}
	if n != e.bytes {
		b.Fatalf("read %d bytes, want %d", n, e.bytes)
	}
	return d, cs.gets.Load()
}

// BenchmarkCatchUpFetch measures a cold catch-up of several partitions at
// once as the Fetch handler reads them: each fetch reads 1 MiB from every
// partition in turn (a consumer's default partition limit), one fetch
// after the other, all partitions sharing one Reader (the agent's). The
// data is STRATA_BENCH_MB (default 768) split over 6 partitions, each its
// own 64 MiB segments of ~1 MiB chunks. Besides MB/s, x-raw and GETs/GiB
// it reports stall-ms/fetch: the mean time per fetch spent in reads that
// waited for a GET (those taking over a millisecond).
//
//	. /tmp/minio.env; go test -run '^$' -bench CatchUpFetch -benchtime 3x ./partlog/
func BenchmarkCatchUpFetch(b *testing.B) {
	envs := catchUpParts(b, 6)
	for _, tc := range []struct {
		name string
		cfg  tiering.ReaderConfig
	}{
		{"defaults", tiering.ReaderConfig{}},
		{"budget=256MiB", tiering.ReaderConfig{ReadAheadBytes: 256 << 20}},
		{"budget=512MiB", tiering.ReaderConfig{ReadAheadBytes: 512 << 20}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var raw, read, stalled time.Duration
			var gets, fetches int64
			for b.Loop() {
				raw += envs[0].rawPassAll(b, envs)
				d, st, n, f := fetchPass(b, envs, tc.cfg)
				read += d
				stalled += st
				gets += n
				fetches += f
			}
			var size int64
			for _, e := range envs {
				size += e.bytes
			}
			mb := float64(size) / 1e6 * float64(b.N)
			b.ReportMetric(mb/raw.Seconds(), "raw-MB/s")
			b.ReportMetric(mb/read.Seconds(), "MB/s")
			b.ReportMetric(raw.Seconds()/read.Seconds(), "x-raw")
			b.ReportMetric(float64(gets)/(float64(size)*float64(b.N)/(1<<30)), "GETs/GiB")
			b.ReportMetric(float64(stalled.Milliseconds())/float64(fetches), "stall-ms/fetch")
		})
	}
}

var (
	catchUpPartsOnce sync.Once
	catchUpPartsEnv  []*catchUp
)

// catchUpParts is the data of BenchmarkCatchUpFetch: n partitions, each
// its own topic (fakeMeta holds one partition) in the same store.
func catchUpParts(b *testing.B, n int) []*catchUp {
	catchUpPartsOnce.Do(func() {
		store, where := catchUpStore(b)
		if os.Getenv(s3test.EnvURL) == "" {
			store = &linkStore{Store: store, latency: time.Millisecond, bytesPerSec: 2000e6}
			where = "memory behind a modelled link (1 ms a GET, 2,000 MB/s shared, as MinIO 8 MiB x 4 on this machine)"
		}
		size := int64(catchUpMB(b, 768)) << 20 / int64(n)
		var envs []*catchUp
		for i := range n {
			// fakeMeta's topic ID comes from its name's length.
			name := "fetch" + string(make([]byte, i))
			envs = append(envs, buildCatchUp(b, store, newFakeMeta(name), fmt.Sprintf("fetch/%d/", i), size))
		}
		b.Logf("catch-up data: %d partitions of %d MiB in %s", n, size>>20, where)
		catchUpPartsEnv = envs
	})
	if catchUpPartsEnv == nil {
		b.Fatal("no benchmark data")
	}
	return catchUpPartsEnv
}

// linkStore delays each GetRange as a bucket reached over one shared
// link would: latency, then its bytes at bytesPerSec, queued behind the
// bytes of the GETs before it. Sleeping costs no CPU, so the benchmark's
// figures from it do not move with the machine's load.
type linkStore struct {
	objstore.Store
	latency     time.Duration
	bytesPerSec float64

	mu   sync.Mutex
	free time.Time // when the link has sent everything asked so far
}

func (s *linkStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	data, err := s.Store.GetRange(ctx, key, off, n)
	s.mu.Lock()
	start := time.Now().Add(s.latency)
	if s.free.After(start) {
		start = s.free
	}
	s.free = start.Add(time.Duration(float64(n) / s.bytesPerSec * float64(time.Second)))
	done := s.free
	s.mu.Unlock()
	time.Sleep(time.Until(done))
	return data, err
}

// rawPassAll is rawPass over the objects of every partition.
func (e *catchUp) rawPassAll(b *testing.B, envs []*catchUp) time.Duration {
	all := &catchUp{store: e.store}
	for _, x := range envs {
		all.rows = append(all.rows, x.rows...)
	}
	return all.rawPass(b)
}

// fetchPass reads every partition from 0 to its end in fetches of 1 MiB
// per partition through one fresh Reader and 1 GiB disk cache, and
// returns the time, the time in reads that waited, the GETs and the
// fetches taken.
func fetchPass(b *testing.B, envs []*catchUp, cfg tiering.ReaderConfig) (time.Duration, time.Duration, int64, int64) {
	reader, cs, done := freshReader(b, envs[0].store, cfg)
	defer done()
	ctx := context.Background()
	parts := make([]*Partition, len(envs))
	offsets := make([]int64, len(envs))
	for i, e := range envs {
		reg := NewRegistry(Config{}, Deps{AgentID: "a", Meta: e.meta, Reader: reader})
		top, err := reg.AddTopic(ctx, e.meta.topic)
		if err != nil {
			b.Fatal(err)
		}
		parts[i] = top.Partition(0)
	}
	var stalled time.Duration
	var fetches int64
	start := time.Now()
	for more := true; more; fetches++ {
		more = false
		for i, p := range parts {
			hwm := p.HighWatermark()
			if offsets[i] >= hwm {
				continue
			}
			t0 := time.Now()
			data, err := p.Read(ctx, offsets[i], 1<<20, hwm)
			if d := time.Since(t0); d > time.Millisecond {
				stalled += d
			}
			if err != nil || len(data) == 0 {
				b.Fatalf("partition %d: read at %d: %d bytes, %v", i, offsets[i], len(data), err)
			}
			offsets[i] = lastOffset(b, data) + 1
			more = more || offsets[i] < hwm
		}
	}
	return time.Since(start), stalled, cs.gets.Load(), fetches
}
