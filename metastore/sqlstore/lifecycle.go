package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stratalog/strata/metastore"
)

// The accounting protocol. Every transaction that adds or removes index
// rows ends with accountObjects over the objects those rows point into:
// each object's row is locked (Queries.LockObjects, in key order) and its
// live bytes and dead_since recomputed from its remaining rows
// (Queries.UpdateLiveBytes), so objects.live_bytes is always exactly the
// sum of the sizes of the rows that reference it. Recomputing rather than
// adding and subtracting keeps it exact whatever happened before (a
// retried commit, a migration); the lock makes it exact under read
// committed, where the last transaction to lock an object sees every
// earlier one's rows. Lock order, everywhere: partition rows, then object
// rows in key order.

// keyChunk bounds the key sets passed to one statement.
const keyChunk = 1000

// accountObjects returns the statements that recompute the live bytes of
// the objects keys (in any order, repeats allowed) at now (unix nanos).
func (s *Store) accountObjects(keys []string, now int64) []Stmt {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var stmts []Stmt
	for chunk := range slices.Chunk(keys, keyChunk) {
		set := s.d.KeySet(chunk)
		if s.q.LockObjects != "" {
			stmts = append(stmts, Stmt{s.q.LockObjects, []any{set}})
		}
		stmts = append(stmts, Stmt{s.q.UpdateLiveBytes, []any{set, now}})
	}
	return stmts
}

// checkUploaded refuses an object uploaded more than MaxCommitDelay ago;
// the zero time is not checked.
func checkUploaded(at time.Time) error {
	if at.IsZero() {
		return nil
	}
	if age := time.Since(at); age > metastore.MaxCommitDelay {
		return fmt.Errorf("%w: uploaded %s ago, more than %s", metastore.ErrStaleObject,
			age.Round(time.Millisecond), metastore.MaxCommitDelay)
	}
	return nil
}

// ClaimLease gives holder the partition's lease until now+ttl (see
// metastore.Lifecycle). It locks the partition row first, so claims
// serialise with the switches and trims that check the lease.
func (s *Store) ClaimLease(ctx context.Context, holder string, id metastore.TopicID, partition int32, now time.Time, ttl time.Duration) (metastore.Lease, error) {
	if holder == "" {
		return metastore.Lease{}, s.errorf("claim lease: empty holder")
	}
	if ttl <= 0 {
		return metastore.Lease{}, s.errorf("claim lease on %s/%d by %q: ttl %s is not positive", id.String(), partition, holder, ttl)
	}
	tid := s.d.TopicID(id)
	l := metastore.Lease{TopicID: id, Partition: partition}
	err := s.db.Update(ctx, func(tx Tx) error {
		if err := s.lockPartitionBounds(ctx, tx, tid, partition, new(int64), new(int64)); err != nil {
			return err
		}
		var expires int64
		err := tx.QueryRow(ctx, s.q.ClaimLease, tid, partition, holder, now.UnixNano(), now.Add(ttl).UnixNano()).
			Scan(&l.Holder, &l.Token, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			var other string
			var token int64
			if err := tx.QueryRow(ctx, s.q.SelectLease, tid, partition).Scan(&other, &token); err != nil {
				return err
			}
			return fmt.Errorf("%w: leased to %q", metastore.ErrConflict, other)
		}
		l.Expires = nanosToTime(expires)
		return err
	})
	if err != nil {
		return metastore.Lease{}, s.errorf("claim lease on %s/%d by %q: %w", id.String(), partition, holder, err)
	}
	return l, nil
}

// ReleaseLease ends l if it is still current; otherwise it does nothing.
// The row stays, holder cleared, so the token keeps growing.
func (s *Store) ReleaseLease(ctx context.Context, l metastore.Lease) error {
	_, err := s.db.Exec(ctx, s.q.ReleaseLease, s.d.TopicID(l.TopicID), l.Partition, l.Holder, l.Token)
	if err != nil {
		return s.errorf("release lease on %s/%d by %q: %w", l.TopicID.String(), l.Partition, l.Holder, err)
	}
	return nil
}

// checkLease returns ErrFenced unless l is the partition's current lease
// (same holder and token; expiry is not checked: an expired lease nobody
// took is still its holder's).
func (s *Store) checkLease(ctx context.Context, tx Tx, tid any, l metastore.Lease) error {
	var (
		holder string
		token  int64
	)
	err := tx.QueryRow(ctx, s.q.SelectLease, tid, l.Partition).Scan(&holder, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: no lease", metastore.ErrFenced)
	}
	if err != nil {
		return err
	}
	if holder != l.Holder || token != l.Token {
		return fmt.Errorf("%w: lease is %q token %d, caller has %q token %d",
			metastore.ErrFenced, holder, token, l.Holder, l.Token)
	}
	return nil
}

// lockPartitionBounds locks the partition row (where there are row locks)
// and reads its high watermark and log start; ErrNotFound if absent.
func (s *Store) lockPartitionBounds(ctx context.Context, tx Tx, tid any, partition int32, hwm, start *int64) error {
	err := tx.QueryRow(ctx, s.q.SelectPartitionBoundsForUpdate, tid, partition).Scan(hwm, start)
	if errors.Is(err, sql.ErrNoRows) {
		return metastore.ErrNotFound
	}
	return err
}

// Replace runs a compaction switch in one transaction (see
// metastore.Lifecycle and metastore.Replacement.Normalize, which it
// calls first). The partition row is locked first, as CommitFlush locks
// it, so switches and flushes of a partition serialise. An Output.Key the
// metastore already knows is ErrExists, before any other check: it may
// be this very switch, committed by an earlier attempt whose answer was
// lost, and the caller must then not delete the object. Inputs that are
// all present but not a contiguous run of the index (another row lies
// between them) are a plain error.
func (s *Store) Replace(ctx context.Context, r metastore.Replacement) error {
	if err := r.Normalize(); err != nil {
		return s.errorf("replace with %q: %w", r.Output.Key, err)
	}
	if err := checkUploaded(r.UploadedAt); err != nil {
		return s.errorf("replace with %q: %w", r.Output.Key, err)
	}
	var (
		tid     = s.d.TopicID(r.Lease.TopicID)
		p       = r.Lease.Partition
		first   = r.Inputs[0].BaseOffset
		last    = r.Inputs[len(r.Inputs)-1].LastOffset
		objKeys = []string{r.Output.Key}
	)
	for _, in := range r.Inputs {
		objKeys = append(objKeys, in.ObjectKey)
	}
	err := s.db.Update(ctx, func(tx Tx) error {
		var st partitionState
		err := tx.QueryRow(ctx, s.q.SelectPartitionForUpdate, tid, p).Scan(&st.owner, &st.epoch, &st.hwm)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %w", metastore.ErrFenced, metastore.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := checkUploaded(r.UploadedAt); err != nil {
			return err
		}
		now := time.Now().UnixNano()
		n, err := tx.Exec(ctx, s.q.InsertObject, r.Output.Key, string(r.Output.Kind), r.Output.Size, now)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: output object %q is already known", metastore.ErrExists, r.Output.Key)
		}
		if err := s.checkLease(ctx, tx, tid, r.Lease); err != nil {
			return err
		}
		current, err := queryAll(ctx, tx, s.scanIndexRow, s.q.SelectIndexRowsSpan, tid, p, first, last)
		if err != nil {
			return err
		}
		byBase := make(map[int64]metastore.IndexRow, len(current))
		for _, c := range current {
			byBase[c.BaseOffset] = c
		}
		for _, in := range r.Inputs {
			c, ok := byBase[in.BaseOffset]
			if !ok || c.LastOffset != in.LastOffset || c.ObjectKey != in.ObjectKey || c.Pos != in.Pos || c.Size != in.Size {
				return fmt.Errorf("%w: input row [%d, %d] of %q is no longer in the index as given",
					metastore.ErrConflict, in.BaseOffset, in.LastOffset, in.ObjectKey)
			}
		}
		if len(current) != len(r.Inputs) {
			return fmt.Errorf("inputs are not a contiguous run: %d index rows lie in [%d, %d], %d inputs",
				len(current), first, last, len(r.Inputs))
		}
		stmts := []Stmt{{s.q.DeleteIndexRowsSpan, []any{tid, p, first, last}}}
		for _, row := range r.Rows {
			stmts = append(stmts, s.insertIndexRow(row))
		}
		stmts = append(stmts, s.accountObjects(objKeys, now)...)
		return tx.Batch(ctx, stmts)
	})
	if err != nil {
		return s.errorf("replace [%d, %d] of %s/%d with %q: %w", first, last,
			r.Lease.TopicID.String(), p, r.Output.Key, err)
	}
	return nil
}

// TrimLog raises the partition's log start and deletes the index rows
// wholly below it (see metastore.Lifecycle). Rows below the current log
// start are deleted even when it does not move, which cleans up after
// metastores that kept them.
func (s *Store) TrimLog(ctx context.Context, lease *metastore.Lease, id metastore.TopicID, partition int32, offset int64) (int64, int, error) {
	if lease != nil && (lease.TopicID != id || lease.Partition != partition) {
		return 0, 0, s.errorf("trim log of %s/%d: lease is for %s/%d", id.String(), partition, lease.TopicID.String(), lease.Partition)
	}
	var (
		start   int64
		deleted int
	)
	err := s.db.Update(ctx, func(tx Tx) error {
		var err error
		start, deleted, err = s.trimLog(ctx, tx, lease, id, partition, offset)
		return err
	})
	if err != nil {
		return 0, 0, s.errorf("trim log of %s/%d to %d: %w", id.String(), partition, offset, err)
	}
	return start, deleted, nil
}

// trimLog is TrimLog inside tx; SetLogStartOffset runs it too.
func (s *Store) trimLog(ctx context.Context, tx Tx, lease *metastore.Lease, id metastore.TopicID, partition int32, offset int64) (int64, int, error) {
	tid := s.d.TopicID(id)
	var hwm, start int64
	if err := s.lockPartitionBounds(ctx, tx, tid, partition, &hwm, &start); err != nil {
		return 0, 0, err
	}
	if lease != nil {
		if err := s.checkLease(ctx, tx, tid, *lease); err != nil {
			return 0, 0, err
		}
	}
	if offset > hwm {
		return 0, 0, fmt.Errorf("%w: offset %d is above the high watermark %d", metastore.ErrConflict, offset, hwm)
	}
	if offset > start {
		start = offset
		if _, err := tx.Exec(ctx, s.q.SetLogStartOffset, tid, partition, start); err != nil {
			return 0, 0, err
		}
		// Aborted transactions wholly below the log start can no longer
		// matter to a reader.
		if _, err := tx.Exec(ctx, s.q.DeleteAbortedBelow, tid, partition, start); err != nil {
			return 0, 0, err
		}
	}
	keys, err := queryAll(ctx, tx, scanString, s.q.SelectTrimObjectKeys, tid, partition, start)
	if err != nil || len(keys) == 0 {
		return start, 0, err
	}
	n, err := tx.Exec(ctx, s.q.DeleteIndexRowsBelow, tid, partition, start)
	if err != nil {
		return 0, 0, err
	}
	if err := tx.Batch(ctx, s.accountObjects(keys, time.Now().UnixNano())); err != nil {
		return 0, 0, err
	}
	return start, int(n), nil
}

// RowCounts counts every partition's index rows by kind.
func (s *Store) RowCounts(ctx context.Context) ([]metastore.PartitionRows, error) {
	counts, err := queryAll(ctx, s.db, func(row Row) (metastore.PartitionRows, error) {
		var (
			pr     metastore.PartitionRows
			oldest int64
		)
		err := row.Scan(s.d.ScanTopicID(&pr.TopicID), &pr.Partition, &pr.FlushRows, &pr.FlushBytes,
			&pr.SegmentRows, &pr.SegmentBytes, &oldest)
		pr.OldestFlush = nanosToTime(oldest)
		return pr, err
	}, s.q.SelectRowCounts)
	if err != nil {
		return nil, s.errorf("row counts: %w", err)
	}
	return counts, nil
}

// DeadObjects returns up to limit dead objects that died before
// deadBefore, oldest first; a limit <= 0 means no limit.
func (s *Store) DeadObjects(ctx context.Context, deadBefore time.Time, limit int) ([]metastore.Object, error) {
	objs, err := queryAll(ctx, s.db, scanObject, s.q.SelectDeadObjects, deadBefore.UnixNano(), s.d.Limit(limit))
	if err != nil {
		return nil, s.errorf("dead objects: %w", err)
	}
	return objs, nil
}

// LowLiveObjects returns up to limit live objects of kind with less than
// ratio of their bytes live, oldest first; a limit <= 0 means no limit.
func (s *Store) LowLiveObjects(ctx context.Context, kind metastore.ObjectKind, ratio float64, limit int) ([]metastore.Object, error) {
	objs, err := queryAll(ctx, s.db, scanObject, s.q.SelectLowLiveObjects, string(kind), ratio, s.d.Limit(limit))
	if err != nil {
		return nil, s.errorf("%s objects below %g live: %w", kind, ratio, err)
	}
	return objs, nil
}

// ForgetObjects removes the rows of those of keys that no index row
// references (and so have no live bytes), in one transaction, and returns
// the keys removed in key order.
func (s *Store) ForgetObjects(ctx context.Context, keys []string) ([]string, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var forgotten []string
	err := s.db.Update(ctx, func(tx Tx) error {
		forgotten = nil
		for chunk := range slices.Chunk(keys, keyChunk) {
			set := s.d.KeySet(chunk)
			// Locked in a statement of its own, as for accounting: the
			// delete then sees every committed row that references them.
			if s.q.LockObjects != "" {
				if _, err := tx.Exec(ctx, s.q.LockObjects, set); err != nil {
					return err
				}
			}
			got, err := queryAll(ctx, tx, scanString, s.q.ForgetObjects, set)
			if err != nil {
				return err
			}
			forgotten = append(forgotten, got...)
		}
		// Remembered for as long as a retried flush commit may still
		// name them (see SelectObjectGoneForUpdate).
		now := time.Now()
		stmts := []Stmt{{s.q.PurgeForgotten, []any{now.Add(-metastore.MaxCommitDelay).UnixNano()}}}
		for _, k := range forgotten {
			stmts = append(stmts, Stmt{s.q.InsertForgotten, []any{k, now.UnixNano()}})
		}
		return tx.Batch(ctx, stmts)
	})
	if err != nil {
		return nil, s.errorf("forget %d objects: %w", len(keys), err)
	}
	slices.Sort(forgotten)
	return forgotten, nil
}

// KnownObjects returns which of keys have an object row (live or dead);
// unknown keys are absent from the map. It reads one snapshot.
func (s *Store) KnownObjects(ctx context.Context, keys []string) (map[string]bool, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var known map[string]bool
	err := s.db.View(ctx, func(tx Tx) error {
		known = make(map[string]bool)
		for chunk := range slices.Chunk(keys, keyChunk) {
			got, err := queryAll(ctx, tx, scanString, s.q.SelectKnownObjects, s.d.KeySet(chunk))
			if err != nil {
				return err
			}
			for _, k := range got {
				known[k] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("known objects among %d: %w", len(keys), err)
	}
	return known, nil
}

// ObjectStats sums the objects by kind and liveness, ordered by kind,
// live before dead. Both kinds are always listed live and dead, with zero
// counts when there are none, so a metric reading them sees every series.
func (s *Store) ObjectStats(ctx context.Context) ([]metastore.ObjectStat, error) {
	stats, err := queryAll(ctx, s.db, func(row Row) (metastore.ObjectStat, error) {
		var (
			st      metastore.ObjectStat
			kind    string
			dead    int
			created int64
		)
		err := row.Scan(&kind, &dead, &st.Count, &st.Bytes, &st.LiveBytes, &created)
		st.Kind, st.Dead, st.OldestCreated = metastore.ObjectKind(kind), dead != 0, nanosToTime(created)
		return st, err
	}, s.q.SelectObjectStats)
	if err != nil {
		return nil, s.errorf("object stats: %w", err)
	}
	for _, kind := range []metastore.ObjectKind{metastore.ObjectFlush, metastore.ObjectSegment} {
		for _, dead := range []bool{false, true} {
			if !slices.ContainsFunc(stats, func(st metastore.ObjectStat) bool { return st.Kind == kind && st.Dead == dead }) {
				stats = append(stats, metastore.ObjectStat{Kind: kind, Dead: dead})
			}
		}
	}
	slices.SortFunc(stats, func(a, b metastore.ObjectStat) int {
		if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.Dead), boolInt(b.Dead))
	})
	return stats, nil
}

// ObjectRows returns the index rows pointing into the object, ordered by
// topic, partition and base offset.
func (s *Store) ObjectRows(ctx context.Context, key string) ([]metastore.IndexRow, error) {
	rows, err := queryAll(ctx, s.db, s.scanIndexRow, s.q.SelectObjectRows, key)
	if err != nil {
		return nil, s.errorf("index rows of object %q: %w", key, err)
	}
	return rows, nil
}

// scanObject reads a row of objectColumns.
func scanObject(row Row) (metastore.Object, error) {
	var (
		o             metastore.Object
		kind          string
		created, dead int64
	)
	err := row.Scan(&o.Key, &kind, &o.Size, &o.LiveBytes, &created, &dead)
	o.Kind, o.CreatedAt, o.DeadSince = metastore.ObjectKind(kind), nanosToTime(created), nanosToTime(dead)
	return o, err
}

func scanString(row Row) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
