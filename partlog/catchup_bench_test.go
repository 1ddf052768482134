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
		ctx := context.Background()
		var store objstore.Store = mem.New()
		where := "memory"
		if os.Getenv(s3test.EnvURL) != "" {
			u := s3test.URL(b)
			s, err := open.ObjectStore(ctx, u)
			if err != nil {
				b.Fatal(err)
			}
			store, where = s, "S3 "+os.Getenv(s3test.EnvURL)
		}
		mb := 256
		if v := os.Getenv("STRATA_BENCH_MB"); v != "" {
			var err error
			if mb, err = strconv.Atoi(v); err != nil {
				b.Fatal(err)
			}
		}
		env := &catchUp{store: store, meta: newFakeMeta("catchup")}
		payload := make([]byte, 1<<20)
		rand.Read(payload)
		const batchBytes, chunkBytes, segBytes = 64 << 10, 1 << 20, 64 << 20
		var off int64
		ts := time.Now().UnixMilli()
		for seg := 0; env.bytes < int64(mb)<<20; seg++ {
			sb := segment.NewBuilder()
			first := off
			for n := 0; n < segBytes && env.bytes < int64(mb)<<20; n += chunkBytes {
				meta := segment.ChunkMeta{TopicID: env.meta.topic.ID, FirstOffset: off, MinTimestamp: ts, MaxTimestamp: ts}
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
					meta.Batches++
				}
				meta.LastOffset = off - 1
				sb.Add(meta, chunk)
				env.bytes += int64(len(chunk))
			}
			obj, _ := sb.Finish()
			key := fmt.Sprintf("seg/%04d", seg)
			if err := store.Put(ctx, key, obj); err != nil {
				b.Fatal(err)
			}
			env.rows = append(env.rows, metastore.IndexRow{TopicID: env.meta.topic.ID, BaseOffset: first, LastOffset: off - 1,
				ObjectKey: key, Size: int64(len(obj)), MinTimestamp: ts, MaxTimestamp: ts, Kind: metastore.RowSegment})
		}
		env.meta.setRows(env.rows)
		b.Logf("catch-up data: %d MiB in %d segment objects in %s", env.bytes>>20, len(env.rows), where)
		catchUpEnv = env
	})
	if catchUpEnv == nil {
		b.Fatal("no benchmark data")
	}
	return catchUpEnv
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

// readPass reads the partition from 0 to its end in 1 MiB reads through a
// fresh Reader and 1 GiB disk cache, and returns the time and GETs taken.
func (e *catchUp) readPass(b *testing.B, cfg tiering.ReaderConfig) (time.Duration, int64) {
	dir, err := os.MkdirTemp("", "strata-catchup-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cache, err := tiering.NewCache(filepath.Join(dir, "cache"), 1<<30, nil)
	if err != nil {
		b.Fatal(err)
	}
	cs := &countingStore{Store: e.store}
	reader, err := tiering.NewReaderConfig(cs, cache, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer reader.Close()
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
