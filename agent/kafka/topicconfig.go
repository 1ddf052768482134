package kafka

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicConfigDef describes one topic-level config the agent accepts.
// Configs not in this table are rejected with INVALID_CONFIG, never
// silently ignored.
type topicConfigDef struct {
	name     string
	def      string // default value, as Kafka reports it
	typ      kmsg.ConfigType
	validate func(string) error
	// brokerSynonym is the broker-level config supplying the default.
	brokerSynonym string
	doc           string
}

func validLong(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		if n < min {
			return fmt.Errorf("must be at least %d", min)
		}
		return nil
	}
}

func validInt(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not a 32-bit number")
		}
		if n < min {
			return fmt.Errorf("must be at least %d", min)
		}
		return nil
	}
}

func validOneOf(opts ...string) func(string) error {
	return func(v string) error {
		for _, o := range opts {
			if v == o {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(opts, ", "))
	}
}

// validPolicy accepts cleanup.policy as Kafka does: a comma-separated
// list of delete and compact, each at most once.
func validPolicy(v string) error {
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p != "delete" && p != "compact" {
			return fmt.Errorf("must be a list of delete and compact")
		}
		if seen[p] {
			return fmt.Errorf("lists %s twice", p)
		}
		seen[p] = true
	}
	return nil
}

func validBool(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("must be true or false")
	}
	return nil
}

func validRatio(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("must be a number between 0 and 1")
	}
	return nil
}

// defaultMaxMessageBytes is Kafka's default max.message.bytes.
const defaultMaxMessageBytes = 1048588

var topicConfigDefs = func() map[string]topicConfigDef {
	defs := []topicConfigDef{
		{name: "cleanup.policy", def: "delete", typ: kmsg.ConfigTypeList, validate: validPolicy, brokerSynonym: "log.cleanup.policy",
			doc: "delete (retention), compact (keep the latest record per key), or both."},
		{name: "compression.type", def: "producer", typ: kmsg.ConfigTypeString, validate: validOneOf("producer"), brokerSynonym: "compression.type",
			doc: "Batches are stored as produced; broker-side recompression is not supported."},
		{name: "max.message.bytes", def: strconv.Itoa(defaultMaxMessageBytes), typ: kmsg.ConfigTypeInt, validate: validInt(0), brokerSynonym: "message.max.bytes",
			doc: "Largest record batch accepted, in bytes."},
		{name: "message.timestamp.type", def: "CreateTime", typ: kmsg.ConfigTypeString, validate: validOneOf("CreateTime", "LogAppendTime"), brokerSynonym: "log.message.timestamp.type",
			doc: "CreateTime keeps producer timestamps; LogAppendTime stamps batches on append."},
		{name: "retention.ms", def: "604800000", typ: kmsg.ConfigTypeLong, validate: validLong(-1), brokerSynonym: "log.retention.ms",
			doc: "Enforced by whole index rows or compacted segments: a unit goes once its largest timestamp is older (see README, Retention)."},
		{name: "retention.bytes", def: "-1", typ: kmsg.ConfigTypeLong, validate: validLong(-1), brokerSynonym: "log.retention.bytes",
			doc: "Enforced per partition by whole index rows or compacted segments, oldest first, keeping at least this many bytes."},
		{name: "segment.bytes", def: "1073741824", typ: kmsg.ConfigTypeInt, validate: validInt(14), brokerSynonym: "log.segment.bytes",
			doc: "Caps the key cleaner's segments (with --compaction-segment-bytes); flush objects follow the agent's flush settings."},
		{name: "segment.ms", def: "604800000", typ: kmsg.ConfigTypeLong, validate: validLong(1), brokerSynonym: "log.roll.ms",
			doc: "Accepted; there is no active segment: data is in segments within --compaction-max-lag and cleanable once flushed."},
		{name: "min.insync.replicas", def: "1", typ: kmsg.ConfigTypeInt, validate: validInt(1), brokerSynonym: "min.insync.replicas",
			doc: "Accepted for compatibility; acks=all means stored in object storage."},
		{name: "unclean.leader.election.enable", def: "false", typ: kmsg.ConfigTypeBoolean, validate: validBool, brokerSynonym: "unclean.leader.election.enable",
			doc: "Accepted for compatibility; ownership moves without data loss."},
		{name: "message.timestamp.difference.max.ms", def: "9223372036854775807", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.message.timestamp.difference.max.ms",
			doc: "Accepted; not enforced."},
		{name: "message.timestamp.before.max.ms", def: "9223372036854775807", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.message.timestamp.before.max.ms",
			doc: "Accepted; not enforced."},
		{name: "message.timestamp.after.max.ms", def: "9223372036854775807", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.message.timestamp.after.max.ms",
			doc: "Accepted; not enforced."},
		{name: "flush.messages", def: "9223372036854775807", typ: kmsg.ConfigTypeLong, validate: validLong(1), brokerSynonym: "log.flush.interval.messages",
			doc: "Accepted for compatibility; the agent fsyncs every append."},
		{name: "flush.ms", def: "9223372036854775807", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.flush.interval.ms",
			doc: "Accepted for compatibility; the agent fsyncs every append."},
		{name: "delete.retention.ms", def: "86400000", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.cleaner.delete.retention.ms",
			doc: "How long a tombstone stays after the cleaning pass that first kept it (KIP-534 delete horizon)."},
		{name: "min.cleanable.dirty.ratio", def: "0.5", typ: kmsg.ConfigTypeDouble, validate: validRatio, brokerSynonym: "log.cleaner.min.cleanable.ratio",
			doc: "A cleaning pass starts when cleanable dirty bytes reach this share of clean plus cleanable bytes."},
		{name: "min.compaction.lag.ms", def: "0", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.cleaner.min.compaction.lag.ms",
			doc: "Records younger than this are never cleaned (by whole index rows)."},
		{name: "max.compaction.lag.ms", def: "9223372036854775807", typ: kmsg.ConfigTypeLong, validate: validLong(1), brokerSynonym: "log.cleaner.max.compaction.lag.ms",
			doc: "Dirty records older than this are cleaned whatever the dirty ratio."},
		{name: "file.delete.delay.ms", def: "60000", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.segment.delete.delay.ms",
			doc: "Accepted for compatibility."},
		{name: "index.interval.bytes", def: "4096", typ: kmsg.ConfigTypeInt, validate: validInt(0), brokerSynonym: "log.index.interval.bytes",
			doc: "Accepted for compatibility."},
		{name: "segment.index.bytes", def: "10485760", typ: kmsg.ConfigTypeInt, validate: validInt(4), brokerSynonym: "log.index.size.max.bytes",
			doc: "Accepted for compatibility."},
		{name: "segment.jitter.ms", def: "0", typ: kmsg.ConfigTypeLong, validate: validLong(0), brokerSynonym: "log.roll.jitter.ms",
			doc: "Accepted for compatibility."},
		{name: "preallocate", def: "false", typ: kmsg.ConfigTypeBoolean, validate: validBool, brokerSynonym: "log.preallocate",
			doc: "Accepted for compatibility."},
		{name: "message.downconversion.enable", def: "true", typ: kmsg.ConfigTypeBoolean, validate: validBool, brokerSynonym: "log.message.downconversion.enable",
			doc: "Accepted for compatibility; only magic v2 batches exist."},
	}
	m := make(map[string]topicConfigDef, len(defs))
	for _, d := range defs {
		m[d.name] = d
	}
	return m
}()

// topicConfigNames lists the known topic configs in name order.
var topicConfigNames = func() []string {
	names := make([]string, 0, len(topicConfigDefs))
	for n := range topicConfigDefs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}()

// validateTopicConfig checks one explicit config; the error is the message
// returned to the client with INVALID_CONFIG.
func validateTopicConfig(name string, value *string) error {
	d, ok := topicConfigDefs[name]
	if !ok {
		return fmt.Errorf("unknown topic config %q", name)
	}
	if value == nil {
		return fmt.Errorf("config %q: null value", name)
	}
	if err := d.validate(*value); err != nil {
		return fmt.Errorf("config %s=%q: %v", name, *value, err)
	}
	return nil
}

// topicSettings are the parsed configs the data path consults.
type topicSettings struct {
	maxMessageBytes int32
	logAppendTime   bool
}

func parseTopicSettings(cfg map[string]string) topicSettings {
	s := topicSettings{maxMessageBytes: defaultMaxMessageBytes}
	if v, ok := cfg["max.message.bytes"]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			s.maxMessageBytes = int32(n)
		}
	}
	s.logAppendTime = cfg["message.timestamp.type"] == "LogAppendTime"
	return s
}
