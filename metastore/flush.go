package metastore

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// String formats the ID as a UUID.
func (id TopicID) String() string {
	h := hex.EncodeToString(id[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Normalize checks what a Store can check of a flush without its database
// and fills in the segments' defaults (topic, partition, object key),
// sorting them by offset. Both implementations call it first in
// CommitFlush. It copies f.Partitions and their Segments
// first: they belong to the caller.
func (f *Flush) Normalize() error {
	if f.AgentID == "" {
		// An unowned partition has owner "": an empty writer must never
		// match it.
		return fmt.Errorf("%w: empty agent ID", ErrFenced)
	}
	if f.ObjectKey == "" {
		return errors.New("empty object key")
	}
	f.Partitions = slices.Clone(f.Partitions)
	for i := range f.Partitions {
		pc := &f.Partitions[i]
		pc.Segments = slices.Clone(pc.Segments)
		slices.SortFunc(pc.Segments, func(a, b Segment) int { return cmp.Compare(a.BaseOffset, b.BaseOffset) })
		where := fmt.Sprintf("%s/%d", pc.TopicID.String(), pc.Partition)
		if pc.NewHighWatermark < pc.PrevHighWatermark {
			return fmt.Errorf("%s: new high watermark %d is below previous %d", where, pc.NewHighWatermark, pc.PrevHighWatermark)
		}
		for j := range pc.Segments {
			seg := &pc.Segments[j]
			if seg.TopicID.IsZero() {
				seg.TopicID, seg.Partition = pc.TopicID, pc.Partition
			}
			if seg.TopicID != pc.TopicID || seg.Partition != pc.Partition {
				return fmt.Errorf("%s: segment %d belongs to %s/%d", where, j, seg.TopicID.String(), seg.Partition)
			}
			if seg.ObjectKey == "" {
				seg.ObjectKey = f.ObjectKey
			}
			if seg.BaseOffset > seg.LastOffset ||
				seg.BaseOffset < pc.PrevHighWatermark || seg.LastOffset >= pc.NewHighWatermark {
				return fmt.Errorf("%s: segment offsets [%d, %d] outside [%d, %d)", where,
					seg.BaseOffset, seg.LastOffset, pc.PrevHighWatermark, pc.NewHighWatermark)
			}
			if j > 0 && seg.BaseOffset <= pc.Segments[j-1].LastOffset {
				return fmt.Errorf("%s: segments [%d, %d] and [%d, %d] overlap", where,
					pc.Segments[j-1].BaseOffset, pc.Segments[j-1].LastOffset, seg.BaseOffset, seg.LastOffset)
			}
		}
	}
	return nil
}
