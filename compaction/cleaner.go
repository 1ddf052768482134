package compaction

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// pieceBytes bounds one range GET of a segment while cleaning, so a
// pass holds at most this much input at a time.
const pieceBytes = 8 << 20

// maxCleanBatch bounds decompression of one batch while cleaning.
const maxCleanBatch = 256 << 20

// errStopScan ends a scan early.
var errStopScan = errors.New("stop scan")

// CleanResult is what one cleaning pass did.
type CleanResult struct {
	Why      string
	Segments int   // cleaned segments installed
	Read     int64 // bytes read (map build and rewrite)
	Written  int64 // bytes of segments installed
	Removed  int   // records removed
	Keys     int   // distinct keys in the offset map
	MapEnd   int64 // last offset scanned into the map, -1 if none
}

// cleanPartition runs one key-cleaning pass over a partition of a
// compacted topic, under lease, if PlanClean says one is due: it builds
// the offset map over the cleanable dirty rows (as many as the map
// holds), then rewrites the rows from the log start through the last one
// scanned — or, when only tombstones expired, just the clean rows holding
// them — into clean segments of at most the target size, each switched
// in with its own fenced Replace. A pass cut short (crash, lost lease,
// raced retention) leaves the log as it was before the unfinished
// switch, and the next pass starts over from the rows it finds.
func (s *Service) cleanPartition(ctx context.Context, lease *metastore.Lease, rows []metastore.IndexRow, c Cleaning) (CleanResult, error) {
	res := CleanResult{MapEnd: -1}
	nowMs := s.now().UnixMilli()
	plan := PlanClean(rows, nowMs, c)
	res.Why = plan.Why
	if plan.Why == "" {
		return res, nil
	}
	ref := metastore.PartitionRef{TopicID: lease.TopicID, Partition: lease.Partition}
	lastOfProducer := map[int64]int64{}
	states, err := s.meta.ProducerStates(ctx, ref.TopicID, ref.Partition)
	if err != nil {
		return res, err
	}
	for _, st := range states {
		if n := len(st.Batches); n > 0 {
			lastOfProducer[st.ProducerID] = st.Batches[n-1].LastOffset
		}
	}

	// The map need not be larger than the keys the dirty rows can hold
	// (a record takes at least 7 bytes).
	m := newOffsetMap(min(s.cfg.DedupeBytes, (plan.DirtyBytes/7+1)*slotBytes*10/9))
	var runs [][]metastore.IndexRow
	mapEnd := int64(math.MaxInt64) // a horizon pass: nothing newer exists for a clean row's keys
	if plan.Why == "delete-horizon" {
		var run []metastore.IndexRow
		for _, r := range rows[:plan.Clean] {
			if h, _ := cleanKeyHorizon(r.ObjectKey); h > 0 && h <= nowMs {
				run = append(run, r)
				continue
			}
			if len(run) > 0 {
				runs = append(runs, run)
			}
			run = nil
		}
		if len(run) > 0 {
			runs = append(runs, run)
		}
	} else {
		n, err := s.buildOffsetMap(ctx, m, rows[plan.Clean:plan.Cleanable], &res)
		if err != nil {
			return res, err
		}
		runs = [][]metastore.IndexRow{rows[:plan.Clean+n]}
		res.Keys, res.MapEnd = m.count, m.latest
		mapEnd = m.latest
	}
	target := min(s.cfg.TargetSegmentBytes, max(c.SegmentBytes, 1<<20))
	for _, run := range runs {
		if err := s.rewriteRun(ctx, lease, ref, run, m, mapEnd, nowMs, c, lastOfProducer, target, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// buildOffsetMap scans dirty rows in offset order into m until it is
// full, and returns how many leading rows it scanned whole: the rows a
// pass may rewrite. A row only partly scanned stays dirty (the next pass
// scans it again, as Kafka's cleaner restarts from where its map ended),
// unless it is the first: then the pass takes it anyway, keeping the
// records past the map's end as they are, so every pass makes progress.
func (s *Service) buildOffsetMap(ctx context.Context, m *offsetMap, dirty []metastore.IndexRow, res *CleanResult) (int, error) {
	for i, row := range dirty {
		full := false
		err := s.eachBatch(ctx, row, res, func(b []byte, h record.Header) error {
			if h.Control() {
				return nil
			}
			if m.full(int(h.NumRecords)) {
				if m.count == 0 {
					return fmt.Errorf("compaction: a batch of %d records does not fit the offset map of %d keys (raise the dedupe buffer)", h.NumRecords, m.capacity())
				}
				full = true
				return errStopScan
			}
			recs, err := record.Records(b, maxCleanBatch)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Key != nil {
					m.put(r.Key, h.BaseOffset+int64(r.OffsetDelta))
				}
			}
			m.latest = max(m.latest, h.LastOffset())
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return 0, err
		}
		if full {
			return max(i, 1), nil
		}
	}
	return len(dirty), nil
}

// rewriteRun rewrites consecutive rows into clean segments, one Replace
// per segment of about target bytes.
func (s *Service) rewriteRun(ctx context.Context, lease *metastore.Lease, ref metastore.PartitionRef, run []metastore.IndexRow,
	m *offsetMap, mapEnd, nowMs int64, c Cleaning, lastOfProducer map[int64]int64, target int64, res *CleanResult) error {
	w := newSegWriter(ref, s.cfg.ChunkBytes)
	var inputs []metastore.IndexRow
	horizon := int64(0)
	for i, row := range run {
		err := s.eachBatch(ctx, row, res, func(b []byte, h record.Header) error {
			recs, err := record.Records(b, maxCleanBatch)
			if err != nil {
				return err
			}
			last, ok := lastOfProducer[h.ProducerID]
			retainEmpty := h.LastOffset() == row.LastOffset || (h.ProducerID >= 0 && ok && last == h.LastOffset())
			out, err := cleanBatch(b, h, recs, m.get, mapEnd, nowMs, c.DeleteRetentionMs, retainEmpty)
			if err != nil {
				return fmt.Errorf("compaction: clean batch at %d: %w", h.BaseOffset, err)
			}
			res.Removed += out.dropped
			if out.batch == nil {
				return nil
			}
			if out.horizon > 0 && (horizon == 0 || out.horizon < horizon) {
				horizon = out.horizon
			}
			oh, err := record.ParseHeader(out.batch)
			if err != nil {
				return err
			}
			w.add(out.batch, oh, out.minTs)
			return nil
		})
		if err != nil {
			return err
		}
		inputs = append(inputs, row)
		if w.size() >= target || i == len(run)-1 {
			if err := s.installClean(ctx, lease, ref, inputs, w, horizon, res); err != nil {
				return err
			}
			w, inputs, horizon = newSegWriter(ref, s.cfg.ChunkBytes), nil, 0
		}
	}
	return nil
}

// installClean writes one cleaned segment and switches the index from
// inputs to it.
func (s *Service) installClean(ctx context.Context, lease *metastore.Lease, ref metastore.PartitionRef, inputs []metastore.IndexRow,
	w *segWriter, horizon int64, res *CleanResult) error {
	if lease.Expires.Sub(s.now()) < s.cfg.LeaseTTL/2 {
		l, err := s.meta.ClaimLease(ctx, s.cfg.Holder, ref.TopicID, ref.Partition, s.now(), s.cfg.LeaseTTL)
		if err != nil {
			return fmt.Errorf("%w: renew lease: %w", errLost, err)
		}
		*lease = l
	}
	first, last := inputs[0], inputs[len(inputs)-1]
	obj := w.finish()
	key := CleanKey(ref, first.BaseOffset, last.LastOffset, horizon)
	if err := s.put(ctx, key, obj); err != nil {
		return err
	}
	uploaded := s.now()
	s.crash("after-put")
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
		Lease:      *lease,
		Inputs:     inputs,
		Output:     metastore.Object{Key: key, Kind: metastore.ObjectSegment, Size: int64(len(obj))},
		Rows:       []metastore.IndexRow{row},
		UploadedAt: uploaded,
	})
	if err != nil {
		if errors.Is(err, metastore.ErrFenced) || errors.Is(err, metastore.ErrConflict) || errors.Is(err, metastore.ErrStaleObject) {
			s.deleteQuietly(ctx, key)
			return fmt.Errorf("%w: %w", errLost, err)
		}
		return fmt.Errorf("compaction: switch to %s: %w", key, err)
	}
	s.crash("after-switch")
	res.Segments++
	res.Written += int64(len(obj))
	return nil
}

// eachBatch calls fn with every record batch of one index row, in
// order, each checked (CRC, inside the row's offsets). A segment row is
// read in range GETs of about pieceBytes (its footer first), a flush row
// with one.
func (s *Service) eachBatch(ctx context.Context, row metastore.IndexRow, res *CleanResult, fn func([]byte, record.Header) error) error {
	each := func(data []byte) error {
		for len(data) > 0 {
			b, rest, err := record.Next(data)
			if err != nil {
				return fmt.Errorf("compaction: %s [%d, %d]: %w", row.ObjectKey, row.BaseOffset, row.LastOffset, err)
			}
			data = rest
			h, err := record.Validate(b)
			if err != nil {
				return fmt.Errorf("compaction: %s batch at %d: %w", row.ObjectKey, h.BaseOffset, err)
			}
			if h.BaseOffset < row.BaseOffset || h.LastOffset() > row.LastOffset {
				return fmt.Errorf("compaction: %s: batch [%d, %d] outside its row [%d, %d]", row.ObjectKey, h.BaseOffset, h.LastOffset(), row.BaseOffset, row.LastOffset)
			}
			if err := fn(b, h); err != nil {
				return err
			}
		}
		return nil
	}
	if row.Kind == metastore.RowFlush {
		data, err := s.getRange(ctx, row.ObjectKey, row.Pos, row.Size)
		if err != nil {
			return fmt.Errorf("compaction: read %s: %w", row.ObjectKey, err)
		}
		res.Read += int64(len(data))
		return each(data)
	}
	chunks, err := s.segmentChunks(ctx, row)
	if err != nil {
		return err
	}
	for i := 0; i < len(chunks); {
		j, size := i, int64(0)
		for j < len(chunks) && (j == i || size+chunks[j].Size <= pieceBytes) {
			size += chunks[j].Size
			j++
		}
		data, err := s.getRange(ctx, row.ObjectKey, chunks[i].Pos, size)
		if err != nil {
			return fmt.Errorf("compaction: read %s: %w", row.ObjectKey, err)
		}
		res.Read += int64(len(data))
		if err := each(data); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// segmentChunks reads a segment row's footer.
func (s *Service) segmentChunks(ctx context.Context, row metastore.IndexRow) ([]segment.Chunk, error) {
	tailLen := min(row.Size, 64<<10)
	tail, err := s.getRange(ctx, row.ObjectKey, row.Size-tailLen, tailLen)
	if err != nil {
		return nil, fmt.Errorf("compaction: read %s: %w", row.ObjectKey, err)
	}
	footerOff, footerLen, err := segment.ParseTrailer(tail)
	if err != nil {
		return nil, fmt.Errorf("compaction: segment %s: %w", row.ObjectKey, err)
	}
	if footerOff+footerLen+segment.TrailerSize != row.Size {
		return nil, fmt.Errorf("compaction: segment %s: footer at %d+%d does not end a %d-byte object: %w", row.ObjectKey, footerOff, footerLen, row.Size, segment.ErrCorrupt)
	}
	var fb []byte
	if footerLen+segment.TrailerSize <= tailLen {
		fb = tail[tailLen-segment.TrailerSize-footerLen : tailLen-segment.TrailerSize]
	} else if fb, err = s.getRange(ctx, row.ObjectKey, footerOff, footerLen); err != nil {
		return nil, fmt.Errorf("compaction: read %s: %w", row.ObjectKey, err)
	}
	chunks, err := segment.ParseFooter(fb)
	if err != nil {
		return nil, fmt.Errorf("compaction: segment %s: %w", row.ObjectKey, err)
	}
	for _, c := range chunks {
		if c.TopicID != row.TopicID || c.Partition != row.Partition {
			return nil, fmt.Errorf("compaction: segment %s holds %x/%d, indexed as %s/%d", row.ObjectKey, c.TopicID, c.Partition, row.TopicID, row.Partition)
		}
	}
	return chunks, nil
}

// segWriter cuts one partition's batches into chunks of about
// chunkBytes and assembles a segment object.
type segWriter struct {
	b          *segment.Builder
	chunkBytes int64
	chunk      []byte
	meta       segment.ChunkMeta
	body       int64
}

func newSegWriter(ref metastore.PartitionRef, chunkBytes int64) *segWriter {
	w := &segWriter{b: segment.NewBuilder(), chunkBytes: chunkBytes}
	w.meta = segment.ChunkMeta{TopicID: ref.TopicID, Partition: ref.Partition}
	return w
}

// add appends one batch (h its header, minTs its smallest timestamp).
func (w *segWriter) add(batch []byte, h record.Header, minTs int64) {
	if len(w.chunk) > 0 && int64(len(w.chunk)+len(batch)) > w.chunkBytes {
		w.cut()
	}
	if len(w.chunk) == 0 {
		w.meta.FirstOffset, w.meta.MinTimestamp, w.meta.MaxTimestamp = h.BaseOffset, minTs, h.MaxTimestamp
	}
	w.meta.LastOffset = h.LastOffset()
	w.meta.MinTimestamp = min(w.meta.MinTimestamp, minTs)
	w.meta.MaxTimestamp = max(w.meta.MaxTimestamp, h.MaxTimestamp, w.meta.MinTimestamp)
	w.meta.Batches++
	w.chunk = append(w.chunk, batch...)
	w.body += int64(len(batch))
}

func (w *segWriter) cut() {
	if len(w.chunk) > 0 {
		w.b.Add(w.meta, w.chunk)
	}
	w.chunk = w.chunk[:0]
	w.meta = segment.ChunkMeta{TopicID: w.meta.TopicID, Partition: w.meta.Partition}
}

// size is the bytes of batches added so far.
func (w *segWriter) size() int64 { return w.body }

// finish returns the object.
func (w *segWriter) finish() []byte {
	w.cut()
	obj, _ := w.b.Finish()
	return obj
}
