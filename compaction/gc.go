package compaction

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/tiering/objstore"
)

// gcBatch is how many dead objects one collection round takes.
const gcBatch = objstore.MaxBatchDelete

// CollectOnce deletes the objects that have had no live bytes for longer
// than GCGrace, in batches, and then forgets them in the metastore; it
// returns how many objects it deleted. The metastore is asked first and
// told last, so a crash in between only repeats a delete.
func (s *Service) CollectOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		dead, err := s.meta.DeadObjects(ctx, s.now().Add(-s.cfg.GCGrace), gcBatch)
		if err != nil {
			return total, err
		}
		if len(dead) == 0 {
			return total, nil
		}
		keys := make([]string, len(dead))
		var bytes int64
		for i, o := range dead {
			keys[i] = o.Key
			bytes += o.Size
		}
		s.crash("gc-before-delete")
		if err := s.deleteKeys(ctx, keys); err != nil {
			return total, fmt.Errorf("gc: delete %d dead objects: %w", len(keys), err)
		}
		s.crash("gc-after-delete")
		forgotten, err := s.meta.ForgetObjects(ctx, keys)
		if err != nil {
			return total, fmt.Errorf("gc: forget %d deleted objects: %w", len(keys), err)
		}
		total += len(keys)
		s.metrics.gcObjects.Add(float64(len(keys)))
		s.metrics.gcBytes.Add(float64(bytes))
		s.log.Info("gc", "deleted", len(keys), "bytes", bytes, "forgotten", len(forgotten))
		if len(forgotten) < len(keys) {
			// Some stay known until they may be forgotten (see
			// metastore ForgetObjects); asking again would return them.
			return total, nil
		}
	}
}

// SweepOnce lists the bucket and deletes the objects Strata wrote that
// the metastore does not know (uploads whose commit never happened:
// fenced, crashed, lost compaction races), once they are older than
// OrphanAge; and aborts multipart uploads older than that. It returns how
// many orphans it deleted. Keys of any other shape are never touched.
func (s *Service) SweepOnce(ctx context.Context) (int, error) {
	if err := s.wait(ctx); err != nil {
		return 0, err
	}
	list, err := s.objs.List(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("sweep: list: %w", err)
	}
	cutoff := s.now().Add(-s.cfg.OrphanAge)
	var old []string
	sizes := map[string]int64{}
	for _, o := range list {
		if ownKey(o.Key) && o.Modified.Before(cutoff) {
			old = append(old, o.Key)
			sizes[o.Key] = o.Size
		}
	}
	var orphans []string
	for len(old) > 0 {
		n := min(len(old), 1000)
		known, err := s.meta.KnownObjects(ctx, old[:n])
		if err != nil {
			return 0, fmt.Errorf("sweep: %w", err)
		}
		for _, k := range old[:n] {
			if !known[k] {
				orphans = append(orphans, k)
			}
		}
		old = old[n:]
	}
	var errs []error
	if len(orphans) > 0 {
		var bytes int64
		for _, k := range orphans {
			bytes += sizes[k]
		}
		s.metrics.orphans.Add(float64(len(orphans)))
		if err := s.deleteKeys(ctx, orphans); err != nil {
			errs = append(errs, fmt.Errorf("sweep: delete %d orphans: %w", len(orphans), err))
		} else {
			s.log.Info("sweep", "orphans_deleted", len(orphans), "bytes", bytes)
		}
	}
	if ab, ok := s.objs.(objstore.UploadAborter); ok {
		n, err := ab.AbortStaleUploads(ctx, cutoff)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep: abort stale uploads: %w", err))
		}
		if n > 0 {
			s.metrics.abortedUploads.Add(float64(n))
			s.log.Info("sweep", "aborted_uploads", n)
		}
	}
	return len(orphans), errors.Join(errs...)
}

// UpdateStats refreshes the object gauges and the compaction lag.
func (s *Service) UpdateStats(ctx context.Context) error {
	stats, err := s.meta.ObjectStats(ctx)
	if err != nil {
		return err
	}
	s.metrics.objects.Reset()
	s.metrics.objectBytes.Reset()
	lag := 0.0
	for _, st := range stats {
		state := "live"
		if st.Dead {
			state = "dead"
		}
		s.metrics.objects.WithLabelValues(string(st.Kind), state).Set(float64(st.Count))
		s.metrics.objectBytes.WithLabelValues(string(st.Kind), "live").Add(float64(st.LiveBytes))
		s.metrics.objectBytes.WithLabelValues(string(st.Kind), "dead").Add(float64(st.Bytes - st.LiveBytes))
		if st.Kind == metastore.ObjectFlush && !st.Dead && st.Count > 0 && !st.OldestCreated.IsZero() {
			lag = s.now().Sub(st.OldestCreated).Seconds()
		}
	}
	s.metrics.lag.Set(lag)
	return nil
}
