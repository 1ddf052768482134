package partlog

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/stratalog/strata/metastore"
)

// State is a partition's ownership state on this agent.
type State uint8

const (
	// Unowned: not served here (another agent owns it, or nobody does).
	Unowned State = iota
	// Owned: this agent owns the partition at its current epoch and
	// accepts appends.
	Owned
	// Releasing: appends have stopped; once everything buffered is
	// committed, ownership is given up in the metastore.
	Releasing
)

func (s State) String() string {
	switch s {
	case Owned:
		return "owned"
	case Releasing:
		return "releasing"
	default:
		return "unowned"
	}
}

// Partition is one partition's log on this agent.
type Partition struct {
	topic *Topic
	index int32
	reg   *Registry

	// hwm is the committed high watermark; only Committed advances it
	// (and Claimed resets it).
	hwm      atomic.Int64
	logStart atomic.Int64
	// buffered counts this partition's batch bytes appended but not yet
	// committed or discarded; see addBuffered.
	buffered atomic.Int64

	mu struct {
		sync.Mutex
		state State
		// owner is the owning agent as last seen in the metastore ("" for
		// none); Metadata reports it as the leader.
		owner string
		epoch int32
		// nextOffset is the log end offset: one past the last offset
		// assigned, flushed or not.
		nextOffset int64
		// producers is the live idempotent-producer state, including
		// batches not yet flushed.
		producers map[int64]*ProducerEntry
		// claimProducers is the producer state loaded when the current
		// epoch began; the flusher restarts its chain from it.
		claimProducers map[int64]*ProducerEntry
		// txns are the transactions open on the partition as of the
		// high watermark or later (see LastStable).
		txns []openTxn
	}
	aborted abortedIndex

	// rows caches the last index-row lookup for sequential readers.
	rows rowLookup
	// streams tells sequential readers, which get full read-ahead.
	streams readStreams
	tail    tailChunks
}

// Topic is the partition's topic.
func (p *Partition) Topic() *Topic { return p.topic }

// TopicID is the partition's topic ID.
func (p *Partition) TopicID() metastore.TopicID { return p.topic.id }

// Index is the partition number.
func (p *Partition) Index() int32 { return p.index }

// HighWatermark is the committed high watermark.
func (p *Partition) HighWatermark() int64 { return p.hwm.Load() }

// LogStart is the first readable offset.
func (p *Partition) LogStart() int64 { return p.logStart.Load() }

// Buffered is the bytes appended but not yet committed.
func (p *Partition) Buffered() int64 { return p.buffered.Load() }

// RaiseLogStart moves the in-memory log start forward (never back).
func (p *Partition) RaiseLogStart(start int64) {
	for {
		cur := p.logStart.Load()
		if start <= cur || p.logStart.CompareAndSwap(cur, start) {
			return
		}
	}
}

// Status is a consistent snapshot of a partition's ownership and bounds.
type Status struct {
	State State
	// Serving: Owned and the topic not deleted; reads and appends are
	// served only then.
	Serving bool
	Owner   string
	Epoch   int32
	// LogEnd is one past the last offset assigned (flushed or not).
	LogEnd        int64
	HighWatermark int64
	LogStart      int64
}

// Status returns the partition's current status (nil-safe: a nil
// partition is Unowned).
func (p *Partition) Status() Status {
	if p == nil {
		return Status{}
	}
	p.mu.Lock()
	s := Status{State: p.mu.state, Owner: p.mu.owner, Epoch: p.mu.epoch, LogEnd: p.mu.nextOffset}
	p.mu.Unlock()
	s.Serving = s.State == Owned && !p.topic.Deleted()
	s.HighWatermark, s.LogStart = p.hwm.Load(), p.logStart.Load()
	return s
}

// Producers returns the live idempotent-producer state.
func (p *Partition) Producers() []metastore.ProducerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]metastore.ProducerState, 0, len(p.mu.producers))
	for pid, e := range p.mu.producers {
		out = append(out, e.State(pid))
	}
	return out
}

// addBuffered changes the partition's and the registry's buffered bytes
// together. Callers hold p.mu. A deleted topic's partitions no longer
// count (RemoveTopic zeroed them).
func (p *Partition) addBuffered(n int64) {
	if p.topic.Deleted() {
		return
	}
	p.buffered.Add(n)
	v := p.reg.buffered.Add(n)
	p.reg.metrics.bufferedBytes.Set(float64(v))
}

// dropBuffered zeroes a deleted partition's buffered bytes.
func (p *Partition) dropBuffered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.buffered.Swap(0)
	v := p.reg.buffered.Add(-n)
	p.reg.metrics.bufferedBytes.Set(float64(v))
}

// Ownership transitions (package ownership).

// ObserveOwner records the owner the metastore reports, and returns the
// partition's state and epoch.
func (p *Partition) ObserveOwner(owner string) (State, int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.owner = owner
	return p.mu.state, p.mu.epoch
}

// Claimed makes the partition owned at row's epoch (just claimed in the
// metastore), starting from row's high watermark and the stored producer
// state. Whatever was buffered under an earlier epoch can no longer be
// committed; the flusher discards it.
func (p *Partition) Claimed(row metastore.Partition, states []metastore.ProducerState) {
	p.rows.set(nil)
	p.tail.drop(&p.reg.tailMem)
	p.mu.Lock()
	p.hwm.Store(row.HighWatermark)
	p.logStart.Store(row.LogStartOffset)
	p.mu.epoch, p.mu.owner = row.Epoch, p.reg.agentID
	p.mu.nextOffset = row.HighWatermark
	p.mu.producers, p.mu.claimProducers = entriesFromStates(states), entriesFromStates(states)
	p.mu.txns = txnsFromStates(states)
	p.mu.state = Owned
	p.mu.Unlock()
	p.aborted.reset()
	p.reg.metrics.highWatermark.WithLabelValues(p.topic.name, strconv.Itoa(int(p.index))).Set(float64(row.HighWatermark))
	p.reg.NotifyHWM()
}

// StopAppends moves an owned partition to Releasing and returns its epoch.
func (p *Partition) StopAppends() int32 {
	p.mu.Lock()
	p.mu.state = Releasing
	epoch := p.mu.epoch
	p.mu.Unlock()
	p.reg.NotifyHWM()
	return epoch
}

// Released records that ownership was given up in the metastore.
func (p *Partition) Released() {
	p.mu.Lock()
	p.mu.state, p.mu.owner = Unowned, ""
	p.mu.Unlock()
}

// TakenOver records that another agent owns the partition now.
func (p *Partition) TakenOver(owner string) {
	p.mu.Lock()
	p.mu.state, p.mu.owner = Unowned, owner
	p.mu.Unlock()
	p.reg.NotifyHWM()
}

// Lost records that the metastore refused a commit at epoch as fenced:
// if that is still the partition's epoch, it is no longer owned here.
func (p *Partition) Lost(epoch int32) {
	p.mu.Lock()
	if p.mu.epoch == epoch {
		p.mu.state = Unowned
	}
	p.mu.Unlock()
	p.reg.NotifyHWM()
}
