package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testkit"
)

// TestCreatePartitions: new partitions are usable at once; shrinking and
// unknown topics are refused.
func TestCreatePartitions(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "grow", 2, nil)
	cl := testkit.NewClient(t, a.Addr())
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	rs, err := adm.UpdatePartitions(ctx, 6, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("grow: %v %v", err, rs["grow"].Err)
	}
	// Produce straight to a new partition.
	p := testkit.NewClient(t, a.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "grow", Partition: 5, Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatalf("produce to new partition: %v", err)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "grow", 1)
	if got[0].Partition != 5 || string(got[0].Value) != "new" {
		t.Fatalf("got partition %d value %q", got[0].Partition, got[0].Value)
	}
	if rs, _ := adm.UpdatePartitions(ctx, 3, "grow"); !errors.Is(rs["grow"].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink: %v, want INVALID_PARTITIONS", rs["grow"].Err)
	}
	if rs, _ := adm.UpdatePartitions(ctx, 3, "nope"); !errors.Is(rs["nope"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %v", rs["nope"].Err)
	}
}

// TestDeleteRecords: the log start moves; earlier offsets are out of
// range; earliest offset reports the new start.
func TestDeleteRecords(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "dr", 1, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("dr"))
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitHWM(t, a, "dr", 0, 10)
	adm := kadm.NewClient(cl)
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 4})
	res, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records: low watermark %d err %v", r.LowWatermark, r.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, "dr")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("dr", 0); o.Offset != 4 {
		t.Fatalf("start offset %d, want 4", o.Offset)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "dr", 6)
	// Whole batches may start earlier; kgo drops records before the fetch
	// offset, so the first record a consumer sees is offset 4.
	if got[0].Offset != 4 || got[0].Value[0] != 4 {
		t.Fatalf("first record: offset %d value %d, want 4 and 4", got[0].Offset, got[0].Value[0])
	}
	os = kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 99})
	res, _ = adm.DeleteRecords(ctx, os)
	if r, _ := res.Lookup("dr", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete past the end: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}
	// A fetch below the new start is out of range.
	rc := dialRaw(t, a)
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "dr"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = 2
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrFetchResponse()
	rc.roundTrip(req, resp)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.OffsetOutOfRange.Code || p.LogStartOffset != 4 {
		t.Fatalf("fetch below start: code %d start %d", p.ErrorCode, p.LogStartOffset)
	}
}

// TestAlterConfigs: incremental and whole-set changes are validated,
// applied and described; unknown keys are rejected, not ignored.
func TestAlterConfigs(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "cfg", 1, nil)
	adm := kadm.NewClient(testkit.NewClient(t, a.Addr()))
	ctx := context.Background()
	describe := func() map[string]kadm.Config {
		rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := rcs.On("cfg", nil)
		m := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			m[c.Key] = c
		}
		return m
	}
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("1000")}, {Name: "max.message.bytes", Value: strp("2048")}}, "cfg")
	if err != nil || res[0].Err != nil {
		t.Fatalf("incremental set: %v %v", err, res)
	}
	if c := describe()["retention.ms"]; c.MaybeValue() != "1000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms after set: %q %v", c.MaybeValue(), c.Source)
	}
	// max.message.bytes=2048 takes effect on produce at once.
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("cfg"), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 4096)}).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce 4 KiB after max.message.bytes=2048: %v", err)
	}
	res, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "no.such.key", Value: strp("1")}}, "cfg")
	if !errors.Is(res[0].Err, kerr.InvalidConfig) {
		t.Fatalf("unknown key: %v, want INVALID_CONFIG", res[0].Err)
	}
	res, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("x")}}, "cfg")
	if c := describe()["retention.ms"]; !errors.Is(res[0].Err, kerr.InvalidConfig) || c.MaybeValue() != "1000" {
		t.Fatalf("invalid value: %v (and the old value must stay)", res[0].Err)
	}
	res, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "cfg")
	if res[0].Err != nil || describe()["retention.ms"].Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("delete: %v", res[0].Err)
	}
	// Non-incremental AlterConfigs replaces the whole set.
	res, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: strp("60000")}}, "cfg")
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter (replace): %v %v", err, res)
	}
	m := describe()
	if sm := m["segment.ms"]; sm.MaybeValue() != "60000" || m["max.message.bytes"].Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("replace: segment.ms %q, max.message.bytes source %v", sm.MaybeValue(), m["max.message.bytes"].Source)
	}
	res, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("1")}}, "missing")
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("alter configs of an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

// TestDescribeClusterLogDirsProducers covers the describe-only admin APIs.
func TestDescribeClusterLogDirsProducers(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "desc", 2, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("desc"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Partition: 1}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil || md.Cluster == "" || len(md.Brokers) != 1 || md.Brokers[0].NodeID != a.NodeID() {
		t.Fatalf("describe cluster: %+v %v", md, err)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two dirs: the write-ahead buffer and object storage, where
	// partition 1 holds the acknowledged record and partition 0 nothing.
	n := map[string]int{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			t.Fatalf("log dir %s: %v", d.Dir, d.Err)
		}
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic != "desc" {
				return
			}
			n[d.Dir]++
			if p.Size < 0 {
				t.Fatalf("partition %d size %d", p.Partition, p.Size)
			}
			if d.Dir == "object-storage" && (p.Size > 0) != (p.Partition == 1) {
				t.Fatalf("object storage holds %d bytes of partition %d", p.Size, p.Partition)
			}
		})
	})
	if len(n) != 2 || n["object-storage"] != 2 {
		t.Fatalf("log dirs list partitions of desc %v, want 2 in each of two dirs", n)
	}
	prods, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"desc": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p1, ok := prods["desc"].Partitions[1]
	if !ok || p1.Err != nil || len(p1.ActiveProducers) != 1 || p1.ActiveProducers.Sorted()[0].LastSequence != 0 {
		t.Fatalf("describe producers partition 1: %+v", p1)
	}
	if p0 := prods["desc"].Partitions[0]; len(p0.ActiveProducers) != 0 {
		t.Fatalf("partition 0 has producers %+v", p0.ActiveProducers)
	}
}
