package agent_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

// BenchmarkSecurity measures what TLS and SASL cost against plaintext,
// measured in the same run on the same agent (embedded backends):
//
//   - produce/LISTENER: franz-go produces STRATA_BENCH_MB (default 64) MiB
//     of 1 KiB records (acks=1, 4 partitions), then consumes them back;
//     reports produce and consume MB/s and their ratios to PLAINTEXT's
//     (x-plaintext; the goal is at least 0.8).
//
//   - connect/MECHANISM: a new client that connects, authenticates and
//     answers one Metadata request; reports connections per second and the
//     ratio to a plaintext connection.
//
// For example:
//
//	go test -run '^$' -bench Security -benchtime 3x ./agent/
func BenchmarkSecurity(b *testing.B) {
	e := newSecEnv(b)
	cfg := agent.Config{AdminListen: "off", FlushInterval: 20 * time.Millisecond,
		Listeners:   "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		TLSCertFile: e.server.CertFile, TLSKeyFile: e.server.KeyFile, SASLEnabledMechanisms: "PLAIN,SCRAM-SHA-512",
		AuthFailuresPerMinute: -1}
	cfg.MetastoreURL, cfg.ObjstoreURL = testkit.Backends(b)
	a := testkit.StartAgent(b, cfg)
	addUsers(b, a.ListenerAddr("PLAINTEXT"))
	mb := 64
	if s := os.Getenv("STRATA_BENCH_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	sasl := kgo.SASL(scram512("alice", "alice-pw"))
	tlsOpt := kgo.DialTLSConfig(e.tls(false))
	cases := []struct {
		name, listener string
		opts           []kgo.Opt
	}{
		{"PLAINTEXT", "PLAINTEXT", nil},
		{"SSL", "SSL", []kgo.Opt{tlsOpt}},
		{"SASL_SSL", "SASL_SSL", []kgo.Opt{tlsOpt, sasl}},
	}
	var baseProduce, baseConsume float64
	for i, tc := range cases {
		b.Run("produce/"+tc.name, func(b *testing.B) {
			topic := "bench-" + strconv.Itoa(i)
			testkit.CreateTopic(b, a.ListenerAddr("PLAINTEXT"), topic, 4, nil)
			value := make([]byte, 1024)
			n := mb << 10
			var prod, cons time.Duration
			for b.Loop() {
				cl := testkit.NewClient(b, a.ListenerAddr(tc.listener), append(tc.opts, kgo.DefaultProduceTopic(topic),
					kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(5*time.Millisecond))...)
				start := time.Now()
				errs := make(chan error, 1)
				for j := 0; j < n; j++ {
					cl.Produce(context.Background(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
						if err != nil {
							select {
							case errs <- err:
							default:
							}
						}
					})
				}
				if err := cl.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
				prod += time.Since(start)
				cl.Close()
				start = time.Now()
				got := testkit.ConsumeAll(b, a.ListenerAddr(tc.listener), topic, n, tc.opts...)
				cons += time.Since(start)
				if len(got) < n {
					b.Fatalf("consumed %d of %d", len(got), n)
				}
			}
			total := float64(mb) * 1.048576 * float64(b.N)
			pr, cr := total/prod.Seconds(), total/cons.Seconds()
			b.ReportMetric(pr, "produce-MB/s")
			b.ReportMetric(cr, "consume-MB/s")
			if tc.name == "PLAINTEXT" {
				baseProduce, baseConsume = pr, cr
			} else if baseProduce > 0 {
				b.ReportMetric(pr/baseProduce, "produce-x-plaintext")
				b.ReportMetric(cr/baseConsume, "consume-x-plaintext")
			}
		})
	}
	var baseConn float64
	for _, tc := range []struct {
		name, listener string
		opts           []kgo.Opt
	}{
		{"PLAINTEXT", "PLAINTEXT", nil},
		{"PLAIN", "SASL_PLAINTEXT", []kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())}},
		{"SCRAM-SHA-512", "SASL_PLAINTEXT", []kgo.Opt{sasl}},
		{"SSL", "SSL", []kgo.Opt{tlsOpt}},
		{"SASL_SSL-SCRAM-SHA-512", "SASL_SSL", []kgo.Opt{tlsOpt, sasl}},
	} {
		b.Run("connect/"+tc.name, func(b *testing.B) {
			const conns = 50
			var d time.Duration
			for b.Loop() {
				start := time.Now()
				for j := 0; j < conns; j++ {
					cl, err := kgo.NewClient(append(tc.opts, kgo.SeedBrokers(a.ListenerAddr(tc.listener)))...)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), cl); err != nil {
						b.Fatal(err)
					}
					cl.Close()
				}
				d += time.Since(start)
			}
			rate := float64(conns*b.N) / d.Seconds()
			b.ReportMetric(rate, "conn/s")
			if tc.name == "PLAINTEXT" {
				baseConn = rate
			} else if baseConn > 0 {
				b.ReportMetric(rate/baseConn, "x-plaintext")
			}
		})
	}
}
