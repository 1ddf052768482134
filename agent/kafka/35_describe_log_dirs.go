package kafka

// DescribeLogDirs v1-v4, answered truthfully about the agent's local
// disk: one "log dir", the write-ahead buffer directory. Each partition's
// Size is the bytes it has appended there that are not yet in object
// storage, and OffsetLag how many offsets those are (log end minus high
// watermark). Everything older lives in object storage, which is not a
// log dir. TotalBytes and UsableBytes (v4) are the file system's.

import (
	"github.com/stratalog/strata/partlog"
	"path/filepath"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

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
	add := func(t *partlog.Topic, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.Name()
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
		}
		dir.Topics = append(dir.Topics, dt)
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
	resp.Dirs = append(resp.Dirs, dir)
	f.finish(resp)
}
