package kafka

// CreateTopics v2-v7.
//
//   - NumPartitions -1 means the default partition count; otherwise it must
//     be >= 1 (INVALID_PARTITIONS). A manual replica assignment gives the
//     partition count; its broker lists are not used.
//   - ReplicationFactor -1 (default) or 1..3 is accepted and reported;
//     anything else is INVALID_REPLICATION_FACTOR. Object storage provides
//     the durability that replicas would.
//   - Configs are validated against the table in topicconfig.go: an unknown
//     key or an invalid value is INVALID_CONFIG with a message.
//   - Names follow Kafka's rules (INVALID_TOPIC_EXCEPTION); an existing
//     topic is TOPIC_ALREADY_EXISTS. ValidateOnly checks without creating.
//   - v5+ answers carry partitions, replication factor and every config
//     with its source.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/stratalog/strata/partlog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleCreateTopics(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		out := kmsg.NewCreateTopicsResponseTopic()
		out.Topic = rt.Topic
		code, err := srv.createFromRequest(c.ctx, rt, r.ValidateOnly, seen[rt.Topic] > 1, &out)
		if code != 0 {
			out.ErrorCode = code
			if err != nil {
				msg := err.Error()
				out.ErrorMessage = &msg
			}
		}
		resp.Topics = append(resp.Topics, out)
	}
	f.finish(resp)
}

func (srv *Server) createFromRequest(ctx context.Context, rt kmsg.CreateTopicsRequestTopic, validateOnly, duplicate bool, out *kmsg.CreateTopicsResponseTopic) (int16, error) {
	if duplicate {
		return kerr.InvalidRequest.Code, errors.New("topic named more than once in the request")
	}
	if err := validateTopicName(rt.Topic); err != nil {
		return kerr.InvalidTopicException.Code, err
	}
	parts := rt.NumPartitions
	switch {
	case len(rt.ReplicaAssignment) > 0:
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return kerr.InvalidRequest.Code, errors.New("replica assignment requires partitions and replication factor of -1")
		}
		parts = int32(len(rt.ReplicaAssignment))
	case parts == -1:
		parts = srv.cfg.DefaultPartitions
	case parts <= 0:
		return kerr.InvalidPartitions.Code, fmt.Errorf("number of partitions must be at least 1, got %d", parts)
	}
	if parts > 100000 {
		return kerr.InvalidPartitions.Code, fmt.Errorf("number of partitions %d is above the limit of 100000", parts)
	}
	rf := rt.ReplicationFactor
	switch {
	case len(rt.ReplicaAssignment) > 0:
		rf = int16(max(1, min(3, len(rt.ReplicaAssignment[0].Replicas))))
	case rf == -1:
		rf = srv.cfg.DefaultReplicationFactor
	case rf < 1 || rf > 3:
		return kerr.InvalidReplicationFactor.Code, fmt.Errorf("replication factor must be -1 or 1..3, got %d", rf)
	}
	configs := map[string]string{}
	for _, kv := range rt.Configs {
		if err := validateTopicConfig(kv.Name, kv.Value); err != nil {
			return kerr.InvalidConfig.Code, err
		}
		configs[kv.Name] = *kv.Value
	}
	if srv.topicByName(rt.Topic) != nil {
		return kerr.TopicAlreadyExists.Code, fmt.Errorf("topic %q already exists", rt.Topic)
	}
	var id metastore.TopicID
	if !validateOnly {
		t, err := srv.createTopic(ctx, rt.Topic, parts, rf, configs)
		if errors.Is(err, metastore.ErrExists) {
			return kerr.TopicAlreadyExists.Code, fmt.Errorf("topic %q already exists", rt.Topic)
		}
		if err != nil {
			srv.log.Error("create topic", "topic", rt.Topic, "err", err)
			return kerr.UnknownServerError.Code, err
		}
		id = t.ID()
	}
	out.TopicID = id
	out.NumPartitions = parts
	out.ReplicationFactor = rf
	for _, name := range topicConfigNames {
		e := srv.describeTopicConfig(name, configs, false)
		cfg := kmsg.NewCreateTopicsResponseTopicConfig()
		cfg.Name, cfg.Value, cfg.ReadOnly, cfg.Source = e.Name, e.Value, e.ReadOnly, int8(e.Source)
		out.Configs = append(out.Configs, cfg)
	}
	return 0, nil
}

// createTopic creates a topic in the metastore and starts serving it.
func (srv *Server) createTopic(ctx context.Context, name string, parts int32, rf int16, configs map[string]string) (*partlog.Topic, error) {
	var id metastore.TopicID
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	id[6] = id[6]&0x0f | 0x40 // UUID version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	meta := metastore.Topic{Name: name, ID: id, Partitions: parts, ReplicationFactor: rf, Configs: configs, CreatedAt: time.Now()}
	if err := srv.meta.CreateTopic(ctx, meta); err != nil {
		return nil, err
	}
	t, err := srv.reg.AddTopic(ctx, meta)
	if err != nil {
		return nil, err
	}
	return t, srv.own.ClaimTopic(ctx, t)
}

// validateTopicName applies Kafka's topic name rules.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters, the limit is 249", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q has an illegal character %q (allowed: ASCII letters, digits, '.', '_', '-')", name, r)
		}
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("topic name %q: names starting with __ are reserved for internal topics", name)
	}
	return nil
}
