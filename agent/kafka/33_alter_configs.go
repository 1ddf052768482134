package kafka

// AlterConfigs v0-v2 and IncrementalAlterConfigs v0-v1 (key 44, served
// from this file too).
//
//   - Topic resources only. AlterConfigs replaces the topic's whole set of
//     explicit configs; IncrementalAlterConfigs applies SET, DELETE, APPEND
//     and SUBTRACT (the last two on list configs) to it. Every key and
//     value is validated against topicconfig.go: unknown keys and invalid
//     values are INVALID_CONFIG, never ignored. Nothing changes unless the
//     whole resource is valid; ValidateOnly checks without changing.
//   - Unknown topics: UNKNOWN_TOPIC_OR_PARTITION. Broker resources:
//     INVALID_REQUEST — broker settings are the agent's static
//     configuration (flags, env, file).

import (
	"fmt"
	"maps"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// configChange is one requested change, normalised from either request.
type configChange struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

// alterTopicConfigs validates and applies changes to a topic resource,
// returning a Kafka error code and message.
func (srv *Server) alterTopicConfigs(c *conn, typ kmsg.ConfigResourceType, name string, replace bool, changes []configChange, validateOnly bool) (int16, *string) {
	fail := func(code int16, format string, args ...any) (int16, *string) {
		msg := fmt.Sprintf(format, args...)
		return code, &msg
	}
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		return fail(kerr.InvalidRequest.Code, "broker configs are static: set them with the agent's flags, environment or config file")
	default:
		return fail(kerr.InvalidRequest.Code, "resource type %v cannot be altered", typ)
	}
	t := srv.topicByName(name)
	if t == nil {
		return fail(kerr.UnknownTopicOrPartition.Code, "topic %q does not exist", name)
	}
	next := map[string]string{}
	if !replace {
		next = maps.Clone(t.Configs())
		if next == nil {
			next = map[string]string{}
		}
	}
	for _, ch := range changes {
		def, known := topicConfigDefs[ch.name]
		if !known {
			return fail(kerr.InvalidConfig.Code, "unknown topic config %q", ch.name)
		}
		switch ch.op {
		case kmsg.IncrementalAlterConfigOpSet:
			if err := validateTopicConfig(ch.name, ch.value); err != nil {
				return fail(kerr.InvalidConfig.Code, "%v", err)
			}
			next[ch.name] = *ch.value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, ch.name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if def.typ != kmsg.ConfigTypeList {
				return fail(kerr.InvalidConfig.Code, "config %q is not a list; APPEND and SUBTRACT apply to lists only", ch.name)
			}
			if ch.value == nil {
				return fail(kerr.InvalidConfig.Code, "config %q: null value", ch.name)
			}
			cur, ok := next[ch.name]
			if !ok {
				cur = def.def
			}
			items := splitList(cur)
			for _, v := range splitList(*ch.value) {
				idx := -1
				for i, it := range items {
					if it == v {
						idx = i
					}
				}
				if ch.op == kmsg.IncrementalAlterConfigOpAppend && idx < 0 {
					items = append(items, v)
				}
				if ch.op == kmsg.IncrementalAlterConfigOpSubtract && idx >= 0 {
					items = append(items[:idx], items[idx+1:]...)
				}
			}
			joined := strings.Join(items, ",")
			if err := validateTopicConfig(ch.name, &joined); err != nil {
				return fail(kerr.InvalidConfig.Code, "%v", err)
			}
			next[ch.name] = joined
		default:
			return fail(kerr.InvalidRequest.Code, "unknown config operation %d", ch.op)
		}
	}
	if validateOnly {
		return 0, nil
	}
	if err := srv.meta.SetTopicConfigs(c.ctx, t.Name(), next); err != nil {
		srv.log.Error("alter topic configs", "topic", name, "err", err)
		return fail(errorCode(err), "%v", err)
	}
	srv.reg.SetConfigs(t, next)
	return 0, nil
}

func splitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

func handleAlterConfigs(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, res := range r.Resources {
		var changes []configChange
		for _, kv := range res.Configs {
			changes = append(changes, configChange{name: kv.Name, op: kmsg.IncrementalAlterConfigOpSet, value: kv.Value})
		}
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = res.ResourceType, res.ResourceName
		out.ErrorCode, out.ErrorMessage = c.srv.alterTopicConfigs(c, res.ResourceType, res.ResourceName, true, changes, r.ValidateOnly)
		resp.Resources = append(resp.Resources, out)
	}
	f.finish(resp)
}

func handleIncrementalAlterConfigs(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range r.Resources {
		var changes []configChange
		for _, kv := range res.Configs {
			changes = append(changes, configChange{name: kv.Name, op: kv.Op, value: kv.Value})
		}
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = res.ResourceType, res.ResourceName
		out.ErrorCode, out.ErrorMessage = c.srv.alterTopicConfigs(c, res.ResourceType, res.ResourceName, false, changes, r.ValidateOnly)
		resp.Resources = append(resp.Resources, out)
	}
	f.finish(resp)
}
