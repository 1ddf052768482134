package kafka

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handler serves one API key over a version range. fn runs on the
// connection's reader goroutine and must call f.finish exactly once,
// either before returning or later from a goroutine of its own.
type handler struct {
	name     string
	min, max int16
	fn       func(c *conn, req kmsg.Request, f *inflight)
}

// handlers is the one table of served APIs and versions; the ApiVersions
// answer is generated from it. Each handler's file opens with a comment on
// the versions and behaviour it supports.
var handlers map[int16]handler

func init() {
	handlers = map[int16]handler{
		0:  {"Produce", 3, 12, handleProduce},
		1:  {"Fetch", 4, 16, handleFetch},
		2:  {"ListOffsets", 1, 8, handleListOffsets},
		3:  {"Metadata", 0, 12, handleMetadata},
		8:  {"OffsetCommit", 0, 9, handleOffsetCommit},
		9:  {"OffsetFetch", 0, 9, handleOffsetFetch},
		10: {"FindCoordinator", 0, 5, handleFindCoordinator},
		11: {"JoinGroup", 0, 9, handleJoinGroup},
		12: {"Heartbeat", 0, 4, handleHeartbeat},
		13: {"LeaveGroup", 0, 5, handleLeaveGroup},
		14: {"SyncGroup", 0, 5, handleSyncGroup},
		15: {"DescribeGroups", 0, 5, handleDescribeGroups},
		16: {"ListGroups", 0, 5, handleListGroups},
		17: {"SaslHandshake", 0, 1, handleSaslHandshake},
		18: {"ApiVersions", 0, 4, handleApiVersions},
		19: {"CreateTopics", 2, 7, handleCreateTopics},
		20: {"DeleteTopics", 1, 6, handleDeleteTopics},
		22: {"InitProducerId", 0, 5, handleInitProducerID},
		24: {"AddPartitionsToTxn", 0, 5, handleAddPartitionsToTxn},
		25: {"AddOffsetsToTxn", 0, 4, handleAddOffsetsToTxn},
		26: {"EndTxn", 0, 5, handleEndTxn},
		28: {"TxnOffsetCommit", 0, 5, handleTxnOffsetCommit},
		21: {"DeleteRecords", 0, 2, handleDeleteRecords},
		32: {"DescribeConfigs", 1, 4, handleDescribeConfigs},
		33: {"AlterConfigs", 0, 2, handleAlterConfigs},
		35: {"DescribeLogDirs", 1, 4, handleDescribeLogDirs},
		36: {"SaslAuthenticate", 0, 2, handleSaslAuthenticate},
		37: {"CreatePartitions", 0, 3, handleCreatePartitions},
		42: {"DeleteGroups", 0, 2, handleDeleteGroups},
		44: {"IncrementalAlterConfigs", 0, 1, handleIncrementalAlterConfigs},
		47: {"OffsetDelete", 0, 0, handleOffsetDelete},
		50: {"DescribeUserScramCredentials", 0, 0, handleDescribeUserScramCredentials},
		51: {"AlterUserScramCredentials", 0, 0, handleAlterUserScramCredentials},
		60: {"DescribeCluster", 0, 1, handleDescribeCluster},
		61: {"DescribeProducers", 0, 0, handleDescribeProducers},
		65: {"DescribeTransactions", 0, 0, handleDescribeTransactions},
		66: {"ListTransactions", 0, 2, handleListTransactions},
	}
}

// apiVersionKeys lists the served keys and versions, sorted by key.
func apiVersionKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(handlers))
	for k, h := range handlers {
		keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: h.min, MaxVersion: h.max})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}

// ServedAPI is one served API key and its version range.
type ServedAPI struct {
	Key      int16
	Name     string
	Min, Max int16
}

// ServedAPIs returns the served APIs ordered by key (for docs and the
// README table).
func ServedAPIs() []ServedAPI {
	var out []ServedAPI
	for _, k := range apiVersionKeys() {
		out = append(out, ServedAPI{k.ApiKey, handlers[k.ApiKey].name, k.MinVersion, k.MaxVersion})
	}
	return out
}
