package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// pieceBytes bounds one range GET of a segment while cleaning; a pass
// holds at most prefetchDepth+1 pieces (or flush rows) at a time.
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
	ref := metastore.PartitionRef{TopicID: lease.TopicID, Partition: lease.Partition}
	states, err := s.meta.ProducerStates(ctx, ref.TopicID, ref.Partition)
	if err != nil {
		return res, err
	}
	// Never past the last stable offset: the committed producer state
	// names the first offset of every transaction still open as of the
	// high watermark; rows reaching it are not cleanable yet.
	for _, st := range states {
		if !st.TxnOpen {
			continue
		}
		for i, r := range rows {
			if r.LastOffset >= st.TxnFirstOffset {
				rows = rows[:i]
				break
			}
		}
	}
	plan := PlanClean(rows, nowMs, c)
	res.Why = plan.Why
	if plan.Why == "" {
		return res, nil
	}
	entries, err := s.meta.AbortedTxns(ctx, ref.TopicID, ref.Partition, 0)
	if err != nil {
		return res, err
	}
	aborted := newAbortedRanges(entries)
	lastOfProducer := map[int64]int64{}
	for _, st := range states {
		if n := len(st.Batches); n > 0 {
			lastOfProducer[st.ProducerID] = st.Batches[n-1].LastOffset
		}
	}

	// The map need not be larger than the keys the dirty rows can hold
	// (a record takes at least 7 bytes).
	base := int64(0)
	if plan.Cleanable > plan.Clean {
		base = rows[plan.Clean].BaseOffset
	}
	m := newOffsetMap(min(s.cfg.DedupeBytes, (plan.DirtyBytes/7+1)*slotBytes*10/9), base)
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
		n, err := s.buildOffsetMap(ctx, m, rows[plan.Clean:plan.Cleanable], aborted, &res)
		if err != nil {
			return res, err
		}
		runs = [][]metastore.IndexRow{rows[:plan.Clean+n]}
		res.Keys, res.MapEnd = m.count, m.latest
		mapEnd = m.latest
	}
	target := min(s.cfg.TargetSegmentBytes, max(c.SegmentBytes, 1<<20))
	for _, run := range runs {
		if err := s.rewriteRun(ctx, lease, ref, run, m, mapEnd, nowMs, c, lastOfProducer, aborted, target, &res); err != nil {
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
//
// Records of aborted transactions never enter the map: they supersede
// nothing.
func (s *Service) buildOffsetMap(ctx context.Context, m *offsetMap, dirty []metastore.IndexRow, aborted abortedRanges, res *CleanResult) (int, error) {
	pf := s.prefetch(ctx, dirty)
	defer pf.stop(res)
	for i, row := range dirty {
		full := false
		err := pf.eachBatch(row, func(b []byte, h record.Header) error {
			if h.Control() || aborted.holds(h) {
				m.latest = max(m.latest, h.LastOffset())
				return nil
			}
			if m.full(int(h.NumRecords), h.LastOffset()) {
				if m.count == 0 {
					return fmt.Errorf("compaction: a batch of %d records does not fit the offset map of %d keys (raise the dedupe buffer)", h.NumRecords, m.capacity())
				}
				full = true
				return errStopScan
			}
			err := record.EachRecord(b, maxCleanBatch, func(od int32, _ int64, key, _ []byte) error {
				if key != nil {
					m.put(key, h.BaseOffset+int64(od))
				}
				return nil
			})
			m.latest = max(m.latest, h.LastOffset())
			return err
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
	m *offsetMap, mapEnd, nowMs int64, c Cleaning, lastOfProducer map[int64]int64, aborted abortedRanges, target int64, res *CleanResult) error {
	// Outputs are cut at row boundaries (a switch replaces whole rows),
	// before a row whose input would take the output past target; a
	// row's output is at most about its input.
	remaining := int64(0)
	for _, r := range run {
		remaining += r.Size
	}
	hint := func() int64 { h := min(remaining, target); return h + h/16 + 4096 }
	w := newSegWriter(ref, s.cfg.ChunkBytes, hint())
	var inputs []metastore.IndexRow
	horizon := int64(0)
	install := func() error {
		if err := s.installClean(ctx, lease, ref, inputs, w, horizon, res); err != nil {
			return err
		}
		w, inputs, horizon = newSegWriter(ref, s.cfg.ChunkBytes, hint()), nil, 0
		return nil
	}
	pf := s.prefetch(ctx, run)
	defer pf.stop(res)
	for _, row := range run {
		if len(inputs) > 0 && w.size()+row.Size > target {
			if err := install(); err != nil {
				return err
			}
		}
		remaining -= row.Size
		err := pf.eachBatch(row, func(b []byte, h record.Header) error {
			last, ok := lastOfProducer[h.ProducerID]
			retainEmpty := h.LastOffset() == row.LastOffset || (h.ProducerID >= 0 && ok && last == h.LastOffset())
			latest := m.get
			if aborted.holds(h) && h.LastOffset() <= mapEnd {
				latest = supersedeAll // an aborted transaction's records go
			}
			out, err := cleanBatch(b, h, latest, mapEnd, nowMs, c.DeleteRetentionMs, retainEmpty)
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
	}
	if len(inputs) > 0 {
		return install()
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
	if err := s.install(ctx, *lease, ref, inputs, key, obj); err != nil {
		return err
	}
	res.Segments++
	res.Written += int64(len(obj))
	return nil
}

// prefetcher reads rows' bytes in order, ahead of their processing and
// with up to prefetchDepth range GETs at once: a flush row in one GET, a
// segment row (footer first) in GETs of about pieceBytes. At most
// prefetchDepth pieces wait while one is processed.
type prefetcher struct {
	ch     chan chan piece // pieces in order, each filled by its GET
	cancel context.CancelFunc
	read   atomic.Int64
	row    int // the next row eachBatch expects
}

// prefetchDepth is how many pieces are fetched ahead.
const prefetchDepth = 3

type piece struct {
	row  int
	data []byte
	last bool // the row's last piece
	err  error
}

func (s *Service) prefetch(ctx context.Context, rows []metastore.IndexRow) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{ch: make(chan chan piece, prefetchDepth-1), cancel: cancel}
	go func() {
		defer close(p.ch)
		// fetch starts one GET and queues its result in order; false
		// when stopping.
		fetch := func(pc piece, key string, pos, size int64) bool {
			out := make(chan piece, 1)
			select {
			case p.ch <- out:
			case <-ctx.Done():
				return false
			}
			go func() {
				data, err := s.getRange(ctx, key, pos, size)
				if err != nil {
					err = fmt.Errorf("compaction: read %s: %w", key, err)
				}
				p.read.Add(int64(len(data)))
				pc.data, pc.err = data, err
				out <- pc
			}()
			return true
		}
		fail := func(pc piece) bool {
			out := make(chan piece, 1)
			out <- pc
			select {
			case p.ch <- out:
				return pc.err == nil
			case <-ctx.Done():
				return false
			}
		}
		for i, row := range rows {
			if row.Kind == metastore.RowFlush {
				if !fetch(piece{row: i, last: true}, row.ObjectKey, row.Pos, row.Size) {
					return
				}
				continue
			}
			chunks, err := s.segmentChunks(ctx, row)
			if err != nil || len(chunks) == 0 {
				if !fail(piece{row: i, last: true, err: err}) {
					return
				}
				continue
			}
			for j := 0; j < len(chunks); {
				k, size := j, int64(0)
				for k < len(chunks) && (k == j || size+chunks[k].Size <= pieceBytes) {
					size += chunks[k].Size
					k++
				}
				if !fetch(piece{row: i, last: k == len(chunks)}, row.ObjectKey, chunks[j].Pos, size) {
					return
				}
				j = k
			}
		}
	}()
	return p
}

// stop ends the prefetching and adds the bytes read to res.
func (p *prefetcher) stop(res *CleanResult) {
	p.cancel()
	for out := range p.ch {
		<-out
	}
	res.Read += p.read.Load()
}

// eachBatch calls fn with every record batch of the next row (row), in
// order, each checked (CRC, inside the row's offsets).
func (p *prefetcher) eachBatch(row metastore.IndexRow, fn func([]byte, record.Header) error) error {
	i := p.row
	p.row++
	for {
		out, ok := <-p.ch
		if !ok {
			return fmt.Errorf("compaction: reading %s stopped", row.ObjectKey)
		}
		pc := <-out
		if pc.err != nil {
			return pc.err
		}
		if pc.row != i {
			return fmt.Errorf("compaction: read row %d, expected row %d", pc.row, i)
		}
		for data := pc.data; len(data) > 0; {
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
		if pc.last {
			return nil
		}
	}
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
// chunkBytes, appended straight into the object being built.
type segWriter struct {
	b          *segment.Builder
	chunkBytes int64
	meta       segment.ChunkMeta
	body       int64
}

// newSegWriter returns a writer whose object has room for about hint
// bytes of batches without growing.
func newSegWriter(ref metastore.PartitionRef, chunkBytes, hint int64) *segWriter {
	w := &segWriter{b: segment.NewBuilderSize(int(hint), int(hint/chunkBytes)+1), chunkBytes: chunkBytes}
	w.meta = segment.ChunkMeta{TopicID: ref.TopicID, Partition: ref.Partition}
	return w
}

// add appends one batch (h its header, minTs its smallest timestamp).
func (w *segWriter) add(batch []byte, h record.Header, minTs int64) {
	if p := w.b.Pending(); p > 0 && int64(p+len(batch)) > w.chunkBytes {
		w.cut()
	}
	if w.b.Pending() == 0 {
		w.meta.FirstOffset, w.meta.MinTimestamp, w.meta.MaxTimestamp = h.BaseOffset, minTs, h.MaxTimestamp
	}
	w.meta.LastOffset = h.LastOffset()
	w.meta.MinTimestamp = min(w.meta.MinTimestamp, minTs)
	w.meta.MaxTimestamp = max(w.meta.MaxTimestamp, h.MaxTimestamp, w.meta.MinTimestamp)
	w.meta.Batches++
	w.b.Append(batch)
	w.body += int64(len(batch))
}

func (w *segWriter) cut() {
	if w.b.Pending() > 0 {
		w.b.Cut(w.meta)
	}
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

// supersedeAll says every record has a newer one: cleanBatch then drops
// them all (keeping the batch empty where it must stay).
func supersedeAll([]byte) int64 { return math.MaxInt64 }

// abortedRanges are a partition's aborted transactions by producer, each
// producer's ranges in offset order (they never overlap).
type abortedRanges map[int64][]metastore.AbortedTxn

func newAbortedRanges(entries []metastore.AbortedTxn) abortedRanges {
	out := abortedRanges{}
	for _, e := range entries {
		out[e.ProducerID] = append(out[e.ProducerID], e)
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b metastore.AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	}
	return out
}

// holds reports whether batch h belongs to an aborted transaction.
func (a abortedRanges) holds(h record.Header) bool {
	if !h.Transactional() || h.Control() || h.ProducerID < 0 {
		return false
	}
	rs := a[h.ProducerID]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].LastOffset >= h.BaseOffset })
	return i < len(rs) && rs[i].FirstOffset <= h.BaseOffset
}
