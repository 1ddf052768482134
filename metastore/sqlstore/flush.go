package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stratalog/strata/metastore"
)

// CommitFlush commits a flush in one transaction: all of it or none of it.
//
// It first locks every partition the flush names, in key order, so that
// flushes sharing partitions queue rather than deadlock. Then, for each
// PartitionCommit in order, the partition must exist and be owned by
// f.AgentID at pc.Epoch (else ErrFenced; a missing partition also matches
// ErrNotFound) and its high watermark must be pc.PrevHighWatermark (else
// ErrConflict). Its index rows are inserted, its high watermark set to
// pc.NewHighWatermark and its producer states upserted. The object is
// recorded in the objects table (kind flush) and its live bytes are
// recomputed from its rows, so a key committed again (a retried partial
// commit) adds the new rows' bytes. The writes go to the database as one
// batch.
//
// A non-zero f.UploadedAt more than metastore.MaxCommitDelay ago is
// ErrStaleObject, checked once the partitions are locked and before
// anything is written.
//
// An index row whose ObjectKey is empty gets f.ObjectKey, and one whose
// TopicID is zero gets the commit's topic and partition; every row must
// point into f.ObjectKey. Rows must lie
// inside [PrevHighWatermark, NewHighWatermark) and not overlap (they are
// stored in BaseOffset order whatever their order in pc.Rows); a flush
// that breaks that, or has an empty AgentID (ErrFenced), is rejected before
// the transaction starts.
func (s *Store) CommitFlush(ctx context.Context, f metastore.Flush) error {
	if err := f.Normalize(); err != nil {
		return s.errorf("commit flush %q: %w", f.ObjectKey, err)
	}
	// Everything that needs no database is done before the transaction,
	// which may run more than once.
	batches := make([][]string, len(f.Partitions))
	var keys []PartitionKey
	for i, pc := range f.Partitions {
		keys = append(keys, PartitionKey{pc.TopicID, pc.Partition})
		for _, ps := range pc.Producers {
			enc, err := encodeBatches(ps.Batches)
			if err != nil {
				return s.errorf("commit flush %q: producer %d: %w", f.ObjectKey, ps.ProducerID, err)
			}
			batches[i] = append(batches[i], enc)
		}
	}
	slices.SortFunc(keys, comparePartitionKeys)
	keys = slices.Compact(keys)

	if err := checkUploaded(f.UploadedAt); err != nil {
		return s.errorf("commit flush %q by %q: %w", f.ObjectKey, f.AgentID, err)
	}

	err := s.db.Update(ctx, func(tx Tx) error {
		current, err := s.lockPartitions(ctx, tx, keys)
		if err != nil {
			return err
		}
		// Checked again under the locks, which may have taken a while.
		if err := checkUploaded(f.UploadedAt); err != nil {
			return err
		}
		// A retried partial commit must not bring back an object that
		// died in between (its other partitions' rows compacted or
		// trimmed away): garbage collection may be deleting it.
		var dead sql.NullInt64
		var forgotten int64
		if err := tx.QueryRow(ctx, s.q.SelectObjectGoneForUpdate, f.ObjectKey).Scan(&dead, &forgotten); err != nil {
			return err
		}
		if dead.Int64 == 1 || forgotten > 0 {
			return fmt.Errorf("%w: object %s is dead", metastore.ErrStaleObject, f.ObjectKey)
		}
		now := time.Now().UnixNano()
		stmts := []Stmt{{s.q.UpsertFlushObject, []any{f.ObjectKey, f.ObjectSize, now}}}
		for i := range f.Partitions {
			pc := &f.Partitions[i]
			where := fmt.Sprintf("%s/%d", pc.TopicID.String(), pc.Partition)
			st, ok := current[PartitionKey{pc.TopicID, pc.Partition}]
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

			id := s.d.TopicID(pc.TopicID)
			for _, r := range pc.Rows {
				stmts = append(stmts, s.insertIndexRow(r))
			}
			stmts = append(stmts, Stmt{s.q.SetHighWatermark, []any{id, pc.Partition, pc.NewHighWatermark}})
			for j, ps := range pc.Producers {
				stmts = append(stmts, Stmt{s.q.UpsertProducerState, []any{id, pc.Partition, ps.ProducerID,
					ps.Epoch, batches[i][j], ps.LastTimestamp, txnFirstColumn(ps), ps.MarkerEpoch}})
			}
			for _, m := range pc.Markers {
				stmts = append(stmts, Stmt{s.q.DeleteTxnMarker, []any{id, pc.Partition, m.ProducerID, m.CoordinatorEpoch}})
			}
			for _, a := range pc.Aborted {
				stmts = append(stmts, Stmt{s.q.InsertAbortedTxn, []any{id, pc.Partition, a.LastOffset, a.ProducerID, a.FirstOffset}})
			}
		}
		stmts = append(stmts, s.accountObjects([]string{f.ObjectKey}, now)...)
		return tx.Batch(ctx, stmts)
	})
	if err != nil {
		return s.errorf("commit flush %q by %q: %w", f.ObjectKey, f.AgentID, err)
	}
	return nil
}

// partitionState is what CommitFlush checks a partition's commit against.
type partitionState struct {
	owner string
	epoch int32
	hwm   int64
}

// lockPartitions locks the partitions named by keys (distinct, in key
// order) until tx ends and returns their states; a missing partition has
// none.
func (s *Store) lockPartitions(ctx context.Context, tx Tx, keys []PartitionKey) (map[PartitionKey]*partitionState, error) {
	current := make(map[PartitionKey]*partitionState, len(keys))
	if s.q.LockFlushPartitions == "" {
		for _, k := range keys {
			var st partitionState
			err := tx.QueryRow(ctx, s.q.SelectPartitionForUpdate, s.d.TopicID(k.TopicID), k.Partition).
				Scan(&st.owner, &st.epoch, &st.hwm)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return nil, err
			}
			current[k] = &st
		}
		return current, nil
	}
	rows, err := tx.Query(ctx, s.q.LockFlushPartitions, s.d.PartitionSet(keys)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k  PartitionKey
			st partitionState
		)
		if err := rows.Scan(s.d.ScanTopicID(&k.TopicID), &k.Partition, &st.owner, &st.epoch, &st.hwm); err != nil {
			return nil, err
		}
		current[k] = &st
	}
	return current, rows.Err()
}

func comparePartitionKeys(a, b PartitionKey) int {
	if c := bytes.Compare(a.TopicID[:], b.TopicID[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// IndexRows returns up to limit index rows of the partition whose
// LastOffset >= fromOffset, ordered by BaseOffset. A limit <= 0 means no
// limit; an unknown topic or partition has none.
func (s *Store) IndexRows(ctx context.Context, id metastore.TopicID, partition int32, fromOffset int64, limit int) ([]metastore.IndexRow, error) {
	rows, err := queryAll(ctx, s.db, s.scanIndexRow, s.q.SelectIndexRowsFrom, s.d.TopicID(id), partition, fromOffset, s.d.Limit(limit))
	if err != nil {
		return nil, s.errorf("index rows of %s/%d from %d: %w", id.String(), partition, fromOffset, err)
	}
	return rows, nil
}

// IndexRowsByTime returns up to limit index rows of the partition whose
// MaxTimestamp >= ts, ordered by BaseOffset. A limit <= 0 means no limit;
// an unknown topic or partition has none.
func (s *Store) IndexRowsByTime(ctx context.Context, id metastore.TopicID, partition int32, ts int64, limit int) ([]metastore.IndexRow, error) {
	rows, err := queryAll(ctx, s.db, s.scanIndexRow, s.q.SelectIndexRowsByTime, s.d.TopicID(id), partition, ts, s.d.Limit(limit))
	if err != nil {
		return nil, s.errorf("index rows of %s/%d from time %d: %w", id.String(), partition, ts, err)
	}
	return rows, nil
}

// MaxTimestampRow returns the index row holding the partition's largest
// timestamp, the earliest such row on ties. ErrNotFound if the partition
// has no rows.
func (s *Store) MaxTimestampRow(ctx context.Context, id metastore.TopicID, partition int32) (metastore.IndexRow, error) {
	rows, err := queryAll(ctx, s.db, s.scanIndexRow, s.q.SelectMaxTimestampRow, s.d.TopicID(id), partition)
	if err == nil && len(rows) == 0 {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return metastore.IndexRow{}, s.errorf("max timestamp index row of %s/%d: %w", id.String(), partition, err)
	}
	return rows[0], nil
}

// scanIndexRow reads a row of indexRowColumns.
func (s *Store) scanIndexRow(row Row) (metastore.IndexRow, error) {
	var (
		r    metastore.IndexRow
		kind int16
	)
	err := row.Scan(s.d.ScanTopicID(&r.TopicID), &r.Partition, &r.BaseOffset, &r.LastOffset,
		&r.ObjectKey, &r.Pos, &r.Size, &r.MinTimestamp, &r.MaxTimestamp, &kind)
	r.Kind = metastore.RowKind(kind)
	return r, err
}

// insertIndexRow is the statement inserting r, in indexRowColumns order.
func (s *Store) insertIndexRow(r metastore.IndexRow) Stmt {
	return Stmt{s.q.InsertIndexRow, []any{s.d.TopicID(r.TopicID), r.Partition, r.BaseOffset, r.LastOffset,
		r.ObjectKey, r.Pos, r.Size, r.MinTimestamp, r.MaxTimestamp, int16(r.Kind)}}
}

// ProducerStates returns the stored idempotent-producer states of a
// partition, ordered by producer ID.
func (s *Store) ProducerStates(ctx context.Context, id metastore.TopicID, partition int32) ([]metastore.ProducerState, error) {
	states, err := queryAll(ctx, s.db, func(row Row) (metastore.ProducerState, error) {
		var (
			ps      metastore.ProducerState
			batches []byte
		)
		if err := row.Scan(&ps.ProducerID, &ps.Epoch, &batches, &ps.LastTimestamp, &ps.TxnFirstOffset, &ps.MarkerEpoch); err != nil {
			return ps, err
		}
		ps.TxnOpen = ps.TxnFirstOffset >= 0
		if !ps.TxnOpen {
			ps.TxnFirstOffset = 0
		}
		var err error
		if ps.Batches, err = decodeBatches(batches); err != nil {
			return ps, fmt.Errorf("producer %d: %w", ps.ProducerID, err)
		}
		return ps, nil
	}, s.q.SelectProducerStates, s.d.TopicID(id), partition)
	if err != nil {
		return nil, s.errorf("producer states of %s/%d: %w", id.String(), partition, err)
	}
	return states, nil
}

// batchJSON is the stored form of a metastore.ProducerBatch, the same
// JSON in both backends. Its own tags keep it stable if the Go field names
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

// txnFirstColumn is producer_states.txn_first_offset: the open
// transaction's first offset, -1 when none is open.
func txnFirstColumn(ps metastore.ProducerState) int64 {
	if !ps.TxnOpen {
		return -1
	}
	return ps.TxnFirstOffset
}
