package main

// The storage lifecycle (compaction/) end to end, with real processes:
// retention by time and by size as Kafka clients see it, across a restart
// and across kill -9 in the middle of a trim; compaction and garbage
// collection by `strata compactor`, alone, killed at each of its steps,
// and racing another compactor and the agent's own compaction under load;
// reads while index rows are switched and objects deleted; a deleted
// topic's objects leaving the bucket.
//
// The tests assert what clients and the bucket show: records byte for
// byte at their offsets, log start and end offsets (ListOffsets), Kafka
// error codes, DescribeLogDirs sizes, and the bucket's objects listed
// without Strata (walking the directory, or minio-go on S3), compared
// with the metastore's log index.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/tiering/segment"
)

// lcAgentArgs are the flags every agent here starts with: quick flushes
// and quick retention passes.
var lcAgentArgs = []string{"--flush-interval", "20ms", "--log-retention-check-interval", "200ms"}

// lcColdReads makes an agent read every fetch from the object store: no
// tail in memory, no disk cache, so compacted segments and deleted
// objects are really met.
var lcColdReads = []string{"--tail-bytes", "1", "--cache-bytes", "1"}

// lcCompactNow makes `strata compactor` compact all flush data at once
// (a 1ns maximum lag; 0 would mean the 2-minute default) into 1 MiB
// segments with 16 KiB footer chunks, and collect dead objects a
// nanosecond after they die.
var lcCompactNow = []string{
	"--compaction-max-lag", "1ns", "--gc-grace", "1ns",
	"--compaction-segment-bytes", "1MiB", "--compaction-chunk-bytes", "16KiB",
}

// lcCluster is an agent process, the backends it runs on (testkit.Backends:
// SQLite and a directory, or Postgres and S3), and the test's own handle
// on the metastore for inspecting the log index.
type lcCluster struct {
	t       *testing.T
	agent   *agentProc
	args    []string // the agent's flags, for restarts
	metaURL string
	objURL  string
	meta    metastore.Store
}

func newLCCluster(t *testing.T, args ...string) *lcCluster {
	t.Helper()
	dataDir := t.TempDir()
	flags := backendFlags(t, dataDir) // --metastore URL --objstore URL
	c := &lcCluster{t: t, args: args, metaURL: flags[1], objURL: flags[3]}
	c.agent = startAgent(t, agentOpts{dataDir: dataDir, args: args})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta, err := metaopen.Metastore(ctx, c.metaURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	c.meta = meta
	return c
}

func (c *lcCluster) addr() string { return c.agent.addr }

// on returns the cluster for use in subtest t (no restarts there).
func (c *lcCluster) on(t *testing.T) *lcCluster {
	sub := *c
	sub.t = t
	return &sub
}

// restart stops the agent with SIGTERM (it must exit 0) and starts it
// again on the same data dir and backends with args (its own flags if
// none are given).
func (c *lcCluster) restart(args ...string) {
	c.t.Helper()
	if code := c.agent.stop(syscall.SIGTERM); code != 0 {
		c.t.Fatalf("agent exit code %d after SIGTERM, want 0", code)
	}
	if args == nil {
		args = c.args
	}
	c.agent = c.agent.restart(args...)
}

// compactor starts `strata compactor` on the cluster's backends.
func (c *lcCluster) compactor(args ...string) *agentProc {
	c.t.Helper()
	return spawn(c.t, nil, append([]string{"compactor", "--admin-listen", "off",
		"--metastore", c.metaURL, "--objstore", c.objURL}, args...)...)
}

// compactOnce runs `strata compactor --once ARGS` to its end and returns
// its exit code (-1: killed by a signal) and log.
func (c *lcCluster) compactOnce(args ...string) (int, string) {
	c.t.Helper()
	p := c.compactor(append([]string{"--once"}, args...)...)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		c.t.Fatalf("strata compactor --once %v still running after 2 minutes:\n%s", args, tail(p.stderr.String(), 40))
	}
	return exitCode(p.waitErr), p.stderr.String()
}

// compactOnceOK is compactOnce that must exit 0.
func (c *lcCluster) compactOnceOK(args ...string) string {
	c.t.Helper()
	code, log := c.compactOnce(args...)
	if code != 0 {
		c.t.Fatalf("strata compactor --once %v: exit code %d, want 0:\n%s", args, code, tail(log, 40))
	}
	return log
}

// settle runs `strata compactor --once ARGS` (three times at most) until
// the metastore knows neither flush objects nor dead ones: everything
// compacted, and collected.
func (c *lcCluster) settle(args ...string) {
	c.t.Helper()
	for try := 0; ; try++ {
		c.compactOnceOK(args...)
		st := c.objectStats()
		if st["flush/live"]+st["flush/dead"]+st["segment/dead"] == 0 {
			return
		}
		if try == 2 {
			c.t.Fatalf("after three compactor runs the metastore still knows flush or dead objects: %v", st)
		}
	}
}

// orphans returns the bucket's objects the metastore does not know,
// which must all be compacted segments (uploads of jobs cut short).
func (c *lcCluster) orphans() map[string]bool {
	c.t.Helper()
	keys := slices.Collect(maps.Keys(c.bucket()))
	known, err := c.meta.KnownObjects(context.Background(), keys)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		if !known[k] {
			if !strings.Contains(k, "/cseg/") && !strings.Contains(k, "/clean/") {
				c.t.Fatalf("object %s is unknown to the metastore", k)
			}
			out[k] = true
		}
	}
	return out
}

// strataKey matches the keys Strata writes: flush objects
// <hhhh>/seg/<agent>/..., compacted segments
// <hhhh>/cseg/<topic>/<partition>/... and the key cleaner's
// <hhhh>/clean/<topic>/<partition>/....
var strataKey = regexp.MustCompile(`^[0-9a-f]{4}/(seg|cseg|clean)/.+\.seg$`)

// bucket lists the objects of Strata's key shapes in the cluster's
// bucket (key → size) without going through Strata: walking the
// directory of a file:// store, or with minio-go for s3://. Other keys
// are logged and left out.
func (c *lcCluster) bucket() map[string]int64 {
	c.t.Helper()
	all := map[string]int64{}
	u, err := url.Parse(c.objURL)
	if err != nil {
		c.t.Fatal(err)
	}
	switch u.Scheme {
	case "file":
		root := filepath.Join(u.Host, u.Path)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while walking
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if rel == ".tmp" {
					return filepath.SkipDir // puts in progress
				}
				return nil
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			all[filepath.ToSlash(rel)] = info.Size()
			return nil
		})
		if err != nil {
			c.t.Fatal(err)
		}
	case "s3":
		mc, bucket, prefix := c.s3()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for info := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if info.Err != nil {
				c.t.Fatal(info.Err)
			}
			all[strings.TrimPrefix(info.Key, prefix)] = info.Size
		}
	default:
		c.t.Fatalf("object store %s: not file:// or s3://", c.objURL)
	}
	out := map[string]int64{}
	for k, n := range all {
		if strataKey.MatchString(k) {
			out[k] = n
		} else {
			c.t.Logf("bucket: %s is not of a Strata key shape; left out", k)
		}
	}
	return out
}

// s3 returns a minio-go client for the cluster's s3:// store, its bucket
// and its key prefix.
func (c *lcCluster) s3() (*minio.Client, string, string) {
	c.t.Helper()
	u, err := url.Parse(c.objURL)
	if err != nil {
		c.t.Fatal(err)
	}
	endpoint, err := url.Parse(u.Query().Get("endpoint"))
	if err != nil {
		c.t.Fatal(err)
	}
	mc, err := minio.New(endpoint.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure:       endpoint.Scheme == "https",
		Region:       u.Query().Get("region"),
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return mc, u.Host, strings.Trim(u.Path, "/") + "/"
}

// object reads one object of the bucket whole, without Strata.
func (c *lcCluster) object(key string) []byte {
	c.t.Helper()
	u, _ := url.Parse(c.objURL)
	if u.Scheme == "file" {
		data, err := os.ReadFile(filepath.Join(u.Host, u.Path, filepath.FromSlash(key)))
		if err != nil {
			c.t.Fatal(err)
		}
		return data
	}
	mc, bucket, prefix := c.s3()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obj, err := mc.GetObject(ctx, bucket, prefix+key, minio.GetObjectOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer obj.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(obj); err != nil {
		c.t.Fatalf("read %s: %v", key, err)
	}
	return buf.Bytes()
}

// rows returns the topic's index rows per partition, in offset order.
func (c *lcCluster) rows(topic string) map[int32][]metastore.IndexRow {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp, err := c.meta.Topic(ctx, topic)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[int32][]metastore.IndexRow{}
	for p := range tp.Partitions {
		rows, err := c.meta.IndexRows(ctx, tp.ID, p, 0, 0)
		if err != nil {
			c.t.Fatal(err)
		}
		out[p] = rows
	}
	return out
}

// topicID returns the topic's ID from the metastore.
func (c *lcCluster) topicID(topic string) metastore.TopicID {
	c.t.Helper()
	tp, err := c.meta.Topic(context.Background(), topic)
	if err != nil {
		c.t.Fatal(err)
	}
	return tp.ID
}

// referenced returns the objects the log index of every topic points at.
func (c *lcCluster) referenced() map[string]bool {
	c.t.Helper()
	topics, err := c.meta.Topics(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tp := range topics {
		for _, rows := range c.rows(tp.Name) {
			for _, r := range rows {
				out[r.ObjectKey] = true
			}
		}
	}
	return out
}

// objectStats sums the objects the metastore knows by kind and liveness
// ("flush/live", "segment/dead", ...): count.
func (c *lcCluster) objectStats() map[string]int64 {
	c.t.Helper()
	stats, err := c.meta.ObjectStats(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, s := range stats {
		state := "live"
		if s.Dead {
			state = "dead"
		}
		out[string(s.Kind)+"/"+state] = s.Count
	}
	return out
}

// onlyReferenced asserts that the bucket holds exactly the objects the
// log index references, besides the given orphans (which the metastore
// must not know, and nothing may reference), and that the metastore
// knows no object beyond the referenced ones (none is dead and waiting).
func (c *lcCluster) onlyReferenced(orphans map[string]bool) {
	c.t.Helper()
	if diff := c.bucketDiff(orphans); diff != "" {
		c.t.Fatal(diff)
	}
	if len(orphans) > 0 {
		known, err := c.meta.KnownObjects(context.Background(), slices.Collect(maps.Keys(orphans)))
		if err != nil {
			c.t.Fatal(err)
		}
		if len(known) > 0 {
			c.t.Fatalf("the metastore knows the orphans %v", known)
		}
	}
	st := c.objectStats()
	if n := st["flush/dead"] + st["segment/dead"]; n != 0 {
		c.t.Fatalf("%d dead objects still known to the metastore: %v", n, st)
	}
	if n, want := st["flush/live"]+st["segment/live"], int64(len(c.referenced())); n != want {
		c.t.Fatalf("the metastore knows %d live objects, the index references %d", n, want)
	}
}

// bucketDiff compares the bucket with the referenced objects plus
// orphans: "" if they are the same.
func (c *lcCluster) bucketDiff(orphans map[string]bool) string {
	c.t.Helper()
	ref := c.referenced()
	in := c.bucket()
	var missing, extra []string
	for k := range ref {
		if orphans[k] {
			return fmt.Sprintf("orphan %s is referenced by the index", k)
		}
		if _, ok := in[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range in {
		if !ref[k] && !orphans[k] {
			extra = append(extra, k)
		}
	}
	for k := range orphans {
		if _, ok := in[k]; !ok {
			missing = append(missing, k+" (orphan)")
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("bucket holds %d objects; referenced but absent: %v; present but unreferenced: %v", len(in), missing, extra)
}

// logModel is every record acknowledged on one topic, per partition, in
// offset order from 0: record i of a partition is at offset i.
type logModel map[int32][]*kgo.Record

// lcProducer returns a client that produces to the partition set on each
// record, with acks=all, idempotently.
func lcProducer(t *testing.T, addr string) *kgo.Client {
	return newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
}

// lcRecords builds n records for partition p of topic: keys (every
// seventh null), two headers, 40 to 400 random bytes of value, and
// timestamps ts, ts+1ms, ....
func lcRecords(topic string, p int32, tag string, n int, ts time.Time) []*kgo.Record {
	var out []*kgo.Record
	for i := range n {
		var key []byte
		if i%7 != 3 {
			key = fmt.Appendf(nil, "%s-%d-%d", tag, p, i)
		}
		val := make([]byte, 40+(i*37)%361)
		rand.Read(val)
		out = append(out, &kgo.Record{
			Topic: topic, Partition: p, Key: key, Value: val, Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
			Headers: []kgo.RecordHeader{{Key: "tag", Value: []byte(tag)}, {Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
		})
	}
	return out
}

// produce sends recs with one ProduceSync and adds them to m. With
// acks=all the records are committed when it returns, so records
// produced after it are in later flushes and index rows.
func (m logModel) produce(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	produceTo(t, cl, map[string]logModel{recs[0].Topic: m}, recs)
}

// produceTo is produce for records of several topics, each added to its
// topic's model.
func produceTo(t *testing.T, cl *kgo.Client, models map[string]logModel, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for _, r := range recs {
		m := models[r.Topic]
		if r.Offset != int64(len(m[r.Partition])) {
			t.Fatalf("%s/%d: record acknowledged at offset %d, want %d (dense)", r.Topic, r.Partition, r.Offset, len(m[r.Partition]))
		}
		m[r.Partition] = append(m[r.Partition], r)
	}
}

// produceRounds produces rounds rounds of n records to each of the
// topic's first partitions partitions (one ProduceSync per round) with
// timestamps ts.
func (m logModel) produceRounds(t *testing.T, cl *kgo.Client, topic string, partitions int32, tag string, rounds, n int, ts time.Time) {
	t.Helper()
	for r := range rounds {
		var recs []*kgo.Record
		for p := range partitions {
			recs = append(recs, lcRecords(topic, p, fmt.Sprintf("%s%d", tag, r), n, ts)...)
		}
		m.produce(t, cl, recs)
	}
}

func (m logModel) ends() map[int32]int64 {
	out := map[int32]int64{}
	for p, rs := range m {
		out[p] = int64(len(rs))
	}
	return out
}

// recordDiff says how got differs from want ("" if it does not): same
// partition, offset, key, value, headers and timestamp.
func recordDiff(got, want *kgo.Record) string {
	switch {
	case got.Partition != want.Partition || got.Offset != want.Offset:
		return fmt.Sprintf("record %d/%d where %d/%d was expected", got.Partition, got.Offset, want.Partition, want.Offset)
	case !bytes.Equal(got.Key, want.Key):
		return fmt.Sprintf("%d/%d: key %q, want %q", got.Partition, got.Offset, got.Key, want.Key)
	case !bytes.Equal(got.Value, want.Value):
		return fmt.Sprintf("%d/%d: value of %d bytes differs from the %d produced", got.Partition, got.Offset, len(got.Value), len(want.Value))
	case got.Timestamp.UnixMilli() != want.Timestamp.UnixMilli():
		return fmt.Sprintf("%d/%d: timestamp %d, want %d", got.Partition, got.Offset, got.Timestamp.UnixMilli(), want.Timestamp.UnixMilli())
	case len(got.Headers) != len(want.Headers):
		return fmt.Sprintf("%d/%d: %d headers, want %d", got.Partition, got.Offset, len(got.Headers), len(want.Headers))
	}
	for i, h := range got.Headers {
		if h.Key != want.Headers[i].Key || !bytes.Equal(h.Value, want.Headers[i].Value) {
			return fmt.Sprintf("%d/%d: header %d is %s=%q, want %s=%q", got.Partition, got.Offset, i, h.Key, h.Value, want.Headers[i].Key, want.Headers[i].Value)
		}
	}
	return ""
}

// readLog consumes the topic's partitions from from[p] up to to[p]
// (exclusive) and returns their records. Any fetch error fails the test,
// OFFSET_OUT_OF_RANGE included (the consumer does not reset).
func readLog(t *testing.T, addr, topic string, from, to map[int32]int64, opts ...kgo.Opt) map[int32][]*kgo.Record {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p, o := range from {
		if o < to[p] {
			offsets[p] = kgo.NewOffset().At(o)
		}
	}
	out := map[int32][]*kgo.Record{}
	if len(offsets) == 0 {
		return out
	}
	cl := newClient(t, addr, append([]kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
	defer cl.Close()
	next := maps.Clone(from)
	done := func() bool {
		for p, end := range to {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: read up to %v of %v within 60s", topic, next, to)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			t.Fatalf("fetch %s/%d (next offset %d): %v", tp, p, next[p], err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < to[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
				next[r.Partition] = r.Offset + 1
			}
		})
	}
	return out
}

// fetchAt sends one raw Fetch (topic by name and ID) for offset and returns
// the partition's answer.
func fetchAt(t *testing.T, cl *kgo.Client, topic string, id [16]byte, partition int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 10
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch %s/%d at %d: %v", topic, partition, offset, err)
	}
	return resp.Topics[0].Partitions[0]
}

// listed returns ListOffsets earliest (start) or latest of the topic's
// partitions.
func listed(t *testing.T, adm *kadm.Client, topic string, start bool) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list := adm.ListEndOffsets
	if start {
		list = adm.ListStartOffsets
	}
	res, err := list(ctx, topic)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	res.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// storedSizes returns DescribeLogDirs' "object-storage" sizes of the
// topic's partitions.
func storedSizes(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	found := false
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Dir != "object-storage" {
			return
		}
		found = true
		if d.Err != nil {
			t.Fatalf("describe log dirs: object-storage: %v", d.Err)
		}
		for p, dp := range d.Topics[topic] {
			out[p] = dp.Size
		}
	})
	if !found {
		t.Fatal("DescribeLogDirs lists no object-storage dir")
	}
	return out
}

// checkLog asserts what clients see of a topic: ListOffsets earliest is
// start[p] and latest the number of records produced; reading from the
// log start gets exactly the records from there on, byte for byte at
// their offsets; and a fetch below the log start answers
// OFFSET_OUT_OF_RANGE with the log start and high watermark.
func checkLog(t *testing.T, addr, topic string, m logModel, start map[int32]int64, opts ...kgo.Opt) {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends := m.ends()
	if got := listed(t, adm, topic, true); !mapsEqual(got, start) {
		t.Fatalf("%s: log start offsets %v, want %v", topic, got, start)
	}
	if got := listed(t, adm, topic, false); !mapsEqual(got, ends) {
		t.Fatalf("%s: end offsets %v, want %v", topic, got, ends)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := td[topic].ID
	for p, s := range start {
		if s == 0 {
			continue
		}
		for _, below := range slices.Compact([]int64{0, s - 1}) {
			got := fetchAt(t, cl, topic, id, p, below)
			if got.ErrorCode != kerr.OffsetOutOfRange.Code || got.LogStartOffset != s || got.HighWatermark != ends[p] {
				t.Fatalf("%s/%d: fetch at %d below the log start %d: error %v, log start %d, high watermark %d; want OFFSET_OUT_OF_RANGE, %d, %d",
					topic, p, below, s, kerr.ErrorForCode(got.ErrorCode), got.LogStartOffset, got.HighWatermark, s, ends[p])
			}
		}
	}
	got := readLog(t, addr, topic, start, ends, opts...)
	for p, rs := range m {
		want := rs[start[p]:]
		if len(got[p]) != len(want) {
			t.Fatalf("%s/%d: read %d records from the log start %d, want %d", topic, p, len(got[p]), start[p], len(want))
		}
		for i := range want {
			if d := recordDiff(got[p][i], want[i]); d != "" {
				t.Fatalf("%s: %s", topic, d)
			}
		}
	}
}

// checkTimestamps asserts ListOffsets by timestamp against the model,
// from the log start on: for a sample of timestamps, the first offset
// whose record's timestamp is at or after it, and (timestamp -3) the
// first record with the largest timestamp.
func checkTimestamps(t *testing.T, addr, topic string, m logModel, start map[int32]int64) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type found struct{ offset, ts int64 }
	firstAtOrAfter := func(p int32, ms int64) (found, bool) {
		for _, r := range m[p][start[p]:] {
			if r.Timestamp.UnixMilli() >= ms {
				return found{r.Offset, r.Timestamp.UnixMilli()}, true
			}
		}
		return found{}, false
	}
	var probes []int64
	for p, rs := range m {
		step := max(37, (int64(len(rs))-start[p])/8)
		for i := start[p]; i < int64(len(rs)); i += step {
			probes = append(probes, rs[i].Timestamp.UnixMilli(), rs[i].Timestamp.UnixMilli()+1)
		}
	}
	for _, ms := range probes {
		res, err := adm.ListOffsetsAfterMilli(ctx, ms, topic)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("%s: list offsets after %d: %v", topic, ms, err)
		}
		for p := range m {
			o, _ := res.Lookup(topic, p)
			want, ok := firstAtOrAfter(p, ms)
			if !ok {
				continue // kadm answers the end offset
			}
			if o.Offset != want.offset || o.Timestamp != want.ts {
				t.Fatalf("%s/%d: first offset at or after %d ms: %d (timestamp %d), want %d (%d)", topic, p, ms, o.Offset, o.Timestamp, want.offset, want.ts)
			}
		}
	}
	res, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("%s: list max timestamp offsets: %v", topic, err)
	}
	for p, rs := range m {
		want := found{-1, -1}
		for _, r := range rs[start[p]:] {
			if r.Timestamp.UnixMilli() > want.ts {
				want = found{r.Offset, r.Timestamp.UnixMilli()}
			}
		}
		if o, _ := res.Lookup(topic, p); o.Offset != want.offset || o.Timestamp != want.ts {
			t.Fatalf("%s/%d: max timestamp at offset %d (%d), want %d (%d)", topic, p, o.Offset, o.Timestamp, want.offset, want.ts)
		}
	}
}

// awaitStarts waits (timeout at most) until ListOffsets earliest of the
// topic's partitions is want; on a timeout it reports what the agent and
// the metastore said last.
func (c *lcCluster) awaitStarts(topic string, want map[int32]int64, timeout time.Duration) {
	c.t.Helper()
	adm := kadm.NewClient(newClient(c.t, c.addr()))
	var got map[int32]int64
	deadline := time.Now().Add(timeout)
	for {
		if got = listed(c.t, adm, topic, true); mapsEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	parts, err := c.meta.Partitions(context.Background(), c.topicID(topic))
	c.t.Fatalf("%s: log start offsets still %v after %v, want %v; the metastore has %+v (%v)", topic, got, timeout, want, parts, err)
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func zeros(partitions int32) map[int32]int64 {
	out := map[int32]int64{}
	for p := range partitions {
		out[p] = 0
	}
	return out
}

// TestRetention: retention.ms and retention.bytes, set on topics holding
// data, trim whole index rows as Kafka clients see it: ListOffsets
// earliest advances to exactly the first kept row, latest stays, a
// consumer from the beginning gets exactly the kept records, a fetch
// below the log start is OFFSET_OUT_OF_RANGE, DescribeLogDirs'
// object-storage sizes shrink to the kept rows, and the trimmed objects
// leave the bucket. retention.ms=-1 keeps records the broker default would
// drop. A restart changes none of it, and offsets are not reused.
func TestRetention(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, append(slices.Clone(lcAgentArgs), "--gc-grace", "1ns", "--gc-interval", "200ms")...)
	keep := map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	// Topics are created keeping everything, so the sizes before
	// retention can be read; their retention is set afterwards.
	for _, tp := range []struct {
		name       string
		partitions int32
	}{{"time", 2}, {"short", 1}, {"size", 1}, {"forever", 1}, {"default", 1}} {
		testkit.CreateTopic(t, c.addr(), tp.name, tp.partitions, keep)
	}
	cl := lcProducer(t, c.addr())
	now := time.Now()
	models := map[string]logModel{"time": {}, "short": {}, "size": {}, "forever": {}, "default": {}}
	// time: three rounds an hour old, then three of now; with
	// retention.ms of ten minutes the first three go, each round's rows
	// being its own (acks=all rounds are flushed one after another).
	models["time"].produceRounds(t, cl, "time", 2, "old", 3, 30, now.Add(-time.Hour))
	models["time"].produceRounds(t, cl, "time", 2, "new", 3, 30, now)
	// short: retention.ms=2000 lets everything go within seconds.
	models["short"].produceRounds(t, cl, "short", 1, "s", 3, 30, now)
	// size: eight rounds, of which retention.bytes keeps the newest rows
	// holding at least 3.5 rounds' bytes.
	models["size"].produceRounds(t, cl, "size", 1, "b", 8, 30, now)
	// forever and default: records 30 days old, past the broker's
	// default of 7 days; forever keeps them with retention.ms=-1.
	models["forever"].produceRounds(t, cl, "forever", 1, "f", 3, 30, now.Add(-30*24*time.Hour))
	models["default"].produceRounds(t, cl, "default", 1, "d", 3, 30, now.Add(-30*24*time.Hour))

	adm := kadm.NewClient(newClient(t, c.addr()))
	before := map[string]map[int32]int64{}
	for name := range models {
		before[name] = storedSizes(t, adm, name)
		checkLog(t, c.addr(), name, models[name], zeros(int32(len(models[name]))))
	}
	sizeRows := c.rows("size")[0]
	var total int64
	for _, r := range sizeRows {
		total += r.Size
	}
	if total != before["size"][0] {
		t.Fatalf("DescribeLogDirs says %d bytes for size/0, its index rows hold %d", before["size"][0], total)
	}
	limit := total * 7 / 16 // 3.5 of 8 rounds
	// The documented rule (README, Retention): the oldest rows go while
	// the rest still hold at least retention.bytes.
	sizeStart, kept := int64(0), total
	for _, r := range sizeRows {
		if kept-r.Size < limit {
			break
		}
		kept -= r.Size
		sizeStart = r.LastOffset + 1
	}
	if sizeStart == 0 || sizeStart >= int64(len(models["size"][0])) {
		t.Fatalf("retention.bytes %d of %d would keep offsets from %d: the test proves nothing", limit, total, sizeStart)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	set := func(topic string, cfgs ...kadm.AlterConfig) {
		res, err := adm.AlterTopicConfigs(ctx, cfgs, topic)
		if err == nil {
			_, err = res.On(topic, nil)
		}
		if err != nil {
			t.Fatalf("alter %s: %v", topic, err)
		}
	}
	set("time", kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("600000")})
	set("short", kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("2000")})
	set("size", kadm.AlterConfig{Name: "retention.bytes", Value: kadm.StringPtr(fmt.Sprint(limit))})
	set("default", kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"})

	want := map[string]map[int32]int64{
		"time":    {0: 90, 1: 90},
		"short":   models["short"].ends(),
		"size":    {0: sizeStart},
		"forever": {0: 0},
		"default": models["default"].ends(),
	}
	for name, w := range want {
		c.awaitStarts(name, w, 30*time.Second)
	}
	// forever was produced before default, so the passes that trimmed
	// default saw it and kept it.
	check := func(when string) {
		t.Helper()
		for name, m := range models {
			checkLog(t, c.addr(), name, m, want[name])
			checkTimestamps(t, c.addr(), name, m, want[name])
		}
		sizes := map[string]map[int32]int64{}
		for name := range models {
			sizes[name] = storedSizes(t, adm, name)
		}
		for p := range int32(2) {
			if s := sizes["time"][p]; s <= 0 || s >= before["time"][p] {
				t.Fatalf("%s: time/%d holds %d bytes in object storage, was %d: want fewer, not none", when, p, s, before["time"][p])
			}
		}
		if s := sizes["size"][0]; s != kept || s < limit {
			t.Fatalf("%s: size/0 holds %d bytes in object storage, want the %d of the kept rows (retention.bytes %d)", when, s, kept, limit)
		}
		if sizes["short"][0] != 0 || sizes["default"][0] != 0 {
			t.Fatalf("%s: short/0 and default/0 hold %d and %d bytes in object storage, want 0", when, sizes["short"][0], sizes["default"][0])
		}
		if sizes["forever"][0] != before["forever"][0] {
			t.Fatalf("%s: forever/0 holds %d bytes in object storage, was %d", when, sizes["forever"][0], before["forever"][0])
		}
	}
	check("after retention")
	// The trimmed rows' objects die and are collected (1ns grace).
	testkit.Await(t, 30*time.Second, "the trimmed objects to leave the bucket", func() bool { return c.bucketDiff(nil) == "" })

	c.restart()
	check("after a restart")
	// Offsets are never reused: the next record of short comes after the
	// trimmed ones.
	next := lcRecords("short", 0, "after", 1, time.Now())
	models["short"].produce(t, lcProducer(t, c.addr()), next)
	t.Logf("log starts %v; object-storage bytes before %v", want, before)
}

// TestRetentionCrash: an agent killed by SIGKILL just before or just
// after retention's trim commits comes back with consistent views: the
// log start it serves is the metastore's, every record from it on is
// readable, nothing below it is; and retention, running again, finishes
// the trim.
func TestRetentionCrash(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"retention-before-trim", "retention-after-trim"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			c := newLCCluster(t, append(slices.Clone(lcAgentArgs), "--compaction-crash-at", step)...)
			const partitions = 3
			testkit.CreateTopic(t, c.addr(), "trim", partitions, map[string]*string{"retention.ms": kadm.StringPtr("-1")})
			m := logModel{}
			cl := lcProducer(t, c.addr())
			now := time.Now()
			m.produceRounds(t, cl, "trim", partitions, "old", 2, 25, now.Add(-time.Hour))
			m.produceRounds(t, cl, "trim", partitions, "new", 2, 25, now)
			adm := kadm.NewClient(cl)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("600000")}}, "trim"); err != nil {
				t.Fatal(err)
			}
			if code := c.agent.wait(); code != -1 {
				t.Fatalf("agent exit code %d, want death by SIGKILL at %s", code, step)
			}
			if log := c.agent.stderr.String(); !strings.Contains(log, "crashing on purpose") || !strings.Contains(log, "step="+step) {
				t.Fatalf("the agent died, but not at %s:\n%s", step, tail(log, 20))
			}
			// What the metastore says now: before the trim nothing moved;
			// after it, exactly the first partition trimmed.
			parts, err := c.meta.Partitions(context.Background(), c.topicID("trim"))
			if err != nil {
				t.Fatal(err)
			}
			start := map[int32]int64{}
			trimmed := 0
			for _, p := range parts {
				start[p.Partition] = p.LogStartOffset
				if p.LogStartOffset != 0 {
					trimmed++
					if p.LogStartOffset != 50 {
						t.Fatalf("partition %d: log start %d in the metastore, want 0 or 50", p.Partition, p.LogStartOffset)
					}
				}
			}
			if want := map[bool]int{false: 0, true: 1}[step == "retention-after-trim"]; trimmed != want {
				t.Fatalf("%d partitions trimmed in the metastore at the crash, want %d: %v", trimmed, want, start)
			}
			// Without the lifecycle the restarted agent shows exactly
			// the crashed state.
			c.agent = c.agent.restart(append(slices.Clone(lcAgentArgs), "--compaction=false")...)
			checkLog(t, c.addr(), "trim", m, start)
			// With it, retention finishes the trim.
			c.restart(lcAgentArgs...)
			want := map[int32]int64{0: 50, 1: 50, 2: 50}
			c.awaitStarts("trim", want, 30*time.Second)
			checkLog(t, c.addr(), "trim", m, want)
			checkTimestamps(t, c.addr(), "trim", m, want)
		})
	}
}

// compactorPartitions are the partitions of the compactor tests' topics.
const compactorPartitions = 3

// checkSegments asserts that the bucket holds only compacted
// per-partition segments of the topic, at least one per partition, each
// a valid segment object whose footer lists chunks of the partition its
// key names and nothing else, and each referenced by the index.
func (c *lcCluster) checkSegments(topic string, orphans map[string]bool) {
	c.t.Helper()
	id := c.topicID(topic)
	per := map[int32]int{}
	ref := c.referenced()
	for key := range c.bucket() {
		if orphans[key] {
			continue
		}
		var p int32
		var rest string
		if _, err := fmt.Sscanf(strings.SplitN(key, "/", 2)[1], "cseg/"+id.String()+"/%d/%s", &p, &rest); err != nil {
			c.t.Fatalf("object %s is not a compacted segment of %s (%s): %v", key, topic, id, err)
		}
		chunks, err := segment.Parse(c.object(key))
		if err != nil {
			c.t.Fatalf("segment %s: %v", key, err)
		}
		for _, ch := range chunks {
			if ch.TopicID != id || ch.Partition != p {
				c.t.Fatalf("segment %s holds a chunk of %x/%d", key, ch.TopicID, ch.Partition)
			}
		}
		if !ref[key] {
			c.t.Fatalf("segment %s is not referenced by the index", key)
		}
		per[p]++
	}
	for p := range int32(compactorPartitions) {
		if per[p] == 0 {
			c.t.Fatalf("partition %d has no compacted segment in the bucket (%v)", p, per)
		}
	}
	for p, rows := range c.rows(topic) {
		for _, r := range rows {
			if r.Kind != metastore.RowSegment {
				c.t.Fatalf("partition %d: index row %d-%d still points into flush object %s", p, r.BaseOffset, r.LastOffset, r.ObjectKey)
			}
		}
	}
}

// TestCompactorOnce: `strata compactor --once` beside an agent that
// compacts nothing itself turns the flush objects (several, each holding
// every partition) into per-partition segments and collects the flush
// objects; every record then reads back byte for byte at its offset,
// from the running agent and after a restart, and the bucket holds only
// the referenced segments.
func TestCompactorOnce(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	testkit.CreateTopic(t, c.addr(), "cmp", compactorPartitions, nil)
	m := logModel{}
	m.produceRounds(t, lcProducer(t, c.addr()), "cmp", compactorPartitions, "r", 6, 40, time.Now())
	flushes := 0
	for key := range c.bucket() {
		if !strings.Contains(key, "/seg/") {
			t.Fatalf("object %s before any compaction", key)
		}
		flushes++
	}
	if flushes < 6 {
		t.Fatalf("%d flush objects after 6 acks=all rounds, want at least 6", flushes)
	}
	checkTimestamps(t, c.addr(), "cmp", m, zeros(compactorPartitions))

	// The first run compacts every partition (and, with a 1ns grace,
	// usually collects the flush objects it killed); the second collects
	// whatever the first found still within its grace, and finds nothing
	// left to compact.
	first := c.compactOnceOK(lcCompactNow...)
	if n := strings.Count(first, "msg=compacted "); n < compactorPartitions {
		t.Fatalf("the first run compacted %d times, want at least once per partition:\n%s", n, tail(first, 30))
	}
	second := c.compactOnceOK(lcCompactNow...)
	if !regexp.MustCompile(`msg="compaction pass" .*jobs=0\b`).MatchString(second) {
		t.Fatalf("the second run found more to compact:\n%s", tail(second, 30))
	}
	c.checkSegments("cmp", nil)
	c.onlyReferenced(nil)
	if st := c.objectStats(); st["flush/live"] != 0 || st["segment/live"] < compactorPartitions {
		t.Fatalf("objects the metastore knows: %v, want only segments", st)
	}
	checkLog(t, c.addr(), "cmp", m, zeros(compactorPartitions))
	checkTimestamps(t, c.addr(), "cmp", m, zeros(compactorPartitions))
	c.restart()
	checkLog(t, c.addr(), "cmp", m, zeros(compactorPartitions))
	checkTimestamps(t, c.addr(), "cmp", m, zeros(compactorPartitions))

	// DeleteRecords to an offset inside partition 1's segment (and
	// inside one of its batches): the segment stays, the records before
	// the new log start are no longer served, lookups by time start
	// there.
	start := zeros(compactorPartitions)
	start[1] = 101
	adm := kadm.NewClient(newClient(t, c.addr()))
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "cmp", Partition: 1, At: start[1]})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("cmp", 1); r.Err != nil || r.LowWatermark != start[1] {
		t.Fatalf("delete records below %d: low watermark %d, %v", start[1], r.LowWatermark, r.Err)
	}
	checkLog(t, c.addr(), "cmp", m, start)
	checkTimestamps(t, c.addr(), "cmp", m, start)
	c.checkSegments("cmp", nil)
}

// TestRetentionOfSegments: retention trims compacted segments whole, by
// time and by size, when `strata compactor` enforces it for an agent that
// runs no lifecycle of its own: the agent serves the new log start (it
// learns it from the metastore), the kept segments read back exactly,
// DescribeLogDirs counts only them, and the trimmed segments leave the
// bucket.
func TestRetentionOfSegments(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	testkit.CreateTopic(t, c.addr(), "segs", 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")})
	m := logModel{}
	cl := lcProducer(t, c.addr())
	// Three segments: an hour-old one, then two of now, each compacted
	// on its own (three small segments are not merged).
	for i, ts := range []time.Time{time.Now().Add(-time.Hour), time.Now(), time.Now()} {
		m.produceRounds(t, cl, "segs", 1, fmt.Sprintf("seg%d-", i), 3, 30, ts)
		c.compactOnceOK(lcCompactNow...)
	}
	rows := c.rows("segs")[0]
	if len(rows) != 3 {
		t.Fatalf("%d index rows, want 3 segments: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if r.Kind != metastore.RowSegment {
			t.Fatalf("row %d-%d is not a segment", r.BaseOffset, r.LastOffset)
		}
	}
	adm := kadm.NewClient(newClient(t, c.addr()))
	if got := storedSizes(t, adm, "segs")[0]; got != rows[0].Size+rows[1].Size+rows[2].Size {
		t.Fatalf("DescribeLogDirs says %d bytes, the segments hold %d", got, rows[0].Size+rows[1].Size+rows[2].Size)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alter := func(name, value string) {
		t.Helper()
		res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: name, Value: kadm.StringPtr(value)}}, "segs")
		if err == nil {
			_, err = res.On("segs", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name, value string
		gone        int // segments trimmed
	}{
		{"retention.ms", "600000", 1},                    // the hour-old segment
		{"retention.bytes", fmt.Sprint(rows[2].Size), 2}, // and then all but the newest
	} {
		alter(step.name, step.value)
		c.compactOnceOK(lcCompactNow...) // retention, then GC of what it killed
		start := map[int32]int64{0: rows[step.gone].BaseOffset}
		c.awaitStarts("segs", start, 10*time.Second)
		checkLog(t, c.addr(), "segs", m, start)
		checkTimestamps(t, c.addr(), "segs", m, start)
		var kept int64
		for _, r := range rows[step.gone:] {
			kept += r.Size
		}
		if got := storedSizes(t, adm, "segs")[0]; got != kept {
			t.Fatalf("after %s=%s: DescribeLogDirs says %d bytes, the kept segments hold %d", step.name, step.value, got, kept)
		}
		c.compactOnceOK(lcCompactNow...) // GC, had the grace not passed yet
		c.onlyReferenced(nil)
		for _, r := range rows[:step.gone] {
			if _, ok := c.bucket()[r.ObjectKey]; ok {
				t.Fatalf("trimmed segment %s is still in the bucket", r.ObjectKey)
			}
		}
	}
}

// TestCompactorCrash: `strata compactor --once` killed by SIGKILL at each
// step of a compaction job and of garbage collection, then run again
// without the fault, leaves every record readable exactly once at its
// offset and the bucket holding exactly the objects the index references.
// The steps run one after another on one cluster, each on new data, so
// later steps also merge the earlier steps' segments. A crash right after
// a PUT leaves the uploaded segment as an orphan that only the sweeper
// may delete once it is older than --orphan-age (at least 30 minutes):
// there it is enough that the orphan is unknown to the metastore,
// referenced by nothing, and the data intact.
//
// Every run has the same --holder, as a compactor restarted under a
// stable name (a pod's) would: a killed compactor's partition leases
// last their TTL (2 minutes), and only the same holder may take them
// back before that.
func TestCompactorCrash(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	compactNow := append(slices.Clone(lcCompactNow), "--holder", "crash-test-compactor")
	testkit.CreateTopic(t, c.addr(), "kill", compactorPartitions, nil)
	m := logModel{}
	cl := lcProducer(t, c.addr())
	orphans := map[string]bool{}
	for i, step := range []string{"after-put", "after-switch", "gc-before-delete", "gc-after-delete"} {
		t.Run(step, func(t *testing.T) {
			c := c.on(t)
			m.produceRounds(t, cl, "kill", compactorPartitions, fmt.Sprintf("s%d-", i), 3, 30, time.Now())
			// The GC steps are reached only when a dead object is past
			// its grace, which a nanosecond grace nearly always is by
			// the time this run's compaction ends; a run that exits 0
			// did not get there and is tried again.
			refBefore := c.referenced()
			died := false
			for try := 0; try < 3 && !died; try++ {
				code, log := c.compactOnce(append(slices.Clone(compactNow), "--compaction-crash-at", step)...)
				switch {
				case code == -1 && strings.Contains(log, "crashing on purpose") && strings.Contains(log, "step="+step):
					died = true
				case code != 0:
					t.Fatalf("compactor with --compaction-crash-at %s: exit code %d:\n%s", step, code, tail(log, 30))
				}
			}
			if !died {
				t.Fatalf("the compactor never reached %s", step)
			}
			// What the crash left, as the step says.
			in := c.bucket()
			dead, err := c.meta.DeadObjects(context.Background(), time.Now().Add(time.Hour), 0)
			if err != nil {
				t.Fatal(err)
			}
			switched := 0
			for k := range c.referenced() {
				if !refBefore[k] {
					switched++
				}
			}
			if (switched > 0) != (step != "after-put") {
				t.Fatalf("%d segments switched in by the run killed at %s", switched, step)
			}
			// Orphans: segments uploaded by jobs the kill cut short (with
			// two jobs at once, any kill during compaction may leave one).
			newOrphans := 0
			for k := range c.orphans() {
				if !orphans[k] {
					orphans[k] = true
					newOrphans++
				}
			}
			switch step {
			case "after-put":
				if newOrphans == 0 {
					t.Fatal("no orphan segment after a crash right after its PUT")
				}
			case "after-switch":
				// Its inputs' flush objects also hold the other
				// partitions' rows, so none need be dead yet.
			case "gc-before-delete":
				if len(dead) == 0 {
					t.Fatalf("no dead object after a crash at %s", step)
				}
				for _, o := range dead {
					if _, ok := in[o.Key]; !ok {
						t.Fatalf("dead object %s is gone from the bucket before any delete", o.Key)
					}
				}
			case "gc-after-delete":
				gone := 0
				for _, o := range dead {
					if _, ok := in[o.Key]; !ok {
						gone++
					}
				}
				if gone == 0 {
					t.Fatalf("no object deleted yet still known after a crash after the delete (dead: %d)", len(dead))
				}
			}
			// The consumer sees everything, exactly once, mid-repair too.
			checkLog(t, c.addr(), "kill", m, zeros(compactorPartitions))
			c.settle(compactNow...)
			c.onlyReferenced(orphans)
			c.checkSegments("kill", orphans)
			checkLog(t, c.addr(), "kill", m, zeros(compactorPartitions))
			checkTimestamps(t, c.addr(), "kill", m, zeros(compactorPartitions))
		})
		if t.Failed() {
			return
		}
	}
	c.restart()
	checkLog(t, c.addr(), "kill", m, zeros(compactorPartitions))
}

// lcLifecycleFast are lifecycle flags for the long-running tests:
// compaction every 200ms of data older than 300ms, GC every 200ms of
// objects dead for 300ms.
var lcLifecycleFast = []string{
	"--compaction-interval", "200ms", "--compaction-max-lag", "300ms",
	"--compaction-segment-bytes", "1MiB", "--compaction-chunk-bytes", "16KiB",
	"--gc-grace", "300ms", "--gc-interval", "200ms",
}

// streamConsumer reads partitions from offset 0 as records arrive,
// checking they come in offset order with no gap, and remembers every
// fetch error.
type streamConsumer struct {
	mu     sync.Mutex
	recs   map[int32][]*kgo.Record
	errs   []error
	gaps   []string
	cancel context.CancelFunc
	done   chan struct{}
}

// startStreamConsumer starts consuming; pace, if positive, is slept
// between polls, so a reader stays behind the writers.
func startStreamConsumer(t *testing.T, addr, topic string, partitions int32, pace time.Duration, opts ...kgo.Opt) *streamConsumer {
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl := newClient(t, addr, append([]kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &streamConsumer{recs: map[int32][]*kgo.Record{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			s.mu.Lock()
			fs.EachError(func(tp string, p int32, err error) {
				if ctx.Err() == nil {
					s.errs = append(s.errs, fmt.Errorf("%s/%d: %w", tp, p, err))
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				if want := int64(len(s.recs[r.Partition])); r.Offset != want {
					s.gaps = append(s.gaps, fmt.Sprintf("partition %d: offset %d where %d was expected", r.Partition, r.Offset, want))
					return
				}
				s.recs[r.Partition] = append(s.recs[r.Partition], r)
			})
			s.mu.Unlock()
			if pace > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(pace):
				}
			}
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *streamConsumer) stop() { s.cancel(); <-s.done }

// read returns how far the consumer has read per partition.
func (s *streamConsumer) read() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int32]int64{}
	for p, rs := range s.recs {
		out[p] = int64(len(rs))
	}
	return out
}

// check stops the consumer once it has read up to the model's ends (60s
// at most) and asserts it never saw an error and got every record of the
// model, byte for byte, once, in order.
func (s *streamConsumer) check(t *testing.T, m logModel) {
	t.Helper()
	ends := m.ends()
	testkit.Await(t, 60*time.Second, "the consumer to read every record", func() bool {
		got := s.read()
		for p, e := range ends {
			if got[p] < e {
				return false
			}
		}
		return true
	})
	s.stop()
	if len(s.errs) > 0 {
		t.Fatalf("the consumer got %d fetch errors, e.g. %v", len(s.errs), s.errs[:min(5, len(s.errs))])
	}
	if len(s.gaps) > 0 {
		t.Fatalf("the consumer got records out of order: %v", s.gaps[:min(5, len(s.gaps))])
	}
	for p, want := range m {
		got := s.recs[p]
		if len(got) != len(want) {
			t.Fatalf("partition %d: the consumer got %d records, want %d", p, len(got), len(want))
		}
		for i := range want {
			if d := recordDiff(got[i], want[i]); d != "" {
				t.Fatal(d)
			}
		}
	}
}

// TestCompactorsRace: two long-running `strata compactor`s and the
// agent's own lifecycle compact, switch and collect the same partitions
// while a producer and a consumer run. The consumer gets every
// acknowledged record exactly once, in order, with no fetch error;
// afterwards everything reads back whole from the object store, and the
// bucket holds exactly what the index references.
func TestCompactorsRace(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcLifecycleFast)...)
	const partitions = 3
	testkit.CreateTopic(t, c.addr(), "race", partitions, nil)
	// And a topic retention trims meanwhile, racing the compaction of
	// the rows it deletes.
	const retained = 48 << 10
	testkit.CreateTopic(t, c.addr(), "race-ret", 1, map[string]*string{"retention.bytes": kadm.StringPtr(fmt.Sprint(retained))})
	var compactors []*agentProc
	for range 2 {
		compactors = append(compactors, c.compactor(lcLifecycleFast...))
	}
	cons := startStreamConsumer(t, c.addr(), "race", partitions, 0)

	// The producer: acks=all rounds back to back for a while, so data
	// keeps arriving while segments are cut, merged and collected.
	m, mr := logModel{}, logModel{}
	cl := lcProducer(t, c.addr())
	deadline := time.Now().Add(15 * time.Second)
	for r := 0; time.Now().Before(deadline); r++ {
		var recs []*kgo.Record
		for p := range int32(partitions) {
			recs = append(recs, lcRecords("race", p, fmt.Sprintf("r%d-", r), 20, time.Now())...)
		}
		recs = append(recs, lcRecords("race-ret", 0, fmt.Sprintf("r%d-", r), 20, time.Now())...)
		produceTo(t, cl, map[string]logModel{"race": m, "race-ret": mr}, recs)
	}
	// Every record acknowledged is in m; wait until compaction has caught
	// up with the last of them, with the consumer still running.
	testkit.Await(t, 30*time.Second, "every partition compacted", func() bool {
		st := c.objectStats()
		return st["flush/live"] == 0 && st["segment/live"] >= partitions
	})
	cons.check(t, m)
	logs := c.agent.stderr.String()
	for _, p := range compactors {
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Fatalf("compactor exit code %d after SIGTERM, want 0", code)
		}
		logs += p.stderr.String()
	}
	t.Logf("%d records per partition; %d compaction jobs installed, %d lost their race, %d GC rounds",
		len(m[0]), strings.Count(logs, "msg=compacted "), strings.Count(logs, "lost its race"), strings.Count(logs, "msg=gc "))
	if strings.Count(logs, "msg=compacted ") == 0 {
		t.Fatal("nothing was compacted")
	}
	// With the lifecycle stopped everywhere, one more compactor run
	// collects what died last; then the bucket holds what the index
	// references, and it reads back whole from the object store.
	c.restart(slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	c.settle(lcCompactNow...)
	// A job cut short by SIGTERM may leave its uploaded segment behind,
	// unknown to the metastore, for the orphan sweep.
	orphans := c.orphans()
	c.onlyReferenced(orphans)
	t.Logf("%d orphans left by compactors stopped mid-job", len(orphans))
	checkLog(t, c.addr(), "race", m, zeros(partitions))
	checkTimestamps(t, c.addr(), "race", m, zeros(partitions))

	// race-ret: whatever log start retention reached, the views agree
	// on it, everything from it on reads back exactly, and what is kept
	// is what DescribeLogDirs counts, at least retention.bytes (less the
	// footers and trailers a merge after the last trim may have saved).
	adm := kadm.NewClient(newClient(t, c.addr()))
	start := listed(t, adm, "race-ret", true)
	if start[0] == 0 {
		t.Fatal("retention trimmed nothing of race-ret")
	}
	checkLog(t, c.addr(), "race-ret", mr, start)
	checkTimestamps(t, c.addr(), "race-ret", mr, start)
	var kept int64
	for _, r := range c.rows("race-ret")[0] {
		kept += r.Size
	}
	if got := storedSizes(t, adm, "race-ret")[0]; got != kept || kept < retained-4<<10 {
		t.Fatalf("race-ret: DescribeLogDirs says %d bytes, its rows hold %d; want equal and at least retention.bytes %d", got, kept, retained)
	}
	t.Logf("race-ret: %d records, log start %d, %d bytes kept", len(mr[0]), start[0], kept)
}

// TestReadWhileCompacting: a consumer that stays behind the writers and
// reads everything from the object store never gets a fetch error, and
// gets every record, while a compactor switches the rows it is about to
// read to new segments (again and again, as small segments are merged)
// and collects the old objects a nanosecond after they die.
func TestReadWhileCompacting(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	const partitions = 2
	testkit.CreateTopic(t, c.addr(), "reads", partitions, nil)
	m := logModel{}
	cl := lcProducer(t, c.addr())
	m.produceRounds(t, cl, "reads", partitions, "pre", 20, 20, time.Now())
	comp := c.compactor("--compaction-interval", "100ms", "--gc-interval", "100ms",
		"--compaction-max-lag", "1ns", "--gc-grace", "1ns",
		"--compaction-segment-bytes", "1MiB", "--compaction-chunk-bytes", "4KiB")
	// One batch per fetch, 20ms apart: the consumer is still reading
	// rows resolved before the latest switch when their object goes.
	cons := startStreamConsumer(t, c.addr(), "reads", partitions, 20*time.Millisecond,
		kgo.FetchMaxPartitionBytes(1), kgo.FetchMaxBytes(1))
	for r := range 30 {
		m.produceRounds(t, cl, "reads", partitions, fmt.Sprintf("r%d-", r), 1, 20, time.Now())
		time.Sleep(50 * time.Millisecond) // pacing: rounds arrive across compaction passes
	}
	cons.check(t, m)
	if code := comp.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("compactor exit code %d after SIGTERM, want 0", code)
	}
	log := comp.stderr.String()
	jobs, gcs := strings.Count(log, "msg=compacted "), strings.Count(log, "msg=gc ")
	t.Logf("%d records per partition read while %d compaction jobs and %d GC rounds ran", len(m[0]), jobs, gcs)
	if jobs == 0 || gcs == 0 {
		t.Fatalf("the compactor ran %d jobs and %d GC rounds: the reads raced nothing", jobs, gcs)
	}
	checkLog(t, c.addr(), "reads", m, zeros(partitions))
}

// TestDeletedTopicObjectsCollected: once a topic is deleted, its objects
// (compacted segments and flush objects alike) leave the bucket after the
// GC grace; an object also holding another topic's records stays until
// that topic's records are compacted out of it; the other topic reads
// back whole.
func TestDeletedTopicObjectsCollected(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcLifecycleFast)...)
	testkit.CreateTopic(t, c.addr(), "doomed", 2, nil)
	testkit.CreateTopic(t, c.addr(), "kept", 1, nil)
	doomed, kept := logModel{}, logModel{}
	cl := lcProducer(t, c.addr())
	doomed.produceRounds(t, cl, "doomed", 2, "d", 4, 30, time.Now())
	id := c.topicID("doomed")
	testkit.Await(t, 30*time.Second, "doomed to be compacted", func() bool {
		for _, rows := range c.rows("doomed") {
			if len(rows) == 0 || rows[0].Kind != metastore.RowSegment {
				return false
			}
		}
		return true
	})
	// Then rows in flush objects, one of them shared with kept.
	shared := append(lcRecords("doomed", 0, "both", 10, time.Now()), lcRecords("kept", 0, "both", 10, time.Now())...)
	produceTo(t, cl, map[string]logModel{"doomed": doomed, "kept": kept}, shared)
	doomed.produceRounds(t, cl, "doomed", 2, "d2-", 2, 30, time.Now())
	kept.produceRounds(t, cl, "kept", 1, "k", 2, 30, time.Now())
	var doomedKeys []string
	for _, rows := range c.rows("doomed") {
		for _, r := range rows {
			doomedKeys = append(doomedKeys, r.ObjectKey)
		}
	}
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.DeleteTopics(ctx, "doomed")
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	// Gone from the bucket, and then forgotten by the metastore.
	testkit.Await(t, 30*time.Second, "doomed's objects to leave the bucket and the metastore", func() bool {
		in := c.bucket()
		for _, k := range doomedKeys {
			if _, ok := in[k]; ok {
				return false
			}
		}
		for k := range in {
			if strings.Contains(k, id.String()) {
				return false
			}
		}
		known, err := c.meta.KnownObjects(context.Background(), doomedKeys)
		if err != nil {
			t.Fatal(err)
		}
		// And the lifecycle done with kept too: its flush rows
		// compacted, the dead objects collected.
		st := c.objectStats()
		return len(known) == 0 && st["flush/live"]+st["flush/dead"]+st["segment/dead"] == 0 && c.bucketDiff(nil) == ""
	})
	c.onlyReferenced(nil)
	checkLog(t, c.addr(), "kept", kept, zeros(1))
}

// TestCompactorStartKeepsAgentUploads: starting `strata compactor` on
// the file:// store an agent is writing to must not break the agent's
// uploads in progress. Regression test for fs.Open removing everything
// in <dir>/.tmp, where every process sharing the directory (agent,
// compactors) keeps its Puts in progress: a compactor starting while the
// agent uploads made the agent's rename fail ("upload failed; retrying",
// strata_objstore_errors_total{op="put"}), and an agent starting while a
// compactor uploads fails the compaction job the same way. The file
// store is what this is about, so it runs on it in both passes.
func TestCompactorStartKeepsAgentUploads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &lcCluster{t: t, metaURL: "sqlite://" + filepath.Join(dir, "meta.db"), objURL: "file://" + filepath.Join(dir, "objects")}
	c.agent = startAgent(t, agentOpts{args: []string{"--metastore", c.metaURL, "--objstore", c.objURL,
		"--flush-interval", "5ms", "--compaction=false"}})
	testkit.CreateTopic(t, c.addr(), "busy", 1, nil)
	// Uploads of a few MiB back to back, so one is nearly always in
	// progress.
	cl := newClient(t, c.addr(), kgo.DefaultProduceTopic("busy"), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.MaxBufferedRecords(64), kgo.ProducerBatchMaxBytes(4<<20))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		val := make([]byte, 256<<10)
		rand.Read(val)
		for ctx.Err() == nil {
			cl.Produce(ctx, &kgo.Record{Value: val}, nil)
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	for i := 0; i < 5 && !strings.Contains(c.agent.stderr.String(), "upload failed"); i++ {
		c.compactOnceOK()
	}
	if log := c.agent.stderr.String(); strings.Contains(log, "upload failed") {
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "upload failed") {
				t.Fatalf("a compactor starting on the agent's file store broke an upload in progress:\n%s", l)
			}
		}
	}
}

// TestCompactorStopReleasesLeases: SIGTERM to a `strata compactor` in the
// middle of a compaction pass waits for the job in progress, which
// releases its partition's lease, before the process exits 0, so another
// compactor can take the partition at once rather than after the lease's
// TTL (2 minutes). Regression test for compaction.Service.CompactOnce
// returning as soon as its wait for a job slot is cancelled, without
// waiting for the jobs it started (and reading their count unlocked: a
// data race under -race): Stop returned with a job still running, and
// the process closed the metastore under it ("release lease ... database
// is closed"), leaving the lease held.
func TestCompactorStopReleasesLeases(t *testing.T) {
	t.Parallel()
	c := newLCCluster(t, slices.Concat(lcAgentArgs, []string{"--compaction=false"})...)
	const partitions = 6
	testkit.CreateTopic(t, c.addr(), "stop", partitions, nil)
	m := logModel{}
	m.produceRounds(t, lcProducer(t, c.addr()), "stop", partitions, "r", 2, 20, time.Now())
	// One job at a time and one object-store request a second: each job
	// (a GET and a PUT) takes about a second, and while one runs the pass
	// waits for a job slot.
	comp := c.compactor("--compaction-max-lag", "1ns", "--compaction-interval", "1h",
		"--compaction-max-jobs", "1", "--compaction-max-requests-per-second", "1")
	testkit.Await(t, 30*time.Second, "the first compaction job", func() bool {
		return strings.Contains(comp.stderr.String(), "msg=compacted ")
	})
	if code := comp.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("compactor exit code %d after SIGTERM, want 0:\n%s", code, tail(comp.stderr.String(), 20))
	}
	if log := comp.stderr.String(); strings.Contains(log, "release lease") {
		t.Errorf("the compactor failed to release a lease on its way out:\n%s", tail(log, 10))
	}
	id := c.topicID("stop")
	ctx := context.Background()
	for p := range int32(partitions) {
		l, err := c.meta.ClaimLease(ctx, "another-compactor", id, p, time.Now(), time.Minute)
		if err != nil {
			t.Fatalf("partition %d: another compactor cannot take the lease after the first one stopped: %v", p, err)
		}
		if err := c.meta.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	checkLog(t, c.addr(), "stop", m, zeros(partitions))
}
