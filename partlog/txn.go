package partlog

import (
	"context"
	"sort"
	"sync"

	"github.com/stratalog/strata/agent/wal"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
)

// Transactions on one partition: which transactions are open (for the
// last stable offset), markers written by the transaction coordinator,
// and the aborted-transaction index read_committed fetches return.

// openTxn is a transaction with records on the partition whose marker is
// not committed yet: end is the marker's offset once appended, -1 before.
type openTxn struct {
	pid        int64
	first, end int64
}

// abortedIndex is the partition's aborted transactions, loaded from the
// metastore at first use after a claim and extended by every commit of an
// abort marker.
type abortedIndex struct {
	mu      sync.Mutex
	loaded  bool
	entries []metastore.AbortedTxn // by LastOffset
}

// merge adds entries, keeping the index ordered and free of duplicates.
func (a *abortedIndex) mergeLocked(add []metastore.AbortedTxn) {
	if len(add) == 0 {
		return
	}
	a.entries = append(a.entries, add...)
	sort.Slice(a.entries, func(i, j int) bool { return a.entries[i].LastOffset < a.entries[j].LastOffset })
	out := a.entries[:0]
	for i, e := range a.entries {
		if i > 0 && e.LastOffset == out[len(out)-1].LastOffset {
			continue
		}
		out = append(out, e)
	}
	a.entries = out
}

func (a *abortedIndex) reset() {
	a.mu.Lock()
	a.loaded, a.entries = false, nil
	a.mu.Unlock()
}

// txnsFromStates rebuilds the open transactions from stored producer
// state (a claim).
func txnsFromStates(states []metastore.ProducerState) []openTxn {
	var out []openTxn
	for _, s := range states {
		if s.TxnOpen {
			out = append(out, openTxn{pid: s.ProducerID, first: s.TxnFirstOffset, end: -1})
		}
	}
	return out
}

// trackTxnLocked notes an appended batch's effect on the open
// transactions. Callers hold p.mu.
func (p *Partition) trackTxnLocked(pid int64, h record.Header, eff TxnEffect) {
	switch {
	case eff.Opened:
		p.mu.txns = append(p.mu.txns, openTxn{pid: pid, first: h.BaseOffset, end: -1})
	case eff.Marker:
		for i := range p.mu.txns {
			if t := &p.mu.txns[i]; t.pid == pid && t.end < 0 {
				t.end = h.BaseOffset
			}
		}
	}
}

// pruneTxnsLocked forgets transactions whose marker is below hwm.
// Callers hold p.mu.
func (p *Partition) pruneTxnsLocked(hwm int64) {
	out := p.mu.txns[:0]
	for _, t := range p.mu.txns {
		if t.end < 0 || t.end >= hwm {
			out = append(out, t)
		}
	}
	p.mu.txns = out
}

// LastStable is the last stable offset: the high watermark, or the first
// offset of the earliest transaction whose marker is not committed, if
// lower. read_committed consumers read below it.
func (p *Partition) LastStable() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	lso := p.hwm.Load()
	for _, t := range p.mu.txns {
		lso = min(lso, t.first)
	}
	return lso
}

// TxnOpen reports whether producer pid has a transaction open on the
// partition at epoch (its records appended, its marker not).
func (p *Partition) TxnOpen(pid int64, epoch int16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.mu.producers[pid]
	return e != nil && e.epoch == epoch && e.txnFirst >= 0
}

// ProducerTxn is a producer's state as DescribeProducers reports it.
type ProducerTxn struct {
	ProducerID     int64
	Epoch          int16
	LastSequence   int32
	LastTimestamp  int64
	TxnStartOffset int64 // -1 when none is open
}

// ProducerTxns lists the live producers with their open transactions.
func (p *Partition) ProducerTxns() []ProducerTxn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProducerTxn, 0, len(p.mu.producers))
	for pid, e := range p.mu.producers {
		pt := ProducerTxn{ProducerID: pid, Epoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp, TxnStartOffset: e.txnFirst}
		if n := len(e.batches); n > 0 {
			pt.LastSequence = e.batches[n-1].LastSeq
			pt.LastTimestamp = e.batches[n-1].Timestamp
		}
		out = append(out, pt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// AppendMarker appends transaction marker m unless one of its coordinator
// epoch (or a later one) was already appended for the producer; it
// reports whether it appended.
func (p *Partition) AppendMarker(m record.Marker, nowMs int64) (Appended, bool, error) {
	res := Appended{BaseOffset: -1, LogAppendTime: -1, LastOffset: -1}
	b := record.BuildMarker(m, nowMs)
	h, err := record.ParseHeader(b)
	if err != nil {
		return res, false, err
	}
	r := p.reg
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.state != Owned || p.topic.Deleted() {
		return res, false, ErrNotOwner
	}
	if e := p.mu.producers[m.ProducerID]; e != nil && e.markerEpoch >= m.CoordinatorEpoch {
		return res, false, nil
	}
	h.BaseOffset = p.mu.nextOffset
	record.SetBaseOffset(b, h.BaseOffset)
	record.SetPartitionLeaderEpoch(b, p.mu.epoch)
	p.mu.nextOffset = h.LastOffset() + 1
	eff := ApplyBatch(p.mu.producers, b, h, nowMs)
	p.trackTxnLocked(m.ProducerID, h, eff)
	res.Epoch = p.mu.epoch
	res.BaseOffset, res.LastOffset = h.BaseOffset, h.LastOffset()
	res.Syncs = append(res.Syncs, r.wal.Append(wal.Entry{TopicID: p.topic.id, Partition: p.index, Epoch: p.mu.epoch, Batch: b}))
	p.addBuffered(int64(len(b)))
	r.Kick()
	return res, true, nil
}

// AddAborted adds committed abort markers' entries to the aborted index
// (the flusher calls it before Committed moves the high watermark past
// them).
func (p *Partition) AddAborted(entries []metastore.AbortedTxn) {
	if len(entries) == 0 {
		return
	}
	p.aborted.mu.Lock()
	p.aborted.mergeLocked(entries)
	p.aborted.mu.Unlock()
}

// AbortedIn returns the aborted transactions that overlap [from, to]:
// those a read_committed reader of those offsets must skip.
func (p *Partition) AbortedIn(ctx context.Context, from, to int64) ([]metastore.AbortedTxn, error) {
	a := &p.aborted
	a.mu.Lock()
	loaded := a.loaded
	a.mu.Unlock()
	if !loaded {
		entries, err := p.reg.meta.AbortedTxns(ctx, p.topic.id, p.index, p.logStart.Load())
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.mergeLocked(entries)
		a.loaded = true
		a.mu.Unlock()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	start := p.logStart.Load()
	i := sort.Search(len(a.entries), func(i int) bool { return a.entries[i].LastOffset >= max(from, start) })
	if i > 0 && len(a.entries) > 1024 && a.entries[i-1].LastOffset < start {
		// Forget what retention cut away.
		a.entries = append(a.entries[:0], a.entries[sort.Search(len(a.entries), func(i int) bool { return a.entries[i].LastOffset >= start }):]...)
		i = sort.Search(len(a.entries), func(i int) bool { return a.entries[i].LastOffset >= max(from, start) })
	}
	var out []metastore.AbortedTxn
	for _, e := range a.entries[i:] {
		if e.FirstOffset <= to {
			out = append(out, e)
		}
	}
	return out, nil
}
