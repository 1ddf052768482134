package main

// Compacted topics (cleanup.policy=compact) end to end: a real agent, real
// Kafka clients (kgo, kadm), and `strata compactor` running the key
// cleaner, on SQLite + a directory or Postgres + MinIO.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/internal/testkit"
)

// kvModel is what was produced to one partition of a compacted topic:
// every record by offset, and which offset holds each key's latest.
type kvModel struct {
	all    []*kgo.Record
	latest map[string]int64
}

func (m *kvModel) produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for _, r := range recs {
		if r.Offset != int64(len(m.all)) {
			t.Fatalf("record acknowledged at offset %d, want %d", r.Offset, len(m.all))
		}
		m.all = append(m.all, r)
		m.latest[string(r.Key)] = r.Offset
	}
}

// want returns the records a consumer must see after a full clean: the
// latest of every key, tombstones included unless dropTombstones.
func (m *kvModel) want(dropTombstones bool) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range m.all {
		if m.latest[string(r.Key)] == r.Offset && (r.Value != nil || !dropTombstones) {
			out = append(out, r)
		}
	}
	return out
}

// checkKVLog consumes partition 0 of topic from its start to end with kgo
// and compares with want: the same records at the same offsets.
func checkKVLog(t *testing.T, addr, topic string, end int64, want []*kgo.Record) {
	t.Helper()
	got := readLog(t, addr, topic, map[int32]int64{0: 0}, map[int32]int64{0: end})[0]
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			t.Fatalf("%s: consumed %d records, want %d; first missing at offset %d", topic, len(got), len(want), want[i].Offset)
		case i >= len(want):
			t.Fatalf("%s: consumed %d records, want %d; first extra at offset %d key %q", topic, len(got), len(want), got[i].Offset, got[i].Key)
		}
		if d := recordDiff(got[i], want[i]); d != "" {
			t.Fatalf("%s: record %d: %s", topic, i, d)
		}
		if (got[i].Value == nil) != (want[i].Value == nil) {
			t.Fatalf("%s: offset %d: tombstone %v, want %v", topic, got[i].Offset, got[i].Value == nil, want[i].Value == nil)
		}
	}
}

func kvRecord(topic, key string, value []byte, ts time.Time) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: value, Timestamp: ts}
}

func endOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup(topic, 0)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	return o.Offset
}

// TestCompactedTopic: a compacted topic created and described with
// kadm; a keyless record refused with INVALID_RECORD and nothing
// appended; `strata compactor` (killed with -9 after its upload, and
// after its switch, then run again) leaves the latest value of every key
// at its original offset, the log end where it was and the tombstones;
// the idempotent producer that wrote the compacted-away batches goes on
// producing; after delete.retention.ms the tombstones go, not before.
func TestCompactedTopic(t *testing.T) {
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	ctx := context.Background()
	cl := lcProducer(t, c.addr())
	adm := kadm.NewClient(cl)
	const topic = "kv"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "delete.retention.ms": kadm.StringPtr("4000"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0")}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}

	// DescribeConfigs: the policy and its companions with their sources.
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cleanup.policy": "compact/DYNAMIC_TOPIC_CONFIG", "delete.retention.ms": "4000/DYNAMIC_TOPIC_CONFIG",
		"min.cleanable.dirty.ratio": "0/DYNAMIC_TOPIC_CONFIG", "min.compaction.lag.ms": "0/DEFAULT_CONFIG",
		"max.compaction.lag.ms": "9223372036854775807/DEFAULT_CONFIG",
	}
	for _, cfg := range rc.Configs {
		if w, ok := want[cfg.Key]; ok {
			if got := fmt.Sprintf("%s/%s", cfg.MaybeValue(), cfg.Source); got != w {
				t.Errorf("%s: %s, want %s", cfg.Key, got, w)
			}
			delete(want, cfg.Key)
		}
	}
	if len(want) > 0 {
		t.Fatalf("not described: %v", want)
	}

	// A keyless record: INVALID_RECORD, nothing appended.
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless produce: %v, want INVALID_RECORD", err)
	}
	if end := endOffset(t, adm, topic); end != 0 {
		t.Fatalf("log end %d after a refused record, want 0", end)
	}

	// Five rounds over 100 keys; the last round deletes ten of them; a
	// record with a key of its own ends the log.
	m := &kvModel{latest: map[string]int64{}}
	ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for round := range 5 {
		var recs []*kgo.Record
		for k := range 100 {
			v := fmt.Appendf(nil, "round %d of key %d %s", round, k, bytes.Repeat([]byte{'x'}, k))
			if round == 4 && k < 10 {
				v = nil
			}
			recs = append(recs, kvRecord(topic, fmt.Sprintf("key-%03d", k), v, ts.Add(time.Duration(round*100+k)*time.Millisecond)))
		}
		m.produce(t, cl, recs...)
	}
	m.produce(t, cl, kvRecord(topic, "end", []byte("the end"), ts.Add(time.Second)))
	end := endOffset(t, adm, topic)

	// kill -9 after the upload, and after the switch; then a clean run.
	// The same --holder takes over the killed one's leases at once.
	compactNow := append(slices.Clone(lcCompactNow), "--holder", "cleaner")
	for _, step := range []string{"after-put", "after-switch"} {
		code, log := c.compactOnce(append(slices.Clone(compactNow), "--compaction-crash-at", step)...)
		if code != -1 || !strings.Contains(log, "step="+step) {
			t.Fatalf("compactor crashing at %s: exit code %d, want a kill:\n%s", step, code, tail(log, 30))
		}
	}
	c.compactOnceOK(compactNow...)
	if got := endOffset(t, adm, topic); got != end {
		t.Fatalf("log end %d after cleaning, want %d", got, end)
	}
	checkKVLog(t, c.addr(), topic, end, m.want(false))
	rows := c.rows(topic)[0]
	for _, r := range rows {
		if !strings.Contains(r.ObjectKey, "/clean/") {
			t.Fatalf("row [%d, %d] in %s: not cleaned", r.BaseOffset, r.LastOffset, r.ObjectKey)
		}
	}

	// The idempotent producer goes on: its sequence state survived.
	m.produce(t, cl, kvRecord(topic, "key-050", []byte("after compaction"), ts.Add(2*time.Second)),
		kvRecord(topic, "end", []byte("the new end"), ts.Add(2*time.Second)))
	end = endOffset(t, adm, topic)

	// Tombstones stay until delete.retention.ms after the pass that
	// first kept them (4 s), then go.
	c.compactOnceOK(compactNow...)
	checkKVLog(t, c.addr(), topic, end, m.want(false))
	time.Sleep(4500 * time.Millisecond)
	c.compactOnceOK(compactNow...)
	checkKVLog(t, c.addr(), topic, end, m.want(true))
	if got := endOffset(t, adm, topic); got != end {
		t.Fatalf("log end %d, want %d", got, end)
	}
	c.onlyReferenced(c.orphans())
}

// TestCompactedTopicMinLag: min.compaction.lag.ms keeps young records
// from the cleaner: nothing is removed while the data is younger, and
// once it is older the latest of every key is all that is left. The
// policy changes from delete to compact with IncrementalAlterConfigs.
func TestCompactedTopicMinLag(t *testing.T) {
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	ctx := context.Background()
	cl := lcProducer(t, c.addr())
	adm := kadm.NewClient(cl)
	const topic = "lagged"
	if resp, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	m := &kvModel{latest: map[string]int64{}}
	now := time.Now()
	for round := range 3 {
		var recs []*kgo.Record
		for k := range 50 {
			recs = append(recs, kvRecord(topic, fmt.Sprintf("k%d", k), fmt.Appendf(nil, "v%d", round), now))
		}
		m.produce(t, cl, recs...)
	}
	m.produce(t, cl, kvRecord(topic, "end", []byte("end"), now))
	end := endOffset(t, adm, topic)
	alter := func(name, value string) {
		t.Helper()
		res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: name, Value: kadm.StringPtr(value)}}, topic)
		if err != nil || res[0].Err != nil {
			t.Fatalf("alter %s=%s: %v %v", name, value, err, res[0].Err)
		}
	}
	alter("cleanup.policy", "compact")
	alter("min.compaction.lag.ms", "3000")
	c.compactOnceOK(lcCompactNow...)
	checkKVLog(t, c.addr(), topic, end, m.all) // all younger than 3 s: untouched
	time.Sleep(time.Until(now.Add(3200 * time.Millisecond)))
	c.compactOnceOK(lcCompactNow...)
	checkKVLog(t, c.addr(), topic, end, m.want(false))
}

// TestCompactedTopicReadsWhileCleaning: the agent's own cleaner and a
// `strata compactor` race each other over a compacted topic while a
// producer writes new versions of 40 keys and consumers read from the
// log start again and again, from the object store only. No consumer
// ever sees an error, an offset twice or out of order, or an older
// version of a key after a newer one; the log ends up cleaned (rows in
// clean segments, fewer records than produced) with the last version of
// every key.
func TestCompactedTopicReadsWhileCleaning(t *testing.T) {
	fast := []string{"--compaction-interval", "100ms", "--gc-interval", "100ms", "--log-retention-check-interval", "100ms"}
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, lcCompactNow, fast)...)
	ctx := context.Background()
	cl := lcProducer(t, c.addr())
	adm := kadm.NewClient(cl)
	const topic = "busy"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0")}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	comp := c.compactor(slices.Concat(lcCompactNow, fast)...)
	defer comp.stop(syscall.SIGTERM)

	const keys = 40
	var produced int64
	last := map[string]int{}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for v := 0; ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			var recs []*kgo.Record
			for k := range keys {
				recs = append(recs, kvRecord(topic, fmt.Sprintf("k%02d", k), fmt.Appendf(nil, "%d", v), time.Now()))
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				done <- err
				return
			}
			for k := range keys {
				last[fmt.Sprintf("k%02d", k)] = v
			}
			produced += keys
		}
	}()

	// check reads the log from its start until it meets a record at or
	// past end-1, checking order and versions, and returns how many
	// records it saw before end. While the producer runs, records below
	// end may all be cleaned away, but newer ones keep coming; once it
	// has stopped, the record at end-1 is its key's last and stays.
	check := func(end int64) (int, map[string]int) {
		t.Helper()
		rd := newClient(t, c.addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
			kgo.ConsumeResetOffset(kgo.NoResetOffset()), kgo.FetchMaxWait(100*time.Millisecond))
		defer rd.Close()
		seen := map[string]int{}
		prev, n := int64(-1), 0
		deadline := time.Now().Add(60 * time.Second)
		for prev < end-1 {
			if time.Now().After(deadline) {
				t.Fatalf("read up to offset %d of %d within 60s", prev, end)
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			fs := rd.PollFetches(pctx)
			cancel()
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("fetch after offset %d: %v", prev, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset <= prev {
					t.Fatalf("offset %d after %d", r.Offset, prev)
				}
				prev = r.Offset
				v, err := strconv.Atoi(string(r.Value))
				if err != nil {
					t.Fatalf("offset %d: value %q", r.Offset, r.Value)
				}
				if old, ok := seen[string(r.Key)]; ok && v <= old {
					t.Fatalf("offset %d: %s version %d after version %d", r.Offset, r.Key, v, old)
				}
				seen[string(r.Key)] = v
				if r.Offset < end {
					n++
				}
			})
		}
		return n, seen
	}
	deadline := time.Now().Add(6 * time.Second)
	reads := 0
	for time.Now().Before(deadline) {
		if end := endOffset(t, adm, topic); end > 0 {
			check(end)
			reads++
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("produce: %v", err)
	}
	end := endOffset(t, adm, topic)
	if end != produced {
		t.Fatalf("log end %d, produced %d", end, produced)
	}
	// Let the cleaners catch up with the last writes, then the whole log
	// holds every key's last version, cleaned.
	var n int
	var seen map[string]int
	for try := 0; ; try++ {
		n, seen = check(end)
		if n <= 2*keys || try == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k, v := range last {
		if seen[k] != v {
			t.Fatalf("%s: last version read %d, produced %d", k, seen[k], v)
		}
	}
	if n > 2*keys {
		t.Fatalf("%d records left of %d produced for %d keys: the log was not cleaned", n, produced, keys)
	}
	cleaned := 0
	for _, r := range c.rows(topic)[0] {
		if strings.Contains(r.ObjectKey, "/clean/") {
			cleaned++
		}
	}
	if cleaned == 0 {
		t.Fatal("no clean segment in the log")
	}
	t.Logf("%d reads of the whole log while cleaning; %d records produced, %d left, %d clean rows", reads, produced, n, cleaned)
}

// TestCompactedTopicTransactions: the key cleaner on a topic written by a
// transactional producer: records of an aborted transaction supersede
// nothing and are removed; a transaction still open holds cleaning at
// its first offset (the last stable offset); committed records are
// cleaned as any others, and every marker stays where it was.
func TestCompactedTopicTransactions(t *testing.T) {
	c := newLCCluster(t, slices.Concat(lcAgentArgs, lcColdReads, []string{"--compaction=false"})...)
	ctx := context.Background()
	const topic = "kv-txn"
	adm := kadm.NewClient(lcProducer(t, c.addr()))
	if resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0")}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	plain := lcProducer(t, c.addr())
	tx := newClient(t, c.addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("kv-txn"))
	ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	last := int64(-1)
	produce := func(cl *kgo.Client, keys []int, value string) {
		t.Helper()
		for _, k := range keys {
			r := kvRecord(topic, fmt.Sprintf("key-%d", k), []byte(value), ts)
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", value, err)
			}
			last = max(last, r.Offset)
		}
	}
	inTxn := func(keys []int, value string, commit bool) {
		t.Helper()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(tx, keys, value)
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end %s: %v", value, err)
		}
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	produce(plain, all, "v1")
	inTxn([]int{0, 1, 2, 3, 4}, "committed", true)
	inTxn([]int{5, 6, 7, 8, 9}, "aborted", false)
	produce(plain, []int{9}, "v2")
	beforeOpen := last // the last record below the open transaction (the abort marker may come after it)
	// Open: key-0 "open" and then key-1 "late" outside the transaction.
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(tx, []int{0}, "open")
	produce(plain, []int{1}, "late")

	view := func(iso kgo.IsolationLevel, upTo int64) map[string]string {
		t.Helper()
		recs := readLog(t, c.addr(), topic, map[int32]int64{0: 0}, map[int32]int64{0: upTo + 1}, kgo.FetchIsolationLevel(iso))[0]
		out := map[string]string{}
		for _, r := range recs {
			out[string(r.Key)] += string(r.Value) + ";"
		}
		return out
	}
	c.compactOnceOK(lcCompactNow...)
	// Below the open transaction everything is cleaned: the aborted
	// values are gone and superseded nothing; at and after its first
	// offset nothing is.
	got := view(kgo.ReadUncommitted(), last)
	want := map[string]string{"key-0": "committed;open;", "key-1": "committed;late;", "key-2": "committed;", "key-3": "committed;",
		"key-4": "committed;", "key-5": "v1;", "key-6": "v1;", "key-7": "v1;", "key-8": "v1;", "key-9": "v2;"}
	if !maps.Equal(got, want) {
		t.Fatalf("after cleaning with a transaction open, read_uncommitted:\n got %v\nwant %v", got, want)
	}
	got = view(kgo.ReadCommitted(), beforeOpen)
	delete(want, "key-0")
	want["key-0"], want["key-1"] = "committed;", "committed;"
	if !maps.Equal(got, want) {
		t.Fatalf("read_committed below the open transaction:\n got %v\nwant %v", got, want)
	}

	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	end := endOffset(t, adm, topic)
	testkit.Await(t, 10*time.Second, "the last marker", func() bool { return endOffset(t, adm, topic) > last+1 })
	c.compactOnceOK(lcCompactNow...)
	if got := endOffset(t, adm, topic); got < end {
		t.Fatalf("log end %d after cleaning, was %d", got, end)
	}
	got = view(kgo.ReadCommitted(), last)
	want["key-0"], want["key-1"] = "open;", "late;"
	if !maps.Equal(got, want) {
		t.Fatalf("after the commit and a clean, read_committed:\n got %v\nwant %v", got, want)
	}
}
