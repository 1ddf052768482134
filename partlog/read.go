package partlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering"
)

// rowLookup caches the last run of index rows fetched for a partition, so
// a sequential reader asks the metastore once per run. Rows can stay here
// long after compaction replaced them; a read of an object that garbage
// collection has since deleted drops the run and asks again (chunkAt).
type rowLookup struct {
	mu   sync.Mutex
	rows []metastore.IndexRow
}

// rowLookupBatch is how many index rows one metastore lookup fetches.
const rowLookupBatch = 32

// maxResolves bounds how often one read asks the metastore again after
// finding its object deleted: each time the index must name a different
// object (compaction can switch a row twice while a read is under way).
const maxResolves = 3

// errBelowLogStart: the offset read is below the partition's log start as
// the metastore has it now (retention or DeleteRecords ran, perhaps in
// another process). Read answers it as it answers any offset below the log
// start: with what it has read so far, and the request layer's next look
// at LogStart says OFFSET_OUT_OF_RANGE.
var errBelowLogStart = errors.New("partlog: offset below the log start")

// find returns the row holding offset and up to ahead rows after it.
func (l *rowLookup) find(offset int64, ahead int) (row metastore.IndexRow, next []metastore.IndexRow, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.rows), func(i int) bool { return l.rows[i].LastOffset >= offset })
	if i < len(l.rows) && l.rows[i].BaseOffset <= offset {
		end := min(len(l.rows), i+1+ahead)
		return l.rows[i], append([]metastore.IndexRow(nil), l.rows[i+1:end]...), true
	}
	return metastore.IndexRow{}, nil, false
}

func (l *rowLookup) set(rows []metastore.IndexRow) {
	l.mu.Lock()
	l.rows = rows
	l.mu.Unlock()
}

// readStreams remembers where the last few reads of a partition ended, so
// a read that starts there is known to be sequential (a consumer catching
// up) and gets full read-ahead. A few, because several consumers may read
// one partition at different offsets.
type readStreams struct {
	mu   sync.Mutex
	ends [4]int64 // end offset + 1; 0 is an unused slot
	next int      // slot the next new stream takes
}

// sequential reports whether a read at offset continues an earlier one.
func (s *readStreams) sequential(offset int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.ends {
		if e == offset+1 {
			return true
		}
	}
	return false
}

// ended records that a read from offset from ended before end.
func (s *readStreams) ended(from, end int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.ends {
		if e == from+1 {
			s.ends[i] = end + 1
			return
		}
	}
	s.ends[s.next] = end + 1
	s.next = (s.next + 1) % len(s.ends)
}

// spanOf is the tiering span an index row points at.
func spanOf(row metastore.IndexRow) tiering.Span {
	return tiering.Span{Key: row.ObjectKey, Pos: row.Pos, Size: row.Size, Segment: row.Kind == metastore.RowSegment,
		TopicID: row.TopicID, Partition: row.Partition}
}

// rowFor finds the index row holding offset, and up to ahead rows after it
// if the same lookup returned them.
func (p *Partition) rowFor(ctx context.Context, offset int64, ahead int) (metastore.IndexRow, []metastore.IndexRow, error) {
	if row, next, ok := p.rows.find(offset, ahead); ok {
		return row, next, nil
	}
	rows, err := p.reg.meta.IndexRows(ctx, p.topic.id, p.index, offset, rowLookupBatch)
	if err != nil {
		return metastore.IndexRow{}, nil, err
	}
	p.rows.set(rows)
	if row, next, ok := p.rows.find(offset, ahead); ok {
		return row, next, nil
	}
	// Rows wholly below a new log start are deleted: that is the likely
	// reason, and then the answer is the log start's.
	if err := p.checkLogStart(ctx, offset); err != nil {
		return metastore.IndexRow{}, nil, err
	}
	return metastore.IndexRow{}, nil, fmt.Errorf("partlog: offset %d of %s/%d is not in the log index", offset, p.topic.name, p.index)
}

// checkLogStart reads the partition's log start from the metastore,
// raises the one in memory to it, and returns errBelowLogStart if offset
// is below it.
func (p *Partition) checkLogStart(ctx context.Context, offset int64) error {
	parts, err := p.reg.meta.Partitions(ctx, p.topic.id)
	if err != nil {
		return fmt.Errorf("partlog: log start of %s/%d: %w", p.topic.name, p.index, err)
	}
	for _, row := range parts {
		if row.Partition == p.index {
			p.RaiseLogStart(row.LogStartOffset)
		}
	}
	if offset < p.logStart.Load() {
		return errBelowLogStart
	}
	return nil
}

// rowBytes returns the bytes a flush index row points at, from the tail,
// the read cache or the object store, in that order.
func (p *Partition) rowBytes(ctx context.Context, row metastore.IndexRow) ([]byte, error) {
	if c := p.tail.findObject(row.ObjectKey, row.Pos); c != nil {
		p.reg.metrics.tailHits.Inc()
		return c.data, nil
	}
	return p.reg.reader.ReadRange(ctx, row.ObjectKey, row.Pos, row.Size)
}

// chunkAt returns stored batches beginning with the batch holding offset
// (the slice may start earlier), about maxBytes of them or more. Tail
// first; otherwise the log index and the object store: a flush row's
// bytes whole, or the chunks of a segment row's block holding offset. A
// read that finds its object deleted (the row was compacted or trimmed
// meanwhile) asks the metastore again and reads the row that holds the
// offset now. Read-ahead is started for what comes next: full for a
// sequential reader.
func (p *Partition) chunkAt(ctx context.Context, offset int64, maxBytes int, sequential bool) ([]byte, error) {
	if c := p.tail.find(offset); c != nil {
		p.reg.metrics.tailHits.Inc()
		return c.data, nil
	}
	ahead := max(p.reg.reader.Config().ReadAhead, 1)
	gone, goneErr := "", error(nil)
	for resolves := 0; ; resolves++ {
		row, next, err := p.rowFor(ctx, offset, ahead)
		if err != nil {
			return nil, err
		}
		if row.ObjectKey == gone {
			return nil, fmt.Errorf("partlog: %s/%d offset %d: the log index still names the deleted object: %w", p.topic.name, p.index, offset, goneErr)
		}
		s := spanOf(row)
		// The segment chunk holding offset comes whole, and offset may
		// be anywhere in it: asking for twice maxBytes from the chunk's
		// start leaves maxBytes after offset in one slice when chunks
		// are no larger than maxBytes (1 MiB chunks, 1 MiB partition
		// fetches), so Read need not copy the next chunk's batches
		// onto these. The extra bytes are a slice of a block read
		// whole anyway.
		want := maxBytes
		if s.Segment && maxBytes < math.MaxInt/2 {
			want = 2 * maxBytes
		}
		data, err := p.reg.reader.Read(ctx, s, offset, want)
		if err == nil {
			p.readAhead(s, offset, next, sequential)
			return data, nil
		}
		if !tiering.Gone(err) || resolves == maxResolves {
			return nil, err
		}
		p.reg.metrics.reresolved.Inc()
		gone, goneErr = row.ObjectKey, err
		p.rows.set(nil)
		if err := p.checkLogStart(ctx, offset); err != nil {
			return nil, err
		}
	}
}

// readAhead starts read-ahead of the rows after the one being read, up to
// the first one the tail holds (the tail serves it and everything after).
func (p *Partition) readAhead(s tiering.Span, offset int64, next []metastore.IndexRow, sequential bool) {
	spans := make([]tiering.Span, 0, len(next))
	for _, row := range next {
		if row.Kind != metastore.RowSegment && p.tail.findObject(row.ObjectKey, row.Pos) != nil {
			break
		}
		spans = append(spans, spanOf(row))
	}
	p.reg.reader.ReadAhead(s, offset, spans, sequential)
}

// Read returns whole record batches from the batch holding offset up to
// maxBytes (but always at least one batch), never reaching hwm (the high
// watermark the caller checked offset against). The result may share
// memory with the tail or the read path: the caller must not modify it.
// An offset found to be below the log start while reading (the
// metastore's, which Read then adopts) ends the read with what it has,
// possibly nothing, and no error: the caller's next look at LogStart tells
// the client.
func (p *Partition) Read(ctx context.Context, offset int64, maxBytes int, hwm int64) ([]byte, error) {
	from := offset
	sequential := p.streams.sequential(offset)
	defer func() { p.streams.ended(from, offset) }()
	var out []byte
	for offset < hwm {
		data, err := p.chunkAt(ctx, offset, maxBytes-len(out), sequential)
		if errors.Is(err, errBelowLogStart) {
			// Long-polling fetches look again now and see the new log start.
			p.reg.NotifyHWM()
			return out, nil
		}
		if err != nil {
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
		// Take the run of batches data[take:end] wanted from this chunk,
		// then append it whole, or use it as it is if it is all there is
		// (no copy: data is never modified, and the cap keeps appends off
		// the bytes after it).
		take, end, pos := -1, 0, 0
		done, progressed := false, false
		var bad error
		for pos < len(data) && !done {
			b, _, err := record.Next(data[pos:])
			if err != nil {
				bad = fmt.Errorf("partlog: stored data of %s/%d near offset %d: %w", p.topic.name, p.index, offset, err)
				break
			}
			h, err := record.ParseHeader(b)
			if err != nil {
				bad = fmt.Errorf("partlog: stored batch of %s/%d: %w", p.topic.name, p.index, err)
				break
			}
			start := pos
			pos += len(b)
			switch have := len(out) + end - max(take, 0); {
			case h.LastOffset() < offset:
				continue
			case h.BaseOffset >= hwm, have > 0 && have+len(b) > maxBytes:
				done = true
				continue
			}
			if take < 0 {
				take = start
			}
			end = pos
			offset = h.LastOffset() + 1
			progressed = true
			done = len(out)+end-take >= maxBytes
		}
		if take >= 0 {
			switch {
			case out == nil:
				out = data[take:end:end]
			case cap(out) == len(out) && len(out) < maxBytes:
				// out is still the first chunk's bytes: copy it once
				// into a buffer with room for the rest, not grown
				// append by append.
				buf := make([]byte, len(out), max(maxBytes, len(out)+end-take))
				copy(buf, out)
				out = append(buf, data[take:end]...)
			default:
				out = append(out, data[take:end]...)
			}
		}
		if bad != nil {
			return out, bad
		}
		if done || !progressed {
			return out, nil
		}
	}
	return out, nil
}

// FindTimestamp returns the first offset whose record timestamp is >= ts,
// and that timestamp; ok is false when no record qualifies. Segment rows
// are narrowed further with their footers' per-chunk timestamps, so only
// the chunks that can hold the answer are read.
func (p *Partition) FindTimestamp(ctx context.Context, ts int64) (offset, found int64, ok bool, err error) {
	for resolves := 0; ; resolves++ {
		offset, found, ok, err = p.findTimestamp(ctx, ts)
		if !tiering.Gone(err) || resolves == maxResolves {
			return offset, found, ok, err
		}
		// A row's object was deleted under us: the index has changed.
		p.reg.metrics.reresolved.Inc()
		if err := p.checkLogStart(ctx, 0); err != nil {
			return 0, 0, false, err
		}
	}
}

func (p *Partition) findTimestamp(ctx context.Context, ts int64) (offset, found int64, ok bool, err error) {
	hwm := p.hwm.Load()
	start := p.logStart.Load()
	for {
		rows, err := p.reg.meta.IndexRowsByTime(ctx, p.topic.id, p.index, ts, rowLookupBatch)
		if err != nil {
			return 0, 0, false, err
		}
		for _, row := range rows {
			if row.LastOffset < start {
				continue
			}
			off, t, ok, err := p.rowTimestamp(ctx, row, ts, start, hwm, false)
			if err != nil || ok {
				return off, t, ok, err
			}
		}
		// IndexRowsByTime filters on MaxTimestamp >= ts, so the first
		// returned row always holds a match unless its batches are all
		// below the log start; ask again past what was seen.
		if len(rows) < rowLookupBatch {
			return 0, 0, false, nil
		}
		start = rows[len(rows)-1].LastOffset + 1
	}
}

// rowTimestamp scans one index row for the first record with timestamp
// >= ts and offset in [start, hwm). For a segment row only the chunks
// whose max timestamp reaches ts are read, first to last; with onlyMax,
// only the first chunk holding the row's largest timestamp.
func (p *Partition) rowTimestamp(ctx context.Context, row metastore.IndexRow, ts, start, hwm int64, onlyMax bool) (int64, int64, bool, error) {
	if row.Kind != metastore.RowSegment {
		data, err := p.rowBytes(ctx, row)
		if err != nil {
			return 0, 0, false, err
		}
		return scanTimestamp(data, ts, start, hwm)
	}
	s := spanOf(row)
	chunks, err := p.reg.reader.Chunks(ctx, s)
	if err != nil {
		return 0, 0, false, err
	}
	for i, c := range chunks {
		if c.MaxTimestamp < ts || c.LastOffset < start {
			continue
		}
		if c.FirstOffset >= hwm {
			break
		}
		data, err := p.reg.reader.ReadChunk(ctx, s, i)
		if err != nil {
			return 0, 0, false, err
		}
		off, t, ok, err := scanTimestamp(data, ts, start, hwm)
		if err != nil || ok || onlyMax {
			return off, t, ok, err
		}
	}
	return 0, 0, false, nil
}

// scanTimestamp scans batches for the first record with timestamp >= ts
// and offset in [start, hwm).
func scanTimestamp(data []byte, ts, start, hwm int64) (int64, int64, bool, error) {
	for len(data) > 0 {
		b, rest, err := record.Next(data)
		if err != nil {
			return 0, 0, false, err
		}
		data = rest
		h, err := record.ParseHeader(b)
		if err != nil {
			return 0, 0, false, err
		}
		if h.MaxTimestamp < ts || h.LastOffset() < start {
			continue
		}
		if h.BaseOffset >= hwm {
			break
		}
		if h.LogAppendTime() {
			return max(h.BaseOffset, start), h.MaxTimestamp, true, nil
		}
		recs, err := record.Records(b, maxDecompressedBatch)
		if err != nil {
			return 0, 0, false, err
		}
		for _, r := range recs {
			off := h.BaseOffset + int64(r.OffsetDelta)
			rts := h.FirstTimestamp + r.TimestampDelta
			if off >= start && off < hwm && rts >= ts {
				return off, rts, true, nil
			}
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp (the first such record on ties). For a segment row,
// only the first chunk holding the row's largest timestamp is read.
func (p *Partition) MaxTimestamp(ctx context.Context) (int64, int64, bool, error) {
	for resolves := 0; ; resolves++ {
		row, err := p.reg.meta.MaxTimestampRow(ctx, p.topic.id, p.index)
		if err != nil {
			return 0, 0, false, err
		}
		off, ts, ok, err := p.rowTimestamp(ctx, row, row.MaxTimestamp, p.logStart.Load(), p.hwm.Load(), true)
		if !tiering.Gone(err) || resolves == maxResolves {
			return off, ts, ok, err
		}
		p.reg.metrics.reresolved.Inc()
		if err := p.checkLogStart(ctx, 0); err != nil {
			return 0, 0, false, err
		}
	}
}
