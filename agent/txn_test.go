package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

func txnAgent(t *testing.T) *agent.Agent { return txnAgentV(t, 0) }

// txnAgentV starts an agent offering transaction.version v (0: the
// default, 2).
func txnAgentV(t *testing.T, v int16) *agent.Agent {
	t.Helper()
	cfg := agent.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "off", FlushInterval: 10 * time.Millisecond,
		Logger: testkit.Logger(), TxnVersion: v}
	cfg.MetastoreURL, cfg.ObjstoreURL = testkit.Backends(t)
	return testkit.StartAgent(t, cfg)
}

// produceTxn produces n records with the given value prefix in one
// transaction and commits or aborts it.
func produceTxn(t *testing.T, cl *kgo.Client, topic, prefix string, n int, commit bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %s-%d: %v", prefix, i, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

func countPrefixes(recs []*kgo.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[strings.SplitN(string(r.Value), "-", 2)[0]]++
	}
	return out
}

// TestTransactionsCommitAbort: committed transactions are seen by
// read_committed consumers, aborted ones only by read_uncommitted ones;
// latest offsets under read_committed stop at the last stable offset.
func TestTransactionsCommitAbort(t *testing.T) {
	for _, v := range []int16{1, 2} {
		t.Run(fmt.Sprintf("transaction.version=%d", v), func(t *testing.T) { testTransactionsCommitAbort(t, v) })
	}
}

func testTransactionsCommitAbort(t *testing.T, v int16) {
	a := txnAgentV(t, v)
	testkit.CreateTopic(t, a.Addr(), "tx", 3, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.TransactionalID("tx-commit-abort"), kgo.DefaultProduceTopic("tx"))
	produceTxn(t, cl, "tx", "c1", 30, true)
	produceTxn(t, cl, "tx", "a1", 30, false)
	produceTxn(t, cl, "tx", "c2", 30, true)
	produceTxn(t, cl, "tx", "a2", 20, false)

	committed := testkit.ConsumeAll(t, a.Addr(), "tx", 60, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if got := countPrefixes(committed); got["c1"] != 30 || got["c2"] != 30 || len(got) != 2 {
		t.Fatalf("read_committed saw %v, want 30 each of c1 and c2", got)
	}
	all := testkit.ConsumeAll(t, a.Addr(), "tx", 110)
	if got := countPrefixes(all); got["c1"] != 30 || got["a1"] != 30 || got["c2"] != 30 || got["a2"] != 20 {
		t.Fatalf("read_uncommitted saw %v", got)
	}
	// Each partition holds its records plus one marker per transaction
	// that wrote to it; once every marker is committed, the last stable
	// offset is the high watermark.
	adm := testkit.NewClient(t, a.Addr())
	latest := func(iso int8) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "tx"
		for p := int32(0); p < 3; p++ {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), adm)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, rp := range resp.Topics[0].Partitions {
			if rp.ErrorCode != 0 {
				t.Fatalf("list offsets partition %d: %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
			}
			total += rp.Offset
		}
		return total
	}
	testkit.Await(t, 10*time.Second, "every marker to be committed", func() bool { return latest(1) == latest(0) })
	if total := latest(0); total < 110+4 || total > 110+12 {
		t.Fatalf("%d offsets in all, want the 110 records and 4 to 12 markers", total)
	}
}

// TestTransactionOpenHoldsLastStable: an open transaction holds the last
// stable offset at its first offset, so read_committed consumers wait;
// the records appear when it commits.
func TestTransactionOpenHoldsLastStable(t *testing.T) {
	a := txnAgent(t)
	testkit.CreateTopic(t, a.Addr(), "open", 1, nil)
	plain := testkit.NewClient(t, a.Addr())
	ctx := context.Background()
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "open", Value: []byte("p-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tx := testkit.NewClient(t, a.Addr(), kgo.TransactionalID("tx-open"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := tx.ProduceSync(ctx, &kgo.Record{Topic: "open", Value: []byte(fmt.Sprintf("t-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "open", Value: []byte("p-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lso := func(iso int8) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "open"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].Offset
	}
	if got, hwm := lso(1), lso(0); got != 1 || hwm != 7 {
		t.Fatalf("open transaction: last stable %d, high watermark %d; want 1 and 7", got, hwm)
	}
	checkTxnAdmin(t, a, plain, "open")
	// A read_committed consumer sees only the record before the
	// transaction.
	cons := testkit.NewClient(t, a.Addr(), kgo.ConsumeTopics("open"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	fs := cons.PollFetches(fctx)
	cancel()
	var seen []string
	fs.EachRecord(func(r *kgo.Record) { seen = append(seen, string(r.Value)) })
	if len(seen) != 1 || seen[0] != "p-0" {
		t.Fatalf("read_committed during the transaction saw %v, want [p-0]", seen)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	for len(seen) < 7 {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cons.PollFetches(fctx)
		expired := fctx.Err() != nil
		cancel()
		if expired {
			t.Fatalf("after commit saw %v; last stable %d, high watermark %d", seen, lso(1), lso(0))
		}
		fs.EachRecord(func(r *kgo.Record) { seen = append(seen, string(r.Value)) })
	}
	if want := "p-0 t-0 t-1 t-2 t-3 t-4 p-1"; strings.Join(seen, " ") != want {
		t.Fatalf("after commit saw %v, want %s", seen, want)
	}
}

// TestTransactionZombieFenced: a second producer with the same
// transactional id fences the first; the first's open transaction is
// aborted and its commit fails.
func TestTransactionZombieFenced(t *testing.T) {
	a := txnAgent(t)
	testkit.CreateTopic(t, a.Addr(), "zombie", 2, nil)
	ctx := context.Background()
	old := testkit.NewClient(t, a.Addr(), kgo.TransactionalID("tx-zombie"), kgo.DefaultProduceTopic("zombie"))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := old.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("z-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	fresh := testkit.NewClient(t, a.Addr(), kgo.TransactionalID("tx-zombie"), kgo.DefaultProduceTopic("zombie"))
	produceTxn(t, fresh, "zombie", "n", 10, true)

	err := old.EndTransaction(ctx, kgo.TryCommit)
	if err == nil {
		t.Fatal("the fenced producer committed")
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("fenced producer's commit: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	got := countPrefixes(testkit.ConsumeAll(t, a.Addr(), "zombie", 10, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if got["n"] != 10 || len(got) != 1 {
		t.Fatalf("read_committed saw %v, want only the new producer's 10", got)
	}
}

// TestTransactionTimeout: the coordinator aborts a transaction past its
// transaction.timeout.ms and fences its producer.
func TestTransactionTimeout(t *testing.T) {
	a := txnAgent(t)
	testkit.CreateTopic(t, a.Addr(), "slow", 1, nil)
	ctx := context.Background()
	cl := testkit.NewClient(t, a.Addr(), kgo.TransactionalID("tx-slow"), kgo.TransactionTimeout(1500*time.Millisecond),
		kgo.DefaultProduceTopic("slow"))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("s-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := testkit.NewClient(t, a.Addr())
	describe := func() kmsg.DescribeTransactionsResponseTransactionState {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{"tx-slow"}
		resp, err := req.RequestWith(ctx, adm)
		if err != nil {
			t.Fatal(err)
		}
		return resp.TransactionStates[0]
	}
	if st := describe(); st.State != "Ongoing" || len(st.Topics) != 1 || st.TimeoutMillis != 1500 {
		t.Fatalf("describe during the transaction: %+v", st)
	}
	testkit.Await(t, 15*time.Second, "the expired transaction to be aborted", func() bool {
		return describe().State == "CompleteAbort"
	})
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("committed a transaction the coordinator aborted")
	}
	// Everything is decided: read_committed reaches the end and sees none.
	cons := testkit.NewClient(t, a.Addr(), kgo.ConsumeTopics("slow"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	fs := cons.PollFetches(fctx)
	if n := fs.NumRecords(); n != 0 {
		t.Fatalf("read_committed saw %d records of the aborted transaction", n)
	}
}

// TestTxnOffsetCommitRequireStable: offsets staged by TxnOffsetCommit are
// invisible until the transaction commits (UNSTABLE_OFFSET_COMMIT under
// RequireStable meanwhile) and vanish if it aborts.
func TestTxnOffsetCommitRequireStable(t *testing.T) {
	a := txnAgent(t)
	testkit.CreateTopic(t, a.Addr(), "src", 1, nil)
	ctx := context.Background()
	cl := testkit.NewClient(t, a.Addr())
	const id, grp = "tx-offsets", "g-offsets"

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch

	fetch := func() (int64, int16) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = grp, true
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "src", []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	stage := func(offset int64) {
		add := kmsg.NewPtrAddOffsetsToTxnRequest()
		add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = id, pid, epoch, grp
		ar, err := add.RequestWith(ctx, cl)
		if err != nil || ar.ErrorCode != 0 {
			t.Fatalf("add offsets: %v %v", err, kerr.ErrorForCode(ar.ErrorCode))
		}
		tc := kmsg.NewPtrTxnOffsetCommitRequest()
		tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation = id, grp, pid, epoch, -1
		tt := kmsg.NewTxnOffsetCommitRequestTopic()
		tt.Topic = "src"
		tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		tp.Offset, tp.LeaderEpoch = offset, -1
		tt.Partitions = append(tt.Partitions, tp)
		tc.Topics = append(tc.Topics, tt)
		tr, err := tc.RequestWith(ctx, cl)
		if err != nil || tr.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("txn offset commit: %v %+v", err, tr)
		}
	}
	end := func(commit bool) {
		for {
			req := kmsg.NewPtrEndTxnRequest()
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ErrorCode == kerr.ConcurrentTransactions.Code {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if resp.ErrorCode != 0 {
				t.Fatalf("end txn: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			if resp.Version >= 5 {
				pid, epoch = resp.ProducerID, resp.ProducerEpoch // KIP-890: bumped
			}
			return
		}
	}

	stage(42)
	if off, code := fetch(); code != kerr.UnstableOffsetCommit.Code || off != -1 {
		t.Fatalf("pending offset: %d %v, want -1 UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
	}
	end(true)
	if off, code := fetch(); code != 0 || off != 42 {
		t.Fatalf("committed offset: %d %v, want 42", off, kerr.ErrorForCode(code))
	}
	// The next transaction waits until the last one completes, stages 99
	// and aborts: 42 stays.
	testkit.Await(t, 10*time.Second, "the next transaction to start", func() bool {
		add := kmsg.NewPtrAddOffsetsToTxnRequest()
		add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = id, pid, epoch, grp
		ar, err := add.RequestWith(ctx, cl)
		return err == nil && ar.ErrorCode == 0
	})
	stage(99)
	end(false)
	if off, code := fetch(); code != 0 || off != 42 {
		t.Fatalf("after the abort: %d %v, want 42", off, kerr.ErrorForCode(code))
	}
}

// checkTxnAdmin checks the admin view of transactional id tx-open, open
// on partition 0 of topic since offset 1: DescribeProducers' transaction
// start offset, ListTransactions' filters, and the batched
// AddPartitionsToTxn (v4+) that verifies.
func checkTxnAdmin(t *testing.T, a *agent.Agent, cl *kgo.Client, topic string) {
	t.Helper()
	ctx := context.Background()
	dp := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = topic, []int32{0}
	dp.Topics = append(dp.Topics, dt)
	dresp, err := dp.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var pid int64 = -1
	for _, ap := range dresp.Topics[0].Partitions[0].ActiveProducers {
		if ap.CurrentTxnStartOffset >= 0 {
			if ap.CurrentTxnStartOffset != 1 {
				t.Fatalf("DescribeProducers: transaction start offset %d, want 1", ap.CurrentTxnStartOffset)
			}
			pid = ap.ProducerID
		}
	}
	if pid < 0 {
		t.Fatalf("DescribeProducers shows no open transaction: %+v", dresp.Topics[0].Partitions[0].ActiveProducers)
	}
	list := func(states []string, pids []int64) []string {
		req := kmsg.NewPtrListTransactionsRequest()
		req.StateFilters, req.ProducerIDFilters = states, pids
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("ListTransactions: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
		}
		var ids []string
		for _, ts := range resp.TransactionStates {
			ids = append(ids, ts.TransactionalID+"/"+ts.TransactionState)
		}
		return ids
	}
	if got := list([]string{"Ongoing"}, nil); len(got) != 1 || got[0] != "tx-open/Ongoing" {
		t.Fatalf("ListTransactions Ongoing: %v", got)
	}
	if got := list([]string{"CompleteCommit"}, nil); len(got) != 0 {
		t.Fatalf("ListTransactions CompleteCommit: %v", got)
	}
	if got := list(nil, []int64{pid + 1}); len(got) != 0 {
		t.Fatalf("ListTransactions of another producer id: %v", got)
	}
	if got := list(nil, []int64{pid}); len(got) != 1 {
		t.Fatalf("ListTransactions of producer %d: %v", pid, got)
	}
	// The batched broker form, verify only: partition 0 is in the
	// transaction, partition 0 of another topic is not.
	testkit.CreateTopic(t, a.Addr(), topic+"-other", 1, nil)
	ap := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "tx-open", pid, describeEpoch(t, cl, "tx-open"), true
	for _, name := range []string{topic, topic + "-other"} {
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = name, []int32{0}
		tx.Topics = append(tx.Topics, tt)
	}
	ap.Transactions = append(ap.Transactions, tx)
	ap.SetVersion(4)
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	dialRaw(t, a).roundTrip(ap, resp)
	if len(resp.Transactions) != 1 || len(resp.Transactions[0].Topics) != 2 {
		t.Fatalf("AddPartitionsToTxn v4: %+v", resp)
	}
	for _, rt := range resp.Transactions[0].Topics {
		want := kerr.InvalidTxnState.Code
		if rt.Topic == topic {
			want = 0
		}
		if code := rt.Partitions[0].ErrorCode; code != want {
			t.Fatalf("AddPartitionsToTxn v4 verify %s: %v, want %v", rt.Topic, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
		}
	}
}

func describeEpoch(t *testing.T, cl *kgo.Client, id string) int16 {
	t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.TransactionStates[0].ProducerEpoch
}
