package compaction

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stratalog/strata/metastore"
)

// Retention is one topic's effective retention.
type Retention struct {
	Ms    int64 // -1: no time limit
	Bytes int64 // -1: no size limit
}

// TopicRetention returns the topic's retention from its configs
// (retention.ms, retention.bytes) over the defaults, and whether the
// topic's cleanup.policy deletes at all.
func TopicRetention(configs map[string]string, defaults Retention) (Retention, bool) {
	r := defaults
	deletes := true
	if p, ok := configs["cleanup.policy"]; ok {
		deletes = false
		for _, v := range strings.Split(p, ",") {
			if strings.TrimSpace(v) == "delete" {
				deletes = true
			}
		}
	}
	if v, err := strconv.ParseInt(configs["retention.ms"], 10, 64); err == nil {
		r.Ms = v
	}
	if v, err := strconv.ParseInt(configs["retention.bytes"], 10, 64); err == nil {
		r.Bytes = v
	}
	return r, deletes
}

// RetentionStart returns the log start retention allows for a partition:
// rows are whole units (an index row, or a compacted segment); a row goes
// only when every record in it is past a limit. By time: the first row (in
// offset order) whose largest timestamp is at or after now - ms starts the
// log, or the high watermark if there is none. By size: the oldest rows go
// while the rest still hold at least bytes. rows are the partition's rows
// from its log start, in offset order; byTime is the first row with
// MaxTimestamp >= now - ms (nil if none). The result never falls below
// logStart.
func RetentionStart(r Retention, logStart, hwm int64, rows []metastore.IndexRow, byTime *metastore.IndexRow) int64 {
	start := logStart
	if r.Ms >= 0 {
		if byTime == nil {
			start = max(start, hwm)
		} else {
			start = max(start, byTime.BaseOffset)
		}
	}
	if r.Bytes >= 0 {
		var total int64
		for _, row := range rows {
			total += row.Size
		}
		for _, row := range rows {
			if total-row.Size < r.Bytes {
				break
			}
			total -= row.Size
			start = max(start, row.LastOffset+1)
		}
	}
	return min(start, max(hwm, logStart))
}

// RetainOnce enforces retention once on every partition this Service
// works on, and returns how many partitions' log start moved.
func (s *Service) RetainOnce(ctx context.Context) (int, error) {
	topics, err := s.meta.Topics(ctx)
	if err != nil {
		return 0, err
	}
	defaults := Retention{Ms: s.cfg.RetentionMs, Bytes: s.cfg.RetentionBytes}
	moved := 0
	var errs []error
	for _, t := range topics {
		r, deletes := TopicRetention(t.Configs, defaults)
		if !deletes || (r.Ms < 0 && r.Bytes < 0) {
			continue
		}
		parts, err := s.meta.Partitions(ctx, t.ID)
		if errors.Is(err, metastore.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range parts {
			ref := metastore.PartitionRef{TopicID: t.ID, Partition: p.Partition}
			if !s.owned(ref) || p.HighWatermark <= p.LogStartOffset {
				continue
			}
			ok, err := s.retainPartition(ctx, t.Name, ref, p, r)
			if err != nil {
				errs = append(errs, fmt.Errorf("retention of %s/%d: %w", t.Name, p.Partition, err))
			}
			if ok {
				moved++
			}
		}
	}
	return moved, errors.Join(errs...)
}

func (s *Service) retainPartition(ctx context.Context, topic string, ref metastore.PartitionRef, p metastore.Partition, r Retention) (bool, error) {
	var byTime *metastore.IndexRow
	if r.Ms >= 0 {
		cutoff := s.now().UnixMilli() - r.Ms
		rows, err := s.meta.IndexRowsByTime(ctx, ref.TopicID, ref.Partition, cutoff, 1)
		if err != nil {
			return false, err
		}
		if len(rows) > 0 {
			byTime = &rows[0]
		}
	}
	var rows []metastore.IndexRow
	if r.Bytes >= 0 {
		var err error
		if rows, err = s.meta.IndexRows(ctx, ref.TopicID, ref.Partition, p.LogStartOffset, 0); err != nil {
			return false, err
		}
	}
	start := RetentionStart(r, p.LogStartOffset, p.HighWatermark, rows, byTime)
	if start <= p.LogStartOffset {
		return false, nil
	}
	s.crash("retention-before-trim")
	newStart, deleted, err := s.meta.TrimLog(ctx, nil, ref.TopicID, ref.Partition, start)
	if err != nil {
		return false, err
	}
	s.crash("retention-after-trim")
	s.metrics.retentionRows.Add(float64(deleted))
	s.metrics.retentionTrims.Inc()
	s.log.Info("retention", "topic", topic, "partition", ref.Partition, "log_start", newStart,
		"was", p.LogStartOffset, "rows_deleted", deleted, "retention_ms", r.Ms, "retention_bytes", r.Bytes)
	if s.cfg.OnLogStart != nil {
		s.cfg.OnLogStart(ref, newStart)
	}
	return true, nil
}
