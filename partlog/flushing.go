package partlog

import "strconv"

// What package flush needs of a partition. The flusher chains each
// partition's plans (high watermark and producer state as of the last
// plan sealed); a chain starts over whenever the epoch changes.

// Epoch returns the partition's current epoch and state.
func (p *Partition) Epoch() (int32, State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.epoch, p.mu.state
}

// ChainStart returns where a flush chain for the current epoch begins:
// the epoch, the high watermark it was claimed at and a copy of the
// producer state loaded with it.
func (p *Partition) ChainStart() (epoch int32, hwm int64, producers map[int64]*ProducerEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	producers = make(map[int64]*ProducerEntry, len(p.mu.claimProducers))
	for pid, e := range p.mu.claimProducers {
		producers[pid] = e.Clone()
	}
	return p.mu.epoch, p.hwm.Load(), producers
}

// Chunk is a committed run of batches that the tail keeps in memory: a
// slice of the uploaded object at Pos.
type Chunk struct {
	First, Last int64
	Data        []byte
	ObjectKey   string
	Pos         int64
}

// Committed publishes a commit at epoch: its chunks join the tail, its
// bytes leave the buffer, and the high watermark moves to newHWM unless
// the epoch has changed meanwhile (a commit of a lost epoch must not move
// the high watermark the new epoch loaded). Callers then NotifyHWM.
func (p *Partition) Committed(epoch int32, newHWM int64, bytes int64, chunks []Chunk) {
	for _, c := range chunks {
		p.tail.add(&p.reg.tailMem, &tailChunk{base: c.First, last: c.Last, data: c.Data, objectKey: c.ObjectKey, pos: c.Pos})
	}
	p.mu.Lock()
	p.addBuffered(-bytes)
	moved := p.mu.epoch == epoch
	if moved {
		p.hwm.Store(newHWM)
		p.pruneTxnsLocked(newHWM)
	}
	p.mu.Unlock()
	if moved {
		p.reg.metrics.highWatermark.WithLabelValues(p.topic.name, strconv.Itoa(int(p.index))).Set(float64(newHWM))
	}
}

// Discard drops buffered batches that can never be committed (their epoch
// was lost): they leave the buffer and are counted.
func (p *Partition) Discard(batches int, bytes int64) {
	p.mu.Lock()
	p.addBuffered(-bytes)
	p.mu.Unlock()
	p.reg.metrics.walDiscarded.Add(float64(batches))
}

// DiscardOrphans counts batches of partitions that no longer exist here
// (deleted topics); their bytes were dropped with the topic.
func (r *Registry) DiscardOrphans(batches int) {
	r.metrics.walDiscarded.Add(float64(batches))
}
