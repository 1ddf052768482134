package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore/postgres/pgtest"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/objstore/s3/s3test"
)

// These tests stop a real MinIO or Postgres server under a running agent
// and start it again at the same address, proving the promise in
// DESIGN.md: an outage of the object store or the metastore makes
// produces fail with retriable Kafka errors once the local buffer is full;
// nothing acknowledged is lost; uploads resume by themselves.

// service is a throwaway server started by one of scripts/start-*.sh.
type service struct {
	t     *testing.T
	start string // script name
	stop  string
	dir   string
	env   []string // pins port and password across restarts
}

func scriptPath(name string) string { return filepath.Join("..", "..", "scripts", name) }

// up starts (or restarts) the server and returns the lines it exported.
func (s *service) up() map[string]string {
	s.t.Helper()
	cmd := exec.Command("bash", scriptPath(s.start), s.dir)
	cmd.Env = append(os.Environ(), s.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", s.start, err, stderr.String())
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			vars[k] = strings.Trim(v, "'")
		}
	}
	return vars
}

func (s *service) down() {
	s.t.Helper()
	if out, err := exec.Command("bash", scriptPath(s.stop), s.dir).CombinedOutput(); err != nil {
		s.t.Fatalf("%s: %v\n%s", s.stop, err, out)
	}
}

// serviceDir is a directory the postgres user can reach (t.TempDir is 0700).
func serviceDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "strata-outage-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestMinIOOutage(t *testing.T) {
	s3test.ServerURL(t) // the suite's servers exist: so do the binaries
	port := freePort(t)
	minio := &service{t: t, start: "start-minio.sh", stop: "stop-minio.sh", dir: serviceDir(t),
		env: []string{"STRATA_MINIO_PORT=" + port, "STRATA_MINIO_PASSWORD=" + randomHex(16)}}
	vars := minio.up()
	t.Cleanup(minio.down)
	env := []string{"AWS_ACCESS_KEY_ID=" + vars["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + vars["AWS_SECRET_ACCESS_KEY"], "AWS_REGION=us-east-1"}
	objURL := strings.Replace(vars["STRATA_TEST_S3_URL"], "s3://strata-test/", "s3://strata-test/outage", 1)
	runOutage(t, []string{"--metastore", pgtest.URL(t), "--objstore", objURL}, env, minio.down, func() { minio.up() })
}

func TestPostgresOutage(t *testing.T) {
	pgtest.ServerURL(t)
	port := freePort(t)
	pg := &service{t: t, start: "start-postgres.sh", stop: "stop-postgres.sh", dir: serviceDir(t),
		env: []string{"STRATA_POSTGRES_PORT=" + port}}
	vars := pg.up()
	t.Cleanup(pg.down)
	runOutage(t, []string{"--metastore", vars["STRATA_TEST_POSTGRES_URL"], "--objstore", s3test.URL(t)}, nil, pg.down, func() { pg.up() })
}

func freePort(t *testing.T) string {
	_, port, _ := strings.Cut(freeAddr(t), ":")
	return port
}

// runOutage produces with acks=all through an outage made by down/up.
func runOutage(t *testing.T, backendArgs, env []string, down, up func()) {
	p := startAgent(t, agentOpts{env: env, args: append(backendArgs,
		"--flush-interval", "50ms", "--flush-bytes", "64KiB", "--buffer-bytes", "1MiB")})
	testkit.CreateTopic(t, p.addr, "outage", 2, nil)

	const total = 3000
	var mu sync.Mutex
	acked := map[uint32]bool{}
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	cl := newClient(t, p.addr, kgo.DefaultProduceTopic("outage"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(3*time.Minute), kgo.RetryTimeout(3*time.Minute), kgo.ProducerLinger(5*time.Millisecond))
	var wg sync.WaitGroup
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v := make([]byte, 512)
			rand.Read(v)
			binary.BigEndian.PutUint32(v, uint32(i))
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Value: v}, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					t.Errorf("record %d failed: %v", binary.BigEndian.Uint32(r.Value), err)
					return
				}
				mu.Lock()
				acked[binary.BigEndian.Uint32(r.Value)] = true
				mu.Unlock()
			})
		}
	}
	produce(0, 500)
	testkit.Await(t, 30*time.Second, "first acknowledgements", func() bool { return ackedCount() >= 200 })

	down()
	produce(500, total)
	// Requests in flight at the stop may still complete; after that,
	// nothing more is acknowledged while the server is down.
	time.Sleep(2 * time.Second)
	before := ackedCount()
	// acks=1 traffic fills the local buffer; then produce answers a
	// retriable error instead of accepting more.
	raw := newClient(t, p.addr, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	var code int16
	accepted := 0
	testkit.Await(t, 60*time.Second, "a retriable error once the buffer is full", func() bool {
		code = rawProduce(t, raw, "outage", 64<<10)
		if code == 0 {
			accepted++
		}
		return code != 0
	})
	if err := kerr.ErrorForCode(code); code != kerr.KafkaStorageError.Code || !kerr.IsRetriable(err) {
		t.Fatalf("produce with a full buffer: %v, want retriable KAFKA_STORAGE_ERROR", err)
	}
	if after := ackedCount(); after != before {
		t.Fatalf("%d acks=all records were acknowledged while the server was down", after-before)
	}
	t.Logf("during the outage: %d acks=all records acknowledged before it, %d raw 64 KiB acks=1 batches accepted before the buffer filled", before, accepted)

	up()
	wg.Wait()
	if n := ackedCount(); n != total {
		t.Fatalf("%d of %d acknowledged after the server came back", n, total)
	}
	// Everything acknowledged is readable, exactly once, offsets dense.
	cons := newClient(t, p.addr, kgo.ConsumeTopics("outage"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[uint32]bool{}
	next := map[int32]int64{}
	extra := 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(seen) < total {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d acknowledged records", len(seen), total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			if len(r.Value) != 512 {
				extra++ // a raw acks=1 batch
				return
			}
			id := binary.BigEndian.Uint32(r.Value)
			if seen[id] {
				t.Fatalf("record %d read twice", id)
			}
			seen[id] = true
		})
	}
	t.Logf("after recovery: %d acks=all records read back, plus %d raw records", len(seen), extra)
}

// rawProduce sends one acks=1 batch of n random bytes to partition 0 and
// returns the error code.
func rawProduce(t *testing.T, cl *kgo.Client, topic string, n int) int16 {
	val := make([]byte, n)
	rand.Read(val)
	now := time.Now().UnixMilli()
	b, err := record.Build(record.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: now, MaxTimestamp: now},
		[]record.Record{{Value: val}}, record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.ProduceBatch(t, cl, topic, 1, b).ErrorCode
}
