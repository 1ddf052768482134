package partlog

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/metastore"
)

// defaultMaxMessageBytes is Kafka's max.message.bytes default.
const defaultMaxMessageBytes = 1048588

// Topic is the agent's view of a topic. Its name, ID, replication factor
// and creation time never change; its partitions and configs do
// (CreatePartitions, AlterConfigs), so they live in an immutable snapshot
// swapped as a whole.
type Topic struct {
	name    string
	id      metastore.TopicID
	rf      int16
	created time.Time
	state   atomic.Pointer[topicState]
	deleted atomic.Bool
}

// topicState is a snapshot of a topic's mutable parts; never modified
// after it is published.
type topicState struct {
	configs  map[string]string
	settings Settings
	parts    []*Partition
}

// Settings are the parsed topic configs the data path consults.
type Settings struct {
	MaxMessageBytes int32
	LogAppendTime   bool
	// Compact: cleanup.policy includes compact, so every record needs a
	// key.
	Compact bool
}

// ParseSettings reads the data path's settings from explicit topic
// configs (already validated; unparsable values fall back to defaults).
func ParseSettings(cfg map[string]string) Settings {
	s := Settings{MaxMessageBytes: defaultMaxMessageBytes}
	if v, ok := cfg["max.message.bytes"]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			s.MaxMessageBytes = int32(n)
		}
	}
	s.LogAppendTime = cfg["message.timestamp.type"] == "LogAppendTime"
	for _, p := range strings.Split(cfg["cleanup.policy"], ",") {
		s.Compact = s.Compact || strings.TrimSpace(p) == "compact"
	}
	return s
}

// Name is the topic's name.
func (t *Topic) Name() string { return t.name }

// ID is the topic's ID.
func (t *Topic) ID() metastore.TopicID { return t.id }

// ReplicationFactor is the replication factor reported to clients.
func (t *Topic) ReplicationFactor() int16 { return t.rf }

// Deleted reports whether the topic was deleted (its partitions refuse
// appends and reads).
func (t *Topic) Deleted() bool { return t.deleted.Load() }

// Partitions is the current partition list (index = partition number).
func (t *Topic) Partitions() []*Partition { return t.state.Load().parts }

// Settings are the parsed configs of the current snapshot.
func (t *Topic) Settings() Settings { return t.state.Load().settings }

// Configs are the explicitly set configs; callers must not modify the map.
func (t *Topic) Configs() map[string]string { return t.state.Load().configs }

// Partition returns partition i, or nil (also for a nil topic).
func (t *Topic) Partition(i int32) *Partition {
	if t == nil {
		return nil
	}
	parts := t.Partitions()
	if i < 0 || int(i) >= len(parts) {
		return nil
	}
	return parts[i]
}
