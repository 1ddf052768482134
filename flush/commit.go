package flush

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
)

// commit commits what is left of an uploaded plan in one metastore
// transaction.
func (f *Flusher) commit(ctx context.Context, pl *plan) error {
	pending := pl.pending()
	if len(pending) == 0 {
		return nil
	}
	fl := metastore.Flush{AgentID: f.cfg.AgentID, ObjectKey: pl.key, ObjectSize: int64(len(pl.obj)), UploadedAt: pl.uploadedAt}
	for _, pf := range pending {
		id, index := pf.p.TopicID(), pf.p.Index()
		pc := metastore.PartitionCommit{
			TopicID: id, Partition: index, Epoch: pf.epoch,
			PrevHighWatermark: pf.prevHWM, NewHighWatermark: pf.last + 1,
		}
		for _, r := range pf.rows {
			pc.Rows = append(pc.Rows, metastore.IndexRow{
				TopicID: id, Partition: index, BaseOffset: r.first, LastOffset: r.last,
				ObjectKey: pl.key, Pos: pf.chunk.Pos + r.off, Size: r.size,
				MinTimestamp: r.minTS, MaxTimestamp: r.maxTS,
			})
		}
		for pid, e := range pf.producers {
			pc.Producers = append(pc.Producers, e.State(pid))
		}
		pc.Markers, pc.Aborted = pf.markers, pf.aborted
		fl.Partitions = append(fl.Partitions, pc)
	}
	err := f.meta.CommitFlush(ctx, fl)
	switch {
	case err == nil:
		for _, pf := range pending {
			publish(pf, pl.key)
		}
		f.reg.NotifyHWM()
		return nil
	case errors.Is(err, metastore.ErrFenced), errors.Is(err, metastore.ErrConflict):
		// Sort out which partitions were lost, and which an earlier
		// attempt whose answer never arrived did commit; retry the rest.
		if rerr := f.reconcile(ctx, pending, pl.key); rerr != nil {
			return fmt.Errorf("commit %s: %v; reconcile: %w", pl.key, err, rerr)
		}
		return fmt.Errorf("commit %s: %w (retrying the partitions still owned)", pl.key, err)
	case errors.Is(err, metastore.ErrStaleObject):
		// Uploaded too long ago: the caller uploads the bytes again under
		// a new key. Reconcile first, under this key: an earlier attempt
		// whose answer was lost may have committed some partitions (the
		// metastore checks the upload's age before the high watermarks),
		// and those rows point at this key. Only a reconciled plan may
		// change key: the error wraps ErrStaleObject only then. (An
		// attempt still running in the database after its caller gave up
		// could land later, under this key, while the tail is given the
		// new one: reads of those rows then miss the tail and GET this
		// object, which the metastore now knows, so the sweeper keeps it.)
		if rerr := f.reconcile(ctx, pending, pl.key); rerr != nil {
			return fmt.Errorf("commit %s: %v; reconcile: %w", pl.key, err, rerr)
		}
		return fmt.Errorf("commit %s: %w", pl.key, err)
	default:
		return fmt.Errorf("commit %s: %w", pl.key, err)
	}
}

// reconcile re-reads the partitions of a refused commit from the
// metastore.
func (f *Flusher) reconcile(ctx context.Context, pending []*partFlush, key string) error {
	byTopic := map[metastore.TopicID][]metastore.Partition{}
	changed := false
	for _, pf := range pending {
		id := pf.p.TopicID()
		rows, ok := byTopic[id]
		if !ok {
			var err error
			rows, err = f.meta.Partitions(ctx, id)
			if err != nil && !errors.Is(err, metastore.ErrNotFound) {
				return err
			}
			byTopic[id] = rows
		}
		var cur *metastore.Partition
		for i := range rows {
			if rows[i].Partition == pf.p.Index() {
				cur = &rows[i]
			}
		}
		switch {
		case cur == nil || cur.Owner != f.cfg.AgentID || cur.Epoch != pf.epoch:
			f.log.Warn("lost partition ownership; its buffered data is discarded",
				"topic", pf.p.Topic().Name(), "partition", pf.p.Index(), "first_offset", pf.first, "last_offset", pf.last)
			pf.p.Lost(pf.epoch)
			pf.p.Discard(int(pf.batches), pf.bytes)
			pf.done = true
			changed = true
		case cur.HighWatermark == pf.last+1:
			publish(pf, key)
			changed = true
		}
	}
	if changed {
		f.reg.NotifyHWM()
	}
	return nil
}

// publish hands a committed partition flush to the partition log.
func publish(pf *partFlush, key string) {
	pf.done = true
	chunks := make([]partlog.Chunk, 0, len(pf.rows))
	for _, r := range pf.rows {
		chunks = append(chunks, partlog.Chunk{First: r.first, Last: r.last, Data: pf.data[r.off : r.off+r.size],
			ObjectKey: key, Pos: pf.chunk.Pos + r.off})
	}
	pf.p.AddAborted(pf.aborted)
	pf.p.Committed(pf.epoch, pf.last+1, pf.bytes, chunks)
}
