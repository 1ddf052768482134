package compaction_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratalog/strata/compaction"
	"github.com/stratalog/strata/metastore"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/tiering/objstore/mem"
)

// BenchmarkCleanPass: one cleaning pass over a partition of 64 MiB in
// 8 MiB flush rows: 50,000 keys × 10 versions (version by version) of
// 128-byte values, on SQLite and an in-memory store, so the figure is the
// cleaner's own CPU (compare with BenchmarkCompactPass, the same data
// merged by object compaction). b.SetBytes is the input.
func BenchmarkCleanPass(b *testing.B) {
	benchmarkPass(b, map[string]string{"cleanup.policy": "compact"})
}

// BenchmarkCompactPass: the baseline of BenchmarkCleanPass, the same
// data in a cleanup.policy=delete topic merged into segments.
func BenchmarkCompactPass(b *testing.B) {
	benchmarkPass(b, map[string]string{"cleanup.policy": "delete", "retention.ms": "-1"})
}

func benchmarkPass(b *testing.B, configs map[string]string) {
	ctx := context.Background()
	meta, err := metaopen.Metastore(ctx, "sqlite://"+filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer meta.Close()
	e := &env{t: b, meta: meta, objs: mem.New(), clock: &clock{t: time.Now()},
		want: map[metastore.PartitionRef][]byte{}, hwm: map[metastore.PartitionRef]int64{}}
	s := e.service("bench", func(c *compaction.Config) { c.TargetSegmentBytes = 64 << 20; c.ChunkBytes = 1 << 20 })
	// 500,000 records of about 150 bytes: 8 rows of 62,500 records in
	// batches of 6,250.
	const keys, versions, perRow, perBatch = 50000, 10, 62500, 6250
	value := string(make([]byte, 128))
	var input int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		mt := e.topic(fmt.Sprintf("bench-%d", i), 1, configs)
		ref := metastore.PartitionRef{TopicID: mt.ID, Partition: 0}
		ts := e.clock.Now().Add(-time.Hour)
		for row := 0; row < keys*versions/perRow; row++ {
			var bs []pbatch
			for j := 0; j < perRow; j += perBatch {
				var pairs []string
				for n := row*perRow + j; n < row*perRow+j+perBatch; n++ {
					pairs = append(pairs, fmt.Sprintf("key-%07d", n%keys), value)
				}
				bs = append(bs, pbatch{-1, kvs(pairs...)})
			}
			e.flushKV(ref, ts, bs...)
		}
		rs, err := meta.IndexRows(ctx, mt.ID, 0, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		input = 0
		for _, r := range rs {
			input += r.Size
		}
		b.StartTimer()
		if n, err := s.CompactOnce(ctx); err != nil || n == 0 {
			b.Fatalf("pass: %d %v", n, err)
		}
	}
	b.SetBytes(input)
}
