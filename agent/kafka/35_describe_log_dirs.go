package kafka

// DescribeLogDirs v1-v4, answered truthfully about where the agent's
// partitions live, as two "log dirs". The first is the local write-ahead
// buffer directory: each partition's Size is the bytes appended there that
// are not yet in object storage, and OffsetLag how many offsets those are
// (log end minus high watermark); TotalBytes and UsableBytes (v4) are the
// file system's. The second, "object-storage", holds each partition's
// bytes in the bucket from its log start (what retention and compaction
// shrink), with unknown totals (-1).

import (
	"path/filepath"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
)

// objectStorageDir is the name of the object-storage log dir.
const objectStorageDir = "object-storage"

func handleDescribeLogDirs(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	walDir, _ := filepath.Abs(filepath.Join(srv.cfg.DataDir, "wal"))
	dir.Dir = walDir
	var st syscall.Statfs_t
	if err := syscall.Statfs(walDir, &st); err == nil {
		dir.TotalBytes = int64(st.Blocks) * st.Bsize
		dir.UsableBytes = int64(st.Bavail) * st.Bsize
	} else {
		dir.TotalBytes, dir.UsableBytes = -1, -1
	}
	stored := kmsg.NewDescribeLogDirsResponseDir()
	stored.Dir, stored.TotalBytes, stored.UsableBytes = objectStorageDir, -1, -1
	counts, err := srv.meta.RowCounts(c.ctx)
	if err != nil {
		stored.ErrorCode = kerr.KafkaStorageError.Code
		srv.log.Warn("describe log dirs: stored sizes", "err", err)
	}
	sizes := map[metastore.PartitionRef]int64{}
	for _, pr := range counts {
		sizes[pr.PartitionRef] = pr.FlushBytes + pr.SegmentBytes
	}
	add := func(t *partlog.Topic, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.Name()
		sdt := kmsg.NewDescribeLogDirsResponseDirTopic()
		sdt.Topic = t.Name()
		for _, i := range parts {
			p := t.Partition(i)
			st := p.Status()
			if !st.Serving {
				continue
			}
			lag := st.LogEnd - st.HighWatermark
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size, dp.OffsetLag = i, p.Buffered(), lag
			dt.Partitions = append(dt.Partitions, dp)
			sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			sp.Partition, sp.Size = i, sizes[metastore.PartitionRef{TopicID: t.ID(), Partition: i}]
			sdt.Partitions = append(sdt.Partitions, sp)
		}
		dir.Topics = append(dir.Topics, dt)
		if stored.ErrorCode == 0 {
			stored.Topics = append(stored.Topics, sdt)
		}
	}
	if r.Topics == nil {
		for _, t := range srv.allTopics() {
			var parts []int32
			for _, p := range t.Partitions() {
				parts = append(parts, p.Index())
			}
			add(t, parts)
		}
	}
	for _, rt := range r.Topics {
		if t := srv.topicByName(rt.Topic); t != nil {
			add(t, rt.Partitions)
		}
	}
	resp.Dirs = append(resp.Dirs, dir, stored)
	f.finish(resp)
}
