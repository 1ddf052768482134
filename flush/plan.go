package flush

import (
	"log/slog"
	"time"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// indexRowBytes is the target size of one log-index row: about one
// half of a fetch's worth of a partition (Kafka's default
// max.partition.fetch.bytes is 1 MiB), so a historical read range-GETs
// about what one fetch needs rather than a whole chunk.
const indexRowBytes = 512 << 10

// partFlush is one partition's share of a plan: a run of batches of one
// epoch, contiguous in offsets.
type partFlush struct {
	p           *partlog.Partition
	epoch       int32
	prevHWM     int64
	first, last int64
	minTS       int64
	maxTS       int64
	batches     int32
	bytes       int64    // batch bytes, as counted in the partition's buffer
	data        []byte   // the chunk's bytes in the planned object
	pieces      [][]byte // the batches, until they are copied into the object
	chunk       segment.Chunk
	producers   map[int64]*partlog.ProducerEntry // touched entries, updated
	markers     []metastore.MarkerDone           // transaction markers written
	aborted     []metastore.AbortedTxn           // transactions the markers abort
	rows        []indexRow
	done        bool // committed or dropped (possibly by an earlier ambiguous attempt)
}

// indexRow is one log-index row within a partition's chunk; off is
// relative to the chunk.
type indexRow struct {
	first, last  int64
	minTS, maxTS int64
	off, size    int64
}

// addToRows accounts one batch in the partition's index rows.
func (pf *partFlush) addToRows(h record.Header, ts int64, off, size int64) {
	n := len(pf.rows)
	if n == 0 || pf.rows[n-1].size >= indexRowBytes {
		pf.rows = append(pf.rows, indexRow{first: h.BaseOffset, minTS: ts, maxTS: h.MaxTimestamp, off: off})
		n++
	}
	r := &pf.rows[n-1]
	r.last = h.LastOffset()
	r.minTS = min(r.minTS, ts)
	r.maxTS = max(r.maxTS, h.MaxTimestamp)
	r.size += size
}

func (pf *partFlush) nextOffset() int64 {
	if pf.batches == 0 {
		return pf.first
	}
	return pf.last + 1
}

// plan is everything needed to upload and commit one sealed generation;
// it is built once and retried as a whole. key changes only when a commit
// is refused as stale (the same bytes are uploaded again under a new key).
type plan struct {
	gen      *wal.Gen
	key      string
	obj      []byte
	parts    []*partFlush
	sealed   time.Time
	uploaded chan struct{} // closed once the object is in the store
	upErr    error         // set before uploaded is closed if ctx ended first
	// uploadedAt is when the PUT of key finished (set before uploaded is
	// closed, then by the committer alone): the commit's
	// metastore.Flush.UploadedAt.
	uploadedAt time.Time
}

func (pl *plan) pending() []*partFlush {
	var out []*partFlush
	for _, pf := range pl.parts {
		if !pf.done {
			out = append(out, pf)
		}
	}
	return out
}

// chain is where a partition's next plan starts: the high watermark and
// producer state past every plan sealed so far at epoch.
type chain struct {
	epoch     int32
	hwm       int64
	producers map[int64]*partlog.ProducerEntry
}

// planner groups sealed generations into plans. Its chains are owned by
// the sealer goroutine.
type planner struct {
	reg    *partlog.Registry
	log    *slog.Logger
	chains map[*partlog.Partition]*chain
	now    func() time.Time
}

func newPlanner(reg *partlog.Registry, log *slog.Logger) *planner {
	return &planner{reg: reg, log: log, chains: map[*partlog.Partition]*chain{}, now: time.Now}
}

// chainFor returns p's chain at epoch, starting a new one from the state
// the epoch was claimed with when the epoch changed.
func (pn *planner) chainFor(p *partlog.Partition, epoch int32) *chain {
	if c := pn.chains[p]; c != nil && c.epoch == epoch {
		return c
	}
	e, hwm, producers := p.ChainStart()
	c := &chain{epoch: e, hwm: hwm, producers: producers}
	pn.chains[p] = c
	return c
}

// plan groups a sealed generation's entries by partition and builds the
// object. Entries that can never be committed are discarded here:
// partitions of deleted topics, batches of an epoch the partition no
// longer has (it was lost and claimed again inside the generation), and
// batches that do not continue their partition's chain.
func (pn *planner) plan(gen *wal.Gen, entries []wal.Entry, objectKey func() string) *plan {
	pl := &plan{gen: gen}
	byPart := map[*partlog.Partition]*partFlush{}
	var order []*partFlush
	orphans := 0
	type drop struct {
		batches int
		bytes   int64
	}
	drops := map[*partlog.Partition]*drop{}
	discard := func(p *partlog.Partition, batches int, n int64) {
		d := drops[p]
		if d == nil {
			d = &drop{}
			drops[p] = d
		}
		d.batches += batches
		d.bytes += n
	}
	for _, e := range entries {
		p := pn.reg.Partition(metastore.TopicID(e.TopicID), e.Partition)
		if p == nil || p.Topic().Deleted() {
			orphans++
			continue
		}
		size := int64(len(e.Batch))
		h, err := record.ParseHeader(e.Batch)
		if err != nil {
			pn.log.Error("unreadable batch in write-ahead buffer", "err", err)
			discard(p, 1, size)
			continue
		}
		if cur, _ := p.Epoch(); e.Epoch != cur {
			discard(p, 1, size) // appended under an epoch since lost
			continue
		}
		pf := byPart[p]
		if pf == nil {
			c := pn.chainFor(p, e.Epoch)
			pf = &partFlush{p: p, epoch: e.Epoch, prevHWM: c.hwm, first: h.BaseOffset, minTS: h.MaxTimestamp, maxTS: h.MaxTimestamp,
				producers: map[int64]*partlog.ProducerEntry{}}
			byPart[p] = pf
			order = append(order, pf)
		}
		if e.Epoch != pf.epoch || h.BaseOffset != pf.nextOffset() {
			// The epoch changed between the two reads above, or a gap:
			// never commit out of order.
			discard(p, 1, size)
			continue
		}
		ts := h.FirstTimestamp
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		pf.minTS = min(pf.minTS, ts)
		pf.maxTS = max(pf.maxTS, h.MaxTimestamp)
		pf.last = h.LastOffset()
		pf.batches++
		pf.addToRows(h, ts, pf.bytes, size)
		pf.bytes += size
		pf.pieces = append(pf.pieces, e.Batch)
		if h.ProducerID >= 0 {
			if _, ok := pf.producers[h.ProducerID]; !ok {
				if old := pn.chains[p].producers[h.ProducerID]; old != nil {
					pf.producers[h.ProducerID] = old.Clone()
				}
			}
			eff := partlog.ApplyBatch(pf.producers, e.Batch, h, pn.now().UnixMilli())
			if eff.Marker {
				pf.markers = append(pf.markers, eff.Done)
				if a, ok := eff.Aborted(h.BaseOffset, h.ProducerID); ok {
					pf.aborted = append(pf.aborted, a)
				}
			}
		}
	}
	// Each batch is copied once, into an object sized for all of them.
	var total int64
	for _, pf := range order {
		total += pf.bytes
	}
	b := segment.NewBuilderSize(int(total), len(order))
	for _, pf := range order {
		if pf.batches == 0 {
			continue
		}
		if pf.first != pf.prevHWM {
			// Does not continue the chain (a gap after a lost epoch):
			// nothing committable.
			discard(pf.p, int(pf.batches), pf.bytes)
			continue
		}
		c := pn.chains[pf.p]
		c.hwm = pf.last + 1
		for pid, e := range pf.producers {
			// The plan keeps its own copy: the committer reads it while
			// the sealer plans the next generation.
			c.producers[pid] = e.Clone()
		}
		for _, batch := range pf.pieces {
			b.Append(batch)
		}
		pf.pieces = nil
		b.Cut(segment.ChunkMeta{TopicID: pf.p.TopicID(), Partition: pf.p.Index(), FirstOffset: pf.first, LastOffset: pf.last,
			MinTimestamp: pf.minTS, MaxTimestamp: pf.maxTS, Batches: pf.batches})
		pl.parts = append(pl.parts, pf)
	}
	for p, d := range drops {
		pn.log.Warn("discarded buffered batches that can no longer be committed",
			"topic", p.Topic().Name(), "partition", p.Index(), "batches", d.batches, "bytes", d.bytes)
		p.Discard(d.batches, d.bytes)
	}
	if orphans > 0 {
		pn.reg.DiscardOrphans(orphans)
	}
	for p := range pn.chains {
		if p.Topic().Deleted() {
			delete(pn.chains, p)
		}
	}
	if len(pl.parts) == 0 {
		return pl
	}
	obj, chunks := b.Finish()
	pl.obj = obj
	for i, pf := range pl.parts {
		pf.chunk = chunks[i]
		pf.data = obj[chunks[i].Pos : chunks[i].Pos+chunks[i].Size]
	}
	pl.key = objectKey()
	return pl
}
