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
// and fills in the index rows' defaults (topic, partition, object key),
// sorting them by offset. Every row must point into f.ObjectKey. Both implementations call it first in
// CommitFlush. It copies f.Partitions and their Rows first: they belong to
// the caller.
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
		pc.Rows = slices.Clone(pc.Rows)
		slices.SortFunc(pc.Rows, func(a, b IndexRow) int { return cmp.Compare(a.BaseOffset, b.BaseOffset) })
		where := fmt.Sprintf("%s/%d", pc.TopicID.String(), pc.Partition)
		if pc.NewHighWatermark < pc.PrevHighWatermark {
			return fmt.Errorf("%s: new high watermark %d is below previous %d", where, pc.NewHighWatermark, pc.PrevHighWatermark)
		}
		for j := range pc.Rows {
			row := &pc.Rows[j]
			if row.TopicID.IsZero() {
				row.TopicID, row.Partition = pc.TopicID, pc.Partition
			}
			if row.TopicID != pc.TopicID || row.Partition != pc.Partition {
				return fmt.Errorf("%s: index row %d belongs to %s/%d", where, j, row.TopicID.String(), row.Partition)
			}
			if row.ObjectKey == "" {
				row.ObjectKey = f.ObjectKey
			}
			if row.ObjectKey != f.ObjectKey {
				// The objects table must know every object a row
				// references (live bytes, garbage collection).
				return fmt.Errorf("%s: index row %d points into %q, not the flush's object", where, j, row.ObjectKey)
			}
			if row.Kind != RowFlush && row.Kind != RowSegment {
				return fmt.Errorf("%s: index row %d has unknown kind %d", where, j, row.Kind)
			}
			if row.BaseOffset > row.LastOffset ||
				row.BaseOffset < pc.PrevHighWatermark || row.LastOffset >= pc.NewHighWatermark {
				return fmt.Errorf("%s: index row offsets [%d, %d] outside [%d, %d)", where,
					row.BaseOffset, row.LastOffset, pc.PrevHighWatermark, pc.NewHighWatermark)
			}
			if j > 0 && row.BaseOffset <= pc.Rows[j-1].LastOffset {
				return fmt.Errorf("%s: index rows [%d, %d] and [%d, %d] overlap", where,
					pc.Rows[j-1].BaseOffset, pc.Rows[j-1].LastOffset, row.BaseOffset, row.LastOffset)
			}
		}
	}
	return nil
}
