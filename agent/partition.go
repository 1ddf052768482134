package agent

import (
	"sync"
	"sync/atomic"

	"github.com/stratalog/strata/metastore"
)

// topic is the agent's in-memory view of a topic. meta's Name, ID,
// ReplicationFactor and CreatedAt never change; partitions and configs do
// (CreatePartitions, AlterConfigs), so they live in an immutable
// topicState swapped as a whole under Agent.catalogMu.
type topic struct {
	meta    metastore.Topic
	state   atomic.Pointer[topicState]
	deleted atomic.Bool
}

// topicState is a snapshot of a topic's mutable parts; never modified
// after it is published.
type topicState struct {
	configs  map[string]string
	settings topicSettings
	parts    []*partition
}

func (t *topic) partitions() []*partition { return t.state.Load().parts }
func (t *topic) settings() topicSettings  { return t.state.Load().settings }
func (t *topic) configs() map[string]string {
	return t.state.Load().configs
}

// partition is one partition served by this agent.
type partition struct {
	topic *topic
	id    metastore.TopicID
	index int32

	// hwm is the committed high watermark; only the flusher advances it.
	hwm      atomic.Int64
	logStart atomic.Int64
	// buffered counts this partition's batch bytes appended but not yet
	// committed (DescribeLogDirs reports it).
	buffered atomic.Int64

	mu struct {
		sync.Mutex
		owned bool
		// releasing: appends stopped, waiting for buffered data to be
		// committed before giving the partition up (ownership.go).
		releasing bool
		// owner is the owning agent as last seen in the metastore ("" for
		// none); Metadata reports it as the leader.
		owner string
		epoch int32
		// nextOffset is the log end offset: one past the last offset
		// assigned, flushed or not.
		nextOffset int64
		// producers is the live idempotent-producer state, including
		// batches not yet flushed.
		producers map[int64]*producerEntry
		// claimProducers is the producer state loaded when the current
		// epoch began; the sealer restarts its chain from it.
		claimProducers map[int64]*producerEntry
	}

	// planHWM and planEpoch chain the flusher's plans: the high watermark
	// the next plan starts from (past every plan sealed so far). Owned by
	// the sealer.
	planHWM   int64
	planEpoch int32

	// plannedProducers is the producer state as of planHWM: each plan
	// persists the entries its batches touch, so the metastore always
	// holds the state as of the committed high watermark. Owned by the
	// sealer.
	plannedProducers map[int64]*producerEntry

	// segs caches the last segment-index lookup for sequential readers.
	segs segmentLookup

	tail tailChunks
}

func (p *partition) topicName() string { return p.topic.meta.Name }

// ownership returns the epoch and whether this agent owns the partition
// (false for a nil partition).
func (p *partition) ownership() (int32, bool) {
	if p == nil {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.epoch, p.mu.owned
}
