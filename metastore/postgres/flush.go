package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratalog/strata/metastore"
)

// CommitFlush commits a flush in one transaction: all of it or none of it.
//
// It first locks every partition the flush names (SELECT ... FOR UPDATE,
// in key order, so flushes sharing partitions queue rather than deadlock).
// Then, for each PartitionCommit in order, the partition must exist and be
// owned by f.AgentID at pc.Epoch (else ErrFenced; a missing partition also
// matches ErrNotFound) and its high watermark must be pc.PrevHighWatermark
// (else ErrConflict). Its segment rows are inserted, its high watermark set
// to pc.NewHighWatermark and its producer states upserted. The object is
// recorded in the objects table. The writes go to the server as one batch.
//
// A segment whose ObjectKey is empty gets f.ObjectKey, and one whose
// TopicID is zero gets the commit's topic and partition. Segments must lie
// inside [PrevHighWatermark, NewHighWatermark) and not overlap; a flush
// that breaks that, or has an empty AgentID (ErrFenced), is rejected before
// the transaction starts.
func (s *Store) CommitFlush(ctx context.Context, f metastore.Flush) error {
	if err := f.Normalize(); err != nil {
		return fmt.Errorf("postgres: commit flush %q: %w", f.ObjectKey, err)
	}
	ids := make([]pgtype.UUID, len(f.Partitions))
	parts := make([]int32, len(f.Partitions))
	for i, pc := range f.Partitions {
		ids[i], parts[i] = uuid(pc.TopicID), pc.Partition
	}
	batches := make([][]string, len(f.Partitions))
	for i, pc := range f.Partitions {
		for _, ps := range pc.Producers {
			enc, err := encodeBatches(ps.Batches)
			if err != nil {
				return fmt.Errorf("postgres: commit flush %q: producer %d: %w", f.ObjectKey, ps.ProducerID, err)
			}
			batches[i] = append(batches[i], enc)
		}
	}

	err := s.update(ctx, func(tx pgx.Tx) error {
		type key struct {
			id metastore.TopicID
			p  int32
		}
		type state struct {
			owner string
			epoch int32
			hwm   int64
		}
		current := map[key]*state{}
		rows, err := tx.Query(ctx, lockFlushPartitions, ids, parts)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id pgtype.UUID
				k  key
				st state
			)
			if err := rows.Scan(&id, &k.p, &st.owner, &st.epoch, &st.hwm); err != nil {
				rows.Close()
				return err
			}
			k.id = id.Bytes
			current[k] = &st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		var b pgx.Batch
		b.Queue(insertObject, f.ObjectKey, f.ObjectSize, time.Now().UnixNano())
		for i := range f.Partitions {
			pc := &f.Partitions[i]
			where := fmt.Sprintf("%s/%d", pc.TopicID.String(), pc.Partition)
			st, ok := current[key{pc.TopicID, pc.Partition}]
			if !ok {
				// The topic was deleted under the writer: it is fenced as
				// surely as by a new owner, and callers may want to know
				// which.
				return fmt.Errorf("%s: %w: %w", where, metastore.ErrFenced, metastore.ErrNotFound)
			}
			if st.owner != f.AgentID || st.epoch != pc.Epoch {
				return fmt.Errorf("%s: %w: owner %q epoch %d, writer %q epoch %d",
					where, metastore.ErrFenced, st.owner, st.epoch, f.AgentID, pc.Epoch)
			}
			if st.hwm != pc.PrevHighWatermark {
				return fmt.Errorf("%s: %w: high watermark is %d, expected %d",
					where, metastore.ErrConflict, st.hwm, pc.PrevHighWatermark)
			}
			// A partition named twice in one flush continues from its
			// first part, as if committed separately.
			st.hwm = pc.NewHighWatermark

			id := uuid(pc.TopicID)
			for _, seg := range pc.Segments {
				b.Queue(insertSegment, id, pc.Partition, seg.BaseOffset, seg.LastOffset,
					seg.ObjectKey, seg.Pos, seg.Size, seg.MinTimestamp, seg.MaxTimestamp)
			}
			b.Queue(setHighWatermark, id, pc.Partition, pc.NewHighWatermark)
			for j, ps := range pc.Producers {
				b.Queue(upsertProducerState, id, pc.Partition, ps.ProducerID, ps.Epoch, batches[i][j], ps.LastTimestamp)
			}
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: commit flush %q by %q: %w", f.ObjectKey, f.AgentID, err)
	}
	return nil
}

// Segments returns up to limit segment rows of the partition whose
// LastOffset >= fromOffset, ordered by BaseOffset. A limit <= 0 means no
// limit; an unknown topic or partition has none.
func (s *Store) Segments(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64, limit int) ([]metastore.Segment, error) {
	segs, err := s.querySegments(ctx, selectSegmentsFrom, uuid(id), partition, fromOffset, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: segments of %s/%d from %d: %w", id.String(), partition, fromOffset, err)
	}
	return segs, nil
}

// SegmentsByTime returns up to limit segment rows of the partition whose
// MaxTimestamp >= ts, ordered by BaseOffset. A limit <= 0 means no limit;
// an unknown topic or partition has none.
func (s *Store) SegmentsByTime(ctx context.Context, id metastore.TopicID, partition int32, ts int64, limit int) ([]metastore.Segment, error) {
	segs, err := s.querySegments(ctx, selectSegmentsByTime, uuid(id), partition, ts, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: segments of %s/%d from time %d: %w", id.String(), partition, ts, err)
	}
	return segs, nil
}

// MaxTimestampSegment returns the segment holding the partition's largest
// timestamp, the earliest such segment on ties. ErrNotFound if the
// partition has no segments.
func (s *Store) MaxTimestampSegment(ctx context.Context, id metastore.TopicID, partition int32) (metastore.Segment, error) {
	segs, err := s.querySegments(ctx, selectMaxTimestampSegment, uuid(id), partition)
	if err == nil && len(segs) == 0 {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Segment{}, fmt.Errorf("postgres: max timestamp segment of %s/%d: %w", id.String(), partition, err)
	}
	return segs[0], nil
}

func (s *Store) querySegments(ctx context.Context, query string, args ...any) ([]metastore.Segment, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var segs []metastore.Segment
	for rows.Next() {
		var (
			seg metastore.Segment
			id  pgtype.UUID
		)
		if err := rows.Scan(&id, &seg.Partition, &seg.BaseOffset, &seg.LastOffset, &seg.ObjectKey,
			&seg.Pos, &seg.Size, &seg.MinTimestamp, &seg.MaxTimestamp); err != nil {
			return nil, err
		}
		seg.TopicID = id.Bytes
		segs = append(segs, seg)
	}
	return segs, rows.Err()
}

// sqlLimit maps "no limit" (<= 0) to LIMIT NULL.
func sqlLimit(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	l := int64(limit)
	return &l
}

// ProducerStates returns the stored idempotent-producer states of a
// partition, ordered by producer ID.
func (s *Store) ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error) {
	rows, err := s.pool.Query(ctx, selectProducerStates, uuid(id), partition)
	if err != nil {
		return nil, fmt.Errorf("postgres: producer states of %s/%d: %w", id.String(), partition, err)
	}
	defer rows.Close()
	var states []metastore.ProducerState
	for rows.Next() {
		var (
			ps      metastore.ProducerState
			batches []byte
		)
		if err := rows.Scan(&ps.ProducerID, &ps.Epoch, &batches, &ps.LastTimestamp); err != nil {
			return nil, fmt.Errorf("postgres: producer states of %s/%d: %w", id.String(), partition, err)
		}
		if ps.Batches, err = decodeBatches(batches); err != nil {
			return nil, fmt.Errorf("postgres: producer states of %s/%d: producer %d: %w", id.String(), partition, ps.ProducerID, err)
		}
		states = append(states, ps)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: producer states of %s/%d: %w", id.String(), partition, err)
	}
	return states, nil
}

// batchJSON is the stored form of a metastore.ProducerBatch, the same JSON
// the SQLite store keeps. Its own tags keep it stable if the Go field names
// change.
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
func decodeBatches(b []byte) ([]metastore.ProducerBatch, error) {
	var in []batchJSON
	if err := json.Unmarshal(b, &in); err != nil {
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
