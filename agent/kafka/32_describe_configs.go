package kafka

// DescribeConfigs v1-v4 for topics and the broker.
//
//   - Topic resources list every topic config the agent knows (the table in
//     topicconfig.go): explicit values with source DYNAMIC_TOPIC_CONFIG,
//     others their default with source DEFAULT_CONFIG; synonyms (v1+) name
//     the broker-level config behind each default; types and documentation
//     (v3+) when asked. Unknown topics: UNKNOWN_TOPIC_OR_PARTITION.
//   - Broker resources (name "" or this agent's node id) list the agent's
//     effective broker-level settings, read-only, source
//     STATIC_BROKER_CONFIG. Another node's id: INVALID_REQUEST (ask that
//     agent). Broker-logger and other resource types: INVALID_REQUEST.

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDescribeConfigs(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range r.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = res.ResourceType, res.ResourceName
		wanted := func(name string) bool {
			if res.ConfigNames == nil {
				return true
			}
			for _, n := range res.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := srv.topicByName(res.ResourceName)
			if t == nil {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				msg := fmt.Sprintf("topic %q does not exist", res.ResourceName)
				out.ErrorMessage = &msg
				break
			}
			for _, name := range topicConfigNames {
				if !wanted(name) {
					continue
				}
				e := srv.describeTopicConfig(name, t.Configs(), r.IncludeSynonyms)
				if r.IncludeDocumentation {
					doc := topicConfigDefs[name].doc
					e.Documentation = &doc
				}
				out.Configs = append(out.Configs, e)
			}
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName != "" && res.ResourceName != strconv.Itoa(int(srv.nodeID)) {
				out.ErrorCode = kerr.InvalidRequest.Code
				msg := fmt.Sprintf("this agent is broker %d; ask broker %s for its configs", srv.nodeID, res.ResourceName)
				out.ErrorMessage = &msg
				break
			}
			for _, kv := range srv.brokerConfigs() {
				if !wanted(kv.name) {
					continue
				}
				e := kmsg.NewDescribeConfigsResponseResourceConfig()
				v := kv.value
				e.Name, e.Value, e.ReadOnly, e.Source, e.ConfigType = kv.name, &v, true, kmsg.ConfigSourceStaticBrokerConfig, kv.typ
				if r.IncludeSynonyms {
					e.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{{Name: kv.name, Value: &v, Source: kmsg.ConfigSourceStaticBrokerConfig}}
				}
				out.Configs = append(out.Configs, e)
			}
		default:
			out.ErrorCode = kerr.InvalidRequest.Code
			msg := fmt.Sprintf("resource type %v is not supported", res.ResourceType)
			out.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, out)
	}
	f.finish(resp)
}

// describeTopicConfig describes one known topic config given the topic's
// explicit configs.
func (srv *Server) describeTopicConfig(name string, explicit map[string]string, synonyms bool) kmsg.DescribeConfigsResponseResourceConfig {
	d := topicConfigDefs[name]
	e := kmsg.NewDescribeConfigsResponseResourceConfig()
	e.Name, e.ConfigType = name, d.typ
	def := srv.topicDefault(name)
	if v, ok := explicit[name]; ok {
		v := v
		e.Value, e.Source = &v, kmsg.ConfigSourceDynamicTopicConfig
		if synonyms {
			e.ConfigSynonyms = append(e.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: name, Value: &v, Source: kmsg.ConfigSourceDynamicTopicConfig})
		}
	} else {
		e.Value, e.Source, e.IsDefault = &def, kmsg.ConfigSourceDefaultConfig, true
	}
	if synonyms && d.brokerSynonym != "" {
		e.ConfigSynonyms = append(e.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: d.brokerSynonym, Value: &def, Source: kmsg.ConfigSourceDefaultConfig})
	}
	return e
}

// topicDefault is the value a topic config has when the topic does not
// set it: the agent's broker setting where it has one, else Kafka's
// default.
func (srv *Server) topicDefault(name string) string {
	switch {
	case name == "retention.ms" && srv.cfg.RetentionMs != 0:
		return strconv.FormatInt(srv.cfg.RetentionMs, 10)
	case name == "retention.bytes" && srv.cfg.RetentionBytes != 0:
		return strconv.FormatInt(srv.cfg.RetentionBytes, 10)
	}
	return topicConfigDefs[name].def
}

type brokerConfig struct {
	name, value string
	typ         kmsg.ConfigType
}

// brokerConfigs are the agent's effective broker-level settings.
func (srv *Server) brokerConfigs() []brokerConfig {
	b := strconv.FormatBool
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []brokerConfig{
		{"auto.create.topics.enable", b(srv.cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean},
		{"broker.id", i(int64(srv.nodeID)), kmsg.ConfigTypeInt},
		{"broker.rack", srv.cfg.Rack, kmsg.ConfigTypeString},
		{"compression.type", "producer", kmsg.ConfigTypeString},
		{"default.replication.factor", i(int64(srv.cfg.DefaultReplicationFactor)), kmsg.ConfigTypeInt},
		{"log.cleanup.policy", "delete", kmsg.ConfigTypeList},
		{"log.message.timestamp.type", "CreateTime", kmsg.ConfigTypeString},
		{"log.retention.bytes", srv.topicDefault("retention.bytes"), kmsg.ConfigTypeLong},
		{"log.retention.ms", srv.topicDefault("retention.ms"), kmsg.ConfigTypeLong},
		{"message.max.bytes", i(defaultMaxMessageBytes), kmsg.ConfigTypeInt},
		{"min.insync.replicas", "1", kmsg.ConfigTypeInt},
		{"num.partitions", i(int64(srv.cfg.DefaultPartitions)), kmsg.ConfigTypeInt},
		{"socket.request.max.bytes", i(int64(srv.cfg.MaxRequestBytes)), kmsg.ConfigTypeInt},
		{"strata.flush.bytes", i(srv.cfg.FlushBytes), kmsg.ConfigTypeLong},
		{"strata.flush.interval.ms", i(srv.cfg.FlushInterval.Milliseconds()), kmsg.ConfigTypeLong},
		{"strata.cache.bytes", i(srv.cfg.CacheBytes), kmsg.ConfigTypeLong},
		{"unclean.leader.election.enable", "false", kmsg.ConfigTypeBoolean},
	}
}
