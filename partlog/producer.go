package partlog

import (
	"fmt"
	"math"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
)

// maxProducerBatches is the idempotent in-flight window: Kafka clients
// keep at most 5 batches in flight per partition, so the 5 most recent
// batches are enough to recognise any retry.
const maxProducerBatches = 5

// ProducerEntry is one idempotent producer's state on one partition.
type ProducerEntry struct {
	epoch         int16
	batches       []metastore.ProducerBatch // oldest first
	lastTimestamp int64
	// txnFirst is the first offset of the producer's open transaction on
	// the partition, -1 when none is open.
	txnFirst int64
	// markerEpoch is the coordinator epoch of the last marker written for
	// the producer, -1 if none.
	markerEpoch int32
}

func newEntry(epoch int16) *ProducerEntry {
	return &ProducerEntry{epoch: epoch, txnFirst: -1, markerEpoch: -1}
}

func entriesFromStates(states []metastore.ProducerState) map[int64]*ProducerEntry {
	m := make(map[int64]*ProducerEntry, len(states))
	for _, s := range states {
		m[s.ProducerID] = entryFromState(s)
	}
	return m
}

func entryFromState(s metastore.ProducerState) *ProducerEntry {
	return &ProducerEntry{epoch: s.Epoch, batches: append([]metastore.ProducerBatch(nil), s.Batches...), lastTimestamp: s.LastTimestamp,
		txnFirst: txnFirstOf(s), markerEpoch: s.MarkerEpoch}
}

// Clone returns a deep copy.
func (e *ProducerEntry) Clone() *ProducerEntry {
	c := *e
	c.batches = append([]metastore.ProducerBatch(nil), e.batches...)
	return &c
}

// State is the entry as the metastore stores it.
func (e *ProducerEntry) State(pid int64) metastore.ProducerState {
	return metastore.ProducerState{ProducerID: pid, Epoch: e.epoch, Batches: append([]metastore.ProducerBatch(nil), e.batches...), LastTimestamp: e.lastTimestamp,
		TxnOpen: e.txnFirst >= 0, TxnFirstOffset: max(e.txnFirst, 0), MarkerEpoch: e.markerEpoch}
}

// TxnFirst is the first offset of the producer's open transaction, -1
// when none is open.
func (e *ProducerEntry) TxnFirst() int64 { return e.txnFirst }

// seqAdd adds n to a sequence number, wrapping at MaxInt32 as Kafka does.
func seqAdd(seq int32, n int32) int32 {
	s := int64(seq) + int64(n)
	if s > math.MaxInt32 {
		s -= math.MaxInt32 + 1
	}
	return int32(s)
}

// lastSeq is the sequence number of the batch's last record.
func lastSeq(h record.Header) int32 { return seqAdd(h.BaseSequence, h.LastOffsetDelta) }

// checkSequence decides whether batch h of an idempotent producer may be
// appended. It returns the original batch when h is a retry of a batch
// already appended (the caller answers with its offset), ErrOutOfOrder for
// a gap, ErrProducerFenced for a stale epoch.
func checkSequence(e *ProducerEntry, h record.Header) (*metastore.ProducerBatch, error) {
	if e == nil {
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: new producer %d starts at sequence %d, want 0", ErrOutOfOrder, h.ProducerID, h.BaseSequence)
		}
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, fmt.Errorf("%w: producer %d epoch %d < %d", ErrProducerFenced, h.ProducerID, h.ProducerEpoch, e.epoch)
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d, want 0", ErrOutOfOrder, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil, nil
	}
	last := lastSeq(h)
	for i := range e.batches {
		b := &e.batches[i]
		if b.FirstSeq == h.BaseSequence && b.LastSeq == last {
			return b, nil
		}
	}
	if len(e.batches) == 0 {
		return nil, nil
	}
	want := seqAdd(e.batches[len(e.batches)-1].LastSeq, 1)
	if h.BaseSequence != want {
		return nil, fmt.Errorf("%w: producer %d sequence %d, want %d", ErrOutOfOrder, h.ProducerID, h.BaseSequence, want)
	}
	return nil, nil
}

// RecordProducerBatch notes an appended batch of h in the producer map, creating or
// resetting the entry as needed.
func RecordProducerBatch(m map[int64]*ProducerEntry, h record.Header, nowMs int64) {
	e := m[h.ProducerID]
	if e == nil || e.epoch != h.ProducerEpoch {
		ne := newEntry(h.ProducerEpoch)
		if e != nil {
			ne.markerEpoch, ne.txnFirst = e.markerEpoch, e.txnFirst
		}
		e = ne
		m[h.ProducerID] = e
	}
	if h.Transactional() && e.txnFirst < 0 {
		e.txnFirst = h.BaseOffset
	}
	e.batches = append(e.batches, metastore.ProducerBatch{
		FirstSeq:   h.BaseSequence,
		LastSeq:    lastSeq(h),
		BaseOffset: h.BaseOffset,
		LastOffset: h.LastOffset(),
		Timestamp:  h.MaxTimestamp,
	})
	if n := len(e.batches); n > maxProducerBatches {
		e.batches = append(e.batches[:0], e.batches[n-maxProducerBatches:]...)
	}
	e.lastTimestamp = nowMs
}

// TxnEffect is what one batch did to its producer's transaction on the
// partition.
type TxnEffect struct {
	// Opened: a transactional batch opened a transaction at its base
	// offset.
	Opened bool
	// Marker: a control batch ended the producer's transaction (or marked
	// one that wrote nothing here). First is the transaction's first
	// offset on the partition, -1 if it wrote nothing here.
	Marker bool
	Done   metastore.MarkerDone
	Commit bool
	First  int64
}

// Aborted is the aborted-index entry an abort marker adds, if any.
func (t TxnEffect) Aborted(markerOffset int64, pid int64) (metastore.AbortedTxn, bool) {
	if !t.Marker || t.Commit || t.First < 0 {
		return metastore.AbortedTxn{}, false
	}
	return metastore.AbortedTxn{ProducerID: pid, FirstOffset: t.First, LastOffset: markerOffset}, true
}

// ApplyBatch records batch b (header h, at its assigned offsets) in the
// producer map: sequences of data batches, transaction bounds of
// transactional and control batches. It returns the batch's effect on
// the producer's transaction.
func ApplyBatch(m map[int64]*ProducerEntry, b []byte, h record.Header, nowMs int64) TxnEffect {
	if h.ProducerID < 0 {
		return TxnEffect{}
	}
	if !h.Control() {
		e := m[h.ProducerID]
		opened := h.Transactional() && (e == nil || e.txnFirst < 0)
		RecordProducerBatch(m, h, nowMs)
		return TxnEffect{Opened: opened}
	}
	mk, err := record.ParseMarker(b)
	if err != nil {
		return TxnEffect{}
	}
	e := m[h.ProducerID]
	switch {
	case e == nil:
		e = newEntry(h.ProducerEpoch)
		m[h.ProducerID] = e
	case h.ProducerEpoch > e.epoch:
		// A bumped epoch (an abort that fenced the producer, or EndTxn
		// v5): its sequences start over.
		e.epoch, e.batches = h.ProducerEpoch, nil
	}
	eff := TxnEffect{Marker: true, Commit: mk.Commit, First: e.txnFirst,
		Done: metastore.MarkerDone{ProducerID: h.ProducerID, CoordinatorEpoch: mk.CoordinatorEpoch}}
	e.txnFirst = -1
	e.markerEpoch = max(e.markerEpoch, mk.CoordinatorEpoch)
	e.lastTimestamp = nowMs
	return eff
}

// txnFirstOf is s's open transaction's first offset, -1 when none.
func txnFirstOf(s metastore.ProducerState) int64 {
	if !s.TxnOpen {
		return -1
	}
	return s.TxnFirstOffset
}
