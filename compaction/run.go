package compaction

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// Result is what one job did.
type Result struct {
	Key        string // the output object; "" if none was kept
	InputBytes int64
	Output     int64 // bytes of the output object
	Chunks     int
	Batches    int
}

// errLost: the job's switch was refused because another compactor or a
// concurrent retention got there first; its output was discarded.
var errLost = errors.New("compaction: lost the race; output discarded")

// runJob runs one compaction job under lease: it reads the inputs,
// writes one per-partition segment object, and switches the index to it.
// If the switch is refused (lease lost, inputs changed), the output is
// deleted and errLost returned: nothing changed.
func (s *Service) runJob(ctx context.Context, lease metastore.Lease, job Job) (Result, error) {
	res := Result{InputBytes: job.Bytes}
	// Batches are appended straight into the output object, sized for
	// the inputs (segment inputs are slightly smaller once their footers
	// go): no buffer grown batch by batch, no second copy per chunk.
	// Chunks are cut when full, so there are at most about twice as many
	// as full ones.
	b := segment.NewBuilderSize(int(job.Bytes), int(2*job.Bytes/s.cfg.ChunkBytes)+2)
	var meta segment.ChunkMeta
	addChunk := func() {
		if b.Pending() > 0 {
			b.Cut(meta)
			res.Chunks++
		}
		meta = segment.ChunkMeta{TopicID: job.Ref.TopicID, Partition: job.Ref.Partition}
	}
	addChunk()
	next := job.Inputs[0].BaseOffset
	for i := 0; i < len(job.Inputs); {
		// Rows of one flush object that lie back to back are read with
		// one GET.
		j := i + 1
		for j < len(job.Inputs) && job.Inputs[j].Kind == metastore.RowFlush && job.Inputs[i].Kind == metastore.RowFlush &&
			job.Inputs[j].ObjectKey == job.Inputs[i].ObjectKey &&
			job.Inputs[j].Pos == job.Inputs[j-1].Pos+job.Inputs[j-1].Size {
			j++
		}
		data, err := s.readRows(ctx, job.Inputs[i:j])
		if err != nil {
			return res, err
		}
		for len(data) > 0 {
			batch, rest, err := record.Next(data)
			if err != nil {
				return res, fmt.Errorf("compaction: %s: input near offset %d: %w", job.Ref.TopicID, next, err)
			}
			data = rest
			h, err := record.Validate(batch)
			if err != nil {
				return res, fmt.Errorf("compaction: %s/%d: input batch at %d: %w", job.Ref.TopicID, job.Ref.Partition, h.BaseOffset, err)
			}
			if h.BaseOffset < next {
				return res, fmt.Errorf("compaction: %s/%d: batch at %d, expected %d or later", job.Ref.TopicID, job.Ref.Partition, h.BaseOffset, next)
			}
			next = h.LastOffset() + 1
			if b.Pending() > 0 && int64(b.Pending()+len(batch)) > s.cfg.ChunkBytes {
				addChunk()
			}
			ts := h.FirstTimestamp
			if _, ok := h.DeleteHorizon(); ok || h.LogAppendTime() {
				// A cleaned batch's FirstTimestamp is its delete horizon.
				ts = h.MaxTimestamp
			}
			if b.Pending() == 0 {
				meta.FirstOffset, meta.MinTimestamp, meta.MaxTimestamp = h.BaseOffset, ts, h.MaxTimestamp
			}
			meta.LastOffset = h.LastOffset()
			meta.MinTimestamp = min(meta.MinTimestamp, ts)
			meta.MaxTimestamp = max(meta.MaxTimestamp, h.MaxTimestamp)
			meta.MaxTimestamp = max(meta.MaxTimestamp, meta.MinTimestamp)
			meta.Batches++
			res.Batches++
			b.Append(batch)
		}
		i = j
	}
	addChunk()
	last := job.Inputs[len(job.Inputs)-1]
	if next-1 > last.LastOffset {
		return res, fmt.Errorf("compaction: %s/%d: inputs hold offsets up to %d, the index says %d", job.Ref.TopicID, job.Ref.Partition, next-1, last.LastOffset)
	}
	obj, _ := b.Finish()
	key := SegmentKey(job.Ref, job.Inputs[0].BaseOffset, last.LastOffset)
	if err := s.install(ctx, lease, job.Ref, job.Inputs, key, obj); err != nil {
		return res, err
	}
	res.Key, res.Output = key, int64(len(obj))
	return res, nil
}

// install uploads obj, one segment object of the partition ref, under
// key and switches the index from inputs to one row for it (the inputs'
// offsets and timestamps), fenced by lease. If the switch is refused
// (lease lost, inputs changed), the output is deleted and errLost
// returned: nothing changed.
func (s *Service) install(ctx context.Context, lease metastore.Lease, ref metastore.PartitionRef, inputs []metastore.IndexRow, key string, obj []byte) error {
	if err := s.put(ctx, key, obj); err != nil {
		return err
	}
	uploaded := s.now()
	s.crash("after-put")
	first, last := inputs[0], inputs[len(inputs)-1]
	row := metastore.IndexRow{
		TopicID: ref.TopicID, Partition: ref.Partition,
		BaseOffset: first.BaseOffset, LastOffset: last.LastOffset,
		ObjectKey: key, Pos: 0, Size: int64(len(obj)), Kind: metastore.RowSegment,
		MinTimestamp: first.MinTimestamp, MaxTimestamp: first.MaxTimestamp,
	}
	for _, in := range inputs {
		row.MinTimestamp = min(row.MinTimestamp, in.MinTimestamp)
		row.MaxTimestamp = max(row.MaxTimestamp, in.MaxTimestamp)
	}
	err := s.meta.Replace(ctx, metastore.Replacement{
		Lease:      lease,
		Inputs:     inputs,
		Output:     metastore.Object{Key: key, Kind: metastore.ObjectSegment, Size: int64(len(obj))},
		Rows:       []metastore.IndexRow{row},
		UploadedAt: uploaded,
	})
	if err != nil {
		// Refused or unknown: the output is deleted only if the switch
		// surely did not happen. After an error of unknown outcome (a
		// lost connection) it stays; the sweeper deletes it if the
		// metastore does not know it.
		if errors.Is(err, metastore.ErrFenced) || errors.Is(err, metastore.ErrConflict) || errors.Is(err, metastore.ErrStaleObject) {
			s.deleteQuietly(ctx, key)
			return fmt.Errorf("%w: %w", errLost, err)
		}
		return fmt.Errorf("compaction: switch to %s: %w", key, err)
	}
	s.crash("after-switch")
	return nil
}

// readRows returns the record batches of consecutive index rows: one
// range GET for a run of flush rows back to back in one object, or the
// whole body of a segment object (rows must then be exactly one segment
// row).
func (s *Service) readRows(ctx context.Context, rows []metastore.IndexRow) ([]byte, error) {
	first, last := rows[0], rows[len(rows)-1]
	if first.Kind == metastore.RowFlush {
		data, err := s.getRange(ctx, first.ObjectKey, first.Pos, last.Pos+last.Size-first.Pos)
		if err != nil {
			return nil, fmt.Errorf("compaction: read %s [%d,+%d): %w", first.ObjectKey, first.Pos, last.Pos+last.Size-first.Pos, err)
		}
		return data, nil
	}
	obj, err := s.getRange(ctx, first.ObjectKey, 0, first.Size)
	if err != nil {
		return nil, fmt.Errorf("compaction: read segment %s: %w", first.ObjectKey, err)
	}
	chunks, err := segment.Parse(obj)
	if err != nil {
		return nil, fmt.Errorf("compaction: segment %s: %w", first.ObjectKey, err)
	}
	var body int64
	for _, c := range chunks {
		if c.TopicID != first.TopicID || c.Partition != first.Partition {
			return nil, fmt.Errorf("compaction: segment %s holds %x/%d, indexed as %s/%d", first.ObjectKey, c.TopicID, c.Partition, first.TopicID, first.Partition)
		}
		body = c.Pos + c.Size
	}
	return obj[:body], nil
}
