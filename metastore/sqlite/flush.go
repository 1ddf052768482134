package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// CommitFlush commits a flush in one transaction: all of it or none of it.
//
// For each PartitionCommit, in order, the partition must exist and be
// owned by f.AgentID at pc.Epoch (else ErrFenced; a missing partition also
// matches ErrNotFound) and its high watermark must be pc.PrevHighWatermark
// (else ErrConflict). Then its segment rows are inserted, its high
// watermark set to pc.NewHighWatermark and its producer states upserted.
// The object is recorded in the objects table.
//
// A segment whose ObjectKey is empty gets f.ObjectKey, and one whose
// TopicID is zero gets the commit's topic and partition. Segments must lie
// inside [PrevHighWatermark, NewHighWatermark) and not overlap (they are
// stored in BaseOffset order whatever their order in pc.Segments); a flush
// that breaks that, or has an empty AgentID (ErrFenced), is rejected before
// the transaction starts.
func (s *Store) CommitFlush(ctx context.Context, f metastore.Flush) error {
	if err := f.Normalize(); err != nil {
		return fmt.Errorf("sqlite: commit flush %q: %w", f.ObjectKey, err)
	}
	now := time.Now().UnixNano()
	err := s.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertObject, f.ObjectKey, f.ObjectSize, now); err != nil {
			return err
		}
		for i := range f.Partitions {
			if err := commitPartition(ctx, tx, f.AgentID, &f.Partitions[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: commit flush %q by %q: %w", f.ObjectKey, f.AgentID, err)
	}
	return nil
}

// commitPartition applies one partition's part of a flush inside tx.
func commitPartition(ctx context.Context, tx *sql.Tx, agentID string, pc *metastore.PartitionCommit) error {
	where := fmt.Sprintf("%s/%d", pc.TopicID.String(), pc.Partition)
	var (
		owner string
		epoch int32
		hwm   int64
	)
	err := tx.QueryRowContext(ctx, selectPartitionForUpdate, pc.TopicID[:], pc.Partition).Scan(&owner, &epoch, &hwm)
	if errors.Is(err, sql.ErrNoRows) {
		// The topic was deleted under the writer: it is fenced as surely
		// as by a new owner, and callers may want to know which.
		return fmt.Errorf("%s: %w: %w", where, metastore.ErrFenced, metastore.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if owner != agentID || epoch != pc.Epoch {
		return fmt.Errorf("%s: %w: owner %q epoch %d, writer %q epoch %d",
			where, metastore.ErrFenced, owner, epoch, agentID, pc.Epoch)
	}
	if hwm != pc.PrevHighWatermark {
		return fmt.Errorf("%s: %w: high watermark is %d, expected %d",
			where, metastore.ErrConflict, hwm, pc.PrevHighWatermark)
	}

	if len(pc.Segments) > 0 {
		stmt, err := tx.PrepareContext(ctx, insertSegment)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		defer stmt.Close()
		for _, seg := range pc.Segments {
			if _, err := stmt.ExecContext(ctx, pc.TopicID[:], pc.Partition, seg.BaseOffset, seg.LastOffset,
				seg.ObjectKey, seg.Pos, seg.Size, seg.MinTimestamp, seg.MaxTimestamp); err != nil {
				return fmt.Errorf("%s: insert segment at %d: %w", where, seg.BaseOffset, err)
			}
		}
	}

	if _, err := tx.ExecContext(ctx, setHighWatermark, pc.NewHighWatermark, pc.TopicID[:], pc.Partition); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}

	if len(pc.Producers) > 0 {
		stmt, err := tx.PrepareContext(ctx, upsertProducerState)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		defer stmt.Close()
		for _, ps := range pc.Producers {
			batches, err := encodeBatches(ps.Batches)
			if err != nil {
				return fmt.Errorf("%s: producer %d: %w", where, ps.ProducerID, err)
			}
			if _, err := stmt.ExecContext(ctx, pc.TopicID[:], pc.Partition, ps.ProducerID,
				ps.Epoch, batches, ps.LastTimestamp); err != nil {
				return fmt.Errorf("%s: producer %d: %w", where, ps.ProducerID, err)
			}
		}
	}
	return nil
}

// Segments returns up to limit segment rows of the partition whose
// LastOffset >= fromOffset, ordered by BaseOffset. A limit <= 0 means no
// limit.
func (s *Store) Segments(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64, limit int) ([]metastore.Segment, error) {
	segs, err := s.querySegments(ctx, selectSegmentsFrom, id[:], partition, fromOffset, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: segments of %s/%d from %d: %w", id.String(), partition, fromOffset, err)
	}
	return segs, nil
}

// SegmentsByTime returns up to limit segment rows of the partition whose
// MaxTimestamp >= ts, ordered by BaseOffset. A limit <= 0 means no limit.
func (s *Store) SegmentsByTime(ctx context.Context, id metastore.TopicID, partition int32, ts int64, limit int) ([]metastore.Segment, error) {
	segs, err := s.querySegments(ctx, selectSegmentsByTime, id[:], partition, ts, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: segments of %s/%d from time %d: %w", id.String(), partition, ts, err)
	}
	return segs, nil
}

// MaxTimestampSegment returns the segment holding the partition's largest
// timestamp, the earliest such segment on ties. ErrNotFound if the
// partition has no segments.
func (s *Store) MaxTimestampSegment(ctx context.Context, id metastore.TopicID, partition int32) (metastore.Segment, error) {
	segs, err := s.querySegments(ctx, selectMaxTimestampSegment, id[:], partition)
	if err == nil && len(segs) == 0 {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Segment{}, fmt.Errorf("sqlite: max timestamp segment of %s/%d: %w", id.String(), partition, err)
	}
	return segs[0], nil
}

func (s *Store) querySegments(ctx context.Context, query string, args ...any) ([]metastore.Segment, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var segs []metastore.Segment
	for rows.Next() {
		var (
			seg metastore.Segment
			id  []byte
		)
		if err := rows.Scan(&id, &seg.Partition, &seg.BaseOffset, &seg.LastOffset, &seg.ObjectKey,
			&seg.Pos, &seg.Size, &seg.MinTimestamp, &seg.MaxTimestamp); err != nil {
			return nil, err
		}
		if seg.TopicID, err = topicIDFromBytes(id); err != nil {
			return nil, err
		}
		segs = append(segs, seg)
	}
	return segs, rows.Err()
}

// sqlLimit maps "no limit" (<= 0) to SQLite's LIMIT -1.
func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return -1
	}
	return int64(limit)
}

// ProducerStates returns the stored idempotent-producer states of a
// partition, ordered by producer ID.
func (s *Store) ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error) {
	rows, err := s.r.QueryContext(ctx, selectProducerStates, id[:], partition)
	if err != nil {
		return nil, fmt.Errorf("sqlite: producer states of %s/%d: %w", id.String(), partition, err)
	}
	defer rows.Close()
	var states []metastore.ProducerState
	for rows.Next() {
		var (
			ps      metastore.ProducerState
			batches string
		)
		if err := rows.Scan(&ps.ProducerID, &ps.Epoch, &batches, &ps.LastTimestamp); err != nil {
			return nil, fmt.Errorf("sqlite: producer states of %s/%d: %w", id.String(), partition, err)
		}
		if ps.Batches, err = decodeBatches(batches); err != nil {
			return nil, fmt.Errorf("sqlite: producer states of %s/%d: producer %d: %w", id.String(), partition, ps.ProducerID, err)
		}
		states = append(states, ps)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: producer states of %s/%d: %w", id.String(), partition, err)
	}
	return states, nil
}

// batchJSON is the stored form of a metastore.ProducerBatch. Its own tags
// keep the stored JSON stable if the Go field names change.
type batchJSON struct {
	FirstSeq   int32 `json:"first_seq"`
	LastSeq    int32 `json:"last_seq"`
	BaseOffset int64 `json:"base_offset"`
	LastOffset int64 `json:"last_offset"`
	Timestamp  int64 `json:"timestamp"`
}

func encodeBatches(batches []metastore.ProducerBatch) (string, error) {
	out := make([]batchJSON, len(batches))
	for i, b := range batches {
		out[i] = batchJSON(b)
	}
	enc, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode batches: %w", err)
	}
	return string(enc), nil
}

// decodeBatches inverts encodeBatches; no batches decode as nil.
func decodeBatches(s string) ([]metastore.ProducerBatch, error) {
	var in []batchJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode batches: %w", err)
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]metastore.ProducerBatch, len(in))
	for i, b := range in {
		out[i] = metastore.ProducerBatch(b)
	}
	return out, nil
}
