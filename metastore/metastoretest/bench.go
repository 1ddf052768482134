package metastoretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// BenchCommitFlush measures CommitFlush as the flusher calls it: one
// flush of an agent owning every partition of a 6-partition topic, each
// partition with 2 index rows and one idempotent producer's state, one
// after the other. roundTrip is the backend's cheapest round trip to
// its database (Postgres: SELECT 1; SQLite: a one-row write transaction,
// which pays the fsync a commit does), measured in the same run as the
// baseline; the benchmark reports the commit's latency in ms and as a
// multiple of that round trip ("x-roundtrip").
func BenchCommitFlush(b *testing.B, s metastore.Store, roundTrip func(context.Context) error) {
	ctx := context.Background()
	const parts = 6
	tp := metastore.Topic{Name: "bench", ID: newID(), Partitions: parts, ReplicationFactor: 1, CreatedAt: time.Now()}
	if err := s.CreateTopic(ctx, tp); err != nil {
		b.Fatal(err)
	}
	for p := int32(0); p < parts; p++ {
		if _, err := s.Claim(ctx, "bench-agent", tp.ID, p, 0); err != nil {
			b.Fatal(err)
		}
	}
	// The baseline first, over as many calls as the commits get.
	base := time.Now()
	for range b.N {
		if err := roundTrip(ctx); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(base)

	const recs = 100 // offsets per index row
	hwm := int64(0)
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprintf("bench/%08d.seg", i)
		f := metastore.Flush{AgentID: "bench-agent", ObjectKey: key, ObjectSize: parts * 2 * 512 << 10, UploadedAt: time.Now()}
		for p := int32(0); p < parts; p++ {
			pos := int64(p) * 2 * 512 << 10
			pc := pcommit(tp.ID, p, 1, hwm, hwm+2*recs,
				rowAt(hwm, hwm+recs-1, pos, 512<<10, 1, 2),
				rowAt(hwm+recs, hwm+2*recs-1, pos+512<<10, 512<<10, 2, 3))
			for j := range pc.Rows {
				pc.Rows[j].ObjectKey = key
			}
			pc.Producers = []metastore.ProducerState{{ProducerID: int64(p), LastTimestamp: time.Now().UnixMilli(),
				Batches: []metastore.ProducerBatch{{FirstSeq: int32(hwm), LastSeq: int32(hwm + 2*recs - 1), BaseOffset: hwm, LastOffset: hwm + 2*recs - 1}}}}
			f.Partitions = append(f.Partitions, pc)
		}
		if err := s.CommitFlush(ctx, f); err != nil {
			b.Fatal(err)
		}
		hwm += 2 * recs
	}
	b.StopTimer()
	perCommit := b.Elapsed().Seconds() * 1e3 / float64(b.N)
	perTrip := baseline.Seconds() * 1e3 / float64(b.N)
	b.ReportMetric(perCommit, "commit-ms")
	b.ReportMetric(perTrip, "roundtrip-ms")
	b.ReportMetric(perCommit/perTrip, "x-roundtrip")
}
