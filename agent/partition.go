package agent

import (
	"sync"
	"sync/atomic"

	"github.com/stratalog/strata/metastore"
)

// topic is the agent's in-memory view of a topic.
type topic struct {
	meta     metastore.Topic
	settings topicSettings
	parts    []*partition
	deleted  atomic.Bool
}

// partition is one partition served by this agent.
type partition struct {
	topic *topic
	id    metastore.TopicID
	index int32

	// hwm is the committed high watermark; only the flusher advances it.
	hwm      atomic.Int64
	logStart atomic.Int64

	mu struct {
		sync.Mutex
		owned bool
		epoch int32
		// nextOffset is the log end offset: one past the last offset
		// assigned, flushed or not.
		nextOffset int64
		// producers is the live idempotent-producer state, including
		// batches not yet flushed.
		producers map[int64]*producerEntry
	}

	// committedProducers is the producer state as of the high watermark:
	// what is persisted with each flush. Owned by the flusher.
	committedProducers map[int64]*producerEntry

	// segs caches the last segment-index lookup for sequential readers.
	segs segmentLookup

	tail tailChunks
}

func (p *partition) topicName() string { return p.topic.meta.Name }

// epochAndOwned returns the ownership state.
func (p *partition) ownership() (int32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.epoch, p.mu.owned
}
