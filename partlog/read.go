package partlog

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
)

// rowLookup caches the last run of index rows fetched for a partition, so
// a sequential reader asks the metastore once per run.
type rowLookup struct {
	mu   sync.Mutex
	rows []metastore.IndexRow
}

// rowLookupBatch is how many index rows one metastore lookup fetches.
const rowLookupBatch = 32

func (l *rowLookup) find(offset int64) (row metastore.IndexRow, next *metastore.IndexRow, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.rows), func(i int) bool { return l.rows[i].LastOffset >= offset })
	if i < len(l.rows) && l.rows[i].BaseOffset <= offset {
		if i+1 < len(l.rows) {
			n := l.rows[i+1]
			next = &n
		}
		return l.rows[i], next, true
	}
	return metastore.IndexRow{}, nil, false
}

func (l *rowLookup) set(rows []metastore.IndexRow) {
	l.mu.Lock()
	l.rows = rows
	l.mu.Unlock()
}

// rowFor finds the index row holding offset, and the row after it if the
// same lookup returned one.
func (p *Partition) rowFor(ctx context.Context, offset int64) (metastore.IndexRow, *metastore.IndexRow, error) {
	if row, next, ok := p.rows.find(offset); ok {
		return row, next, nil
	}
	rows, err := p.reg.meta.IndexRows(ctx, p.topic.id, p.index, offset, rowLookupBatch)
	if err != nil {
		return metastore.IndexRow{}, nil, err
	}
	p.rows.set(rows)
	if row, next, ok := p.rows.find(offset); ok {
		return row, next, nil
	}
	return metastore.IndexRow{}, nil, fmt.Errorf("partlog: offset %d of %s/%d is not in the log index", offset, p.topic.name, p.index)
}

// rowBytes returns the bytes an index row points at, from the tail, the
// read cache or the object store, in that order.
func (p *Partition) rowBytes(ctx context.Context, row metastore.IndexRow) ([]byte, error) {
	if c := p.tail.findObject(row.ObjectKey, row.Pos); c != nil {
		p.reg.metrics.tailHits.Inc()
		return c.data, nil
	}
	return p.reg.reader.ReadRange(ctx, row.ObjectKey, row.Pos, row.Size)
}

// chunkAt returns stored batches beginning with the batch holding offset
// (the slice may start earlier). Tail first; otherwise the log index and
// the object store, prefetching the next index row's bytes for sequential
// readers.
func (p *Partition) chunkAt(ctx context.Context, offset int64) ([]byte, error) {
	if c := p.tail.find(offset); c != nil {
		p.reg.metrics.tailHits.Inc()
		return c.data, nil
	}
	row, next, err := p.rowFor(ctx, offset)
	if err != nil {
		return nil, err
	}
	data, err := p.reg.reader.ReadRange(ctx, row.ObjectKey, row.Pos, row.Size)
	if err != nil {
		return nil, err
	}
	if next != nil && p.tail.findObject(next.ObjectKey, next.Pos) == nil {
		p.reg.reader.Prefetch(next.ObjectKey, next.Pos, next.Size)
	}
	return data, nil
}

// Read returns whole record batches from the batch holding offset up to
// maxBytes (but always at least one batch), never reaching hwm (the high
// watermark the caller checked offset against).
func (p *Partition) Read(ctx context.Context, offset int64, maxBytes int, hwm int64) ([]byte, error) {
	var out []byte
	for offset < hwm {
		data, err := p.chunkAt(ctx, offset)
		if err != nil {
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
		progressed := false
		for len(data) > 0 {
			b, rest, err := record.Next(data)
			if err != nil {
				return out, fmt.Errorf("partlog: stored data of %s/%d near offset %d: %w", p.topic.name, p.index, offset, err)
			}
			data = rest
			h, err := record.ParseHeader(b)
			if err != nil {
				return out, fmt.Errorf("partlog: stored batch of %s/%d: %w", p.topic.name, p.index, err)
			}
			if h.LastOffset() < offset {
				continue
			}
			if h.BaseOffset >= hwm {
				return out, nil
			}
			if len(out) > 0 && len(out)+len(b) > maxBytes {
				return out, nil
			}
			out = append(out, b...)
			offset = h.LastOffset() + 1
			progressed = true
			if len(out) >= maxBytes {
				return out, nil
			}
		}
		if !progressed {
			return out, nil
		}
	}
	return out, nil
}

// FindTimestamp returns the first offset whose record timestamp is >= ts,
// and that timestamp; ok is false when no record qualifies.
func (p *Partition) FindTimestamp(ctx context.Context, ts int64) (offset, found int64, ok bool, err error) {
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
			data, err := p.rowBytes(ctx, row)
			if err != nil {
				return 0, 0, false, err
			}
			off, t, ok, err := scanTimestamp(data, ts, start, hwm)
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
// largest timestamp (the first such record on ties).
func (p *Partition) MaxTimestamp(ctx context.Context) (int64, int64, bool, error) {
	row, err := p.reg.meta.MaxTimestampRow(ctx, p.topic.id, p.index)
	if err != nil {
		return 0, 0, false, err
	}
	data, err := p.rowBytes(ctx, row)
	if err != nil {
		return 0, 0, false, err
	}
	return scanTimestamp(data, row.MaxTimestamp, p.logStart.Load(), p.hwm.Load())
}
