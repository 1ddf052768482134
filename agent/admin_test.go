package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

func strp(s string) *string { return &s }

// TestCreateTopicsValidation: every invalid input gets its Kafka error and
// creates nothing; valid configs are stored and described with sources.
func TestCreateTopicsValidation(t *testing.T) {
	a := testAgent(t, nil)
	adm := kadm.NewClient(testkit.NewClient(t, a.Addr()))
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]*string
		want    error
	}{
		{"bad-config-key", 1, -1, map[string]*string{"no.such.config": strp("1")}, kerr.InvalidConfig},
		{"bad-config-value", 1, -1, map[string]*string{"retention.ms": strp("soon")}, kerr.InvalidConfig},
		{"bad-policy", 1, -1, map[string]*string{"cleanup.policy": strp("compact,compress")}, kerr.InvalidConfig},
		{"policy-twice", 1, -1, map[string]*string{"cleanup.policy": strp("delete,delete")}, kerr.InvalidConfig},
		{"zero-partitions", 0, -1, nil, kerr.InvalidPartitions},
		{"rf-four", 1, 4, nil, kerr.InvalidReplicationFactor},
		{"bad/name", 1, -1, nil, kerr.InvalidTopicException},
	} {
		resp, err := adm.CreateTopic(ctx, tc.parts, tc.rf, tc.configs, tc.name)
		if err == nil {
			err = resp.Err
		}
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil || len(topics) != 0 {
		t.Fatalf("invalid requests created topics: %v %v", topics.Names(), err)
	}

	resp, err := adm.CreateTopic(ctx, 4, 3, map[string]*string{"retention.ms": strp("3600000")}, "ok")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	if resp.NumPartitions != 4 || resp.ReplicationFactor != 3 {
		t.Fatalf("created %d partitions rf %d, want 4 and 3", resp.NumPartitions, resp.ReplicationFactor)
	}
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "ok"); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	td, err := adm.ListTopics(ctx, "ok")
	if err != nil || len(td["ok"].Partitions) != 4 {
		t.Fatalf("metadata: %v %v", td, err)
	}
	for _, p := range td["ok"].Partitions {
		if p.Leader != a.NodeID() || p.Err != nil {
			t.Fatalf("partition %d: leader %d err %v", p.Partition, p.Leader, p.Err)
		}
	}

	rcs, err := adm.DescribeTopicConfigs(ctx, "ok")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("ok", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe: %v %v", err, rc.Err)
	}
	found := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		found[c.Key] = c
	}
	if c := found["retention.ms"]; c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms: %q source %v", c.MaybeValue(), c.Source)
	}
	if c := found["max.message.bytes"]; c.MaybeValue() != "1048588" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("max.message.bytes: %q source %v", c.MaybeValue(), c.Source)
	}
	missing, err := adm.DescribeTopicConfigs(ctx, "missing")
	if err == nil {
		var r kadm.ResourceConfig
		if r, err = missing.On("missing", nil); err == nil {
			err = r.Err
		}
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("describe missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	brokers, err := adm.DescribeBrokerConfigs(ctx, a.NodeID())
	if err != nil {
		t.Fatal(err)
	}
	bc, err := brokers.On("1", nil)
	if err != nil || bc.Err != nil || len(bc.Configs) == 0 {
		t.Fatalf("broker configs: %v %v", err, bc.Err)
	}
}

// TestDeleteTopic: a deleted topic is gone for produce, fetch and
// metadata; a re-created topic of the same name starts empty with a new ID.
func TestDeleteTopic(t *testing.T) {
	a := testAgent(t, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("gone"), kgo.RecordRetries(2))
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	testkit.CreateTopic(t, a.Addr(), "gone", 2, nil)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	before, _ := adm.ListTopics(ctx, "gone")
	resps, err := adm.DeleteTopics(ctx, "gone")
	if err != nil || resps["gone"].Err != nil {
		t.Fatalf("delete: %v %v", err, resps["gone"].Err)
	}
	// A fresh client: kgo caches metadata answers for a few seconds.
	after, err := kadm.NewClient(testkit.NewClient(t, a.Addr())).ListTopics(ctx, "gone")
	if err != nil || (after.Has("gone") && !errors.Is(after["gone"].Err, kerr.UnknownTopicOrPartition)) {
		t.Fatalf("metadata after delete: %+v %v", after["gone"], err)
	}
	if a.Registry().Topic("gone") != nil {
		t.Fatal("agent still serves the deleted topic")
	}
	resps, err = adm.DeleteTopics(ctx, "gone")
	if err == nil {
		err = resps["gone"].Err
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	testkit.CreateTopic(t, a.Addr(), "gone", 1, nil)
	again, _ := kadm.NewClient(testkit.NewClient(t, a.Addr())).ListTopics(ctx, "gone")
	if again["gone"].ID == before["gone"].ID {
		t.Fatal("re-created topic kept its old ID")
	}
	ends, err := kadm.NewClient(testkit.NewClient(t, a.Addr())).ListEndOffsets(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("gone", 0); o.Offset != 0 {
		t.Fatalf("re-created topic ends at %d, want 0", o.Offset)
	}
}

// TestAutoCreateTopics: off by default (UNKNOWN_TOPIC_OR_PARTITION); on
// with the flag, with the default partition count.
func TestAutoCreateTopics(t *testing.T) {
	off := testAgent(t, nil)
	md, err := kadm.NewClient(testkit.NewClient(t, off.Addr())).ListTopics(context.Background(), "auto")
	if err != nil || (md.Has("auto") && !errors.Is(md["auto"].Err, kerr.UnknownTopicOrPartition)) || off.Registry().Topic("auto") != nil {
		t.Fatalf("auto-create off: metadata %+v, %v; the topic must not exist", md["auto"], err)
	}
	on := testAgent(t, func(c *agent.Config) { c.AutoCreateTopics = true; c.DefaultPartitions = 3 })
	cl := testkit.NewClient(t, on.Addr(), kgo.DefaultProduceTopic("auto"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to auto-created topic: %v", err)
	}
	if tp := on.Registry().Topic("auto"); tp == nil || len(tp.Partitions()) != 3 {
		t.Fatalf("auto-created topic: %+v", tp)
	}
}
