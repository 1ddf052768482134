package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/tiering/objstore"
)

// Target names, in report order. Kafka is the peer.
const (
	strataEmbedded = "strata-embedded"
	strataRemote   = "strata-pg-minio"
	kafkaPeer      = "kafka"
)

// target is one system under test. start launches a fresh process (fresh
// data dir unless keep is set), so every scenario gets its own peak RSS.
type target struct {
	name       string
	durability map[string]string // acks mode -> what an acknowledged record survives
	startFn    func(keep bool, args []string) (*proc, error)

	// Strata only: the binary and the storage of the current scenario.
	// Every scenario gets a fresh metastore and bucket prefix (fresh), so
	// no agent compacts, retains or lists an earlier scenario's data.
	bin             string
	env             []string
	root            string
	baseMeta, base  string // "" (embedded) or the Postgres URL and S3 URL of the run
	metaURL, objURL string // the current scenario's
	storageSeq      int
	compactorSeq    int
	// The object store's and metastore's processes (Postgres + MinIO
	// target), for CPU accounting; 0 if none.
	minioPid, postgresPid int
	// dropFn (Kafka) removes the broker's data dir once it is stopped.
	dropFn func()
}

// drop deletes the current scenario's data once its processes are
// stopped, so a full run needs the disk of one scenario at a time (a
// 2 GiB produce run leaves several GiB of flush objects and segments):
// Strata's metastore and objects (the directory, or the S3 prefix's
// objects and the Postgres schema), Kafka's data dir.
func (t *target) drop() {
	if t.dropFn != nil {
		t.dropFn()
		return
	}
	if t.name == kafkaPeer || t.storageSeq == 0 {
		return
	}
	if t.baseMeta == "" {
		dir := filepath.Dir(strings.TrimPrefix(t.metaURL, "sqlite://"))
		if strings.HasPrefix(filepath.Base(dir), "storage-") {
			os.RemoveAll(dir)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	objs, err := agent.OpenObjectStore(ctx, t.objURL)
	if err != nil {
		logf("  %s: drop objects: %v", t.name, err)
		return
	}
	list, err := objs.List(ctx, "")
	if err != nil {
		logf("  %s: drop objects: %v", t.name, err)
		return
	}
	keys := make([]string, len(list))
	for i, o := range list {
		keys[i] = o.Key
	}
	bd, batch := objs.(objstore.BatchDeleter)
	for len(keys) > 0 && err == nil {
		if batch {
			n := min(len(keys), objstore.MaxBatchDelete)
			err = bd.DeleteBatch(ctx, keys[:n])
			keys = keys[n:]
		} else {
			err = objs.Delete(ctx, keys[0])
			keys = keys[1:]
		}
	}
	if err != nil {
		logf("  %s: drop objects: %v", t.name, err)
	}
	u, _ := url.Parse(t.metaURL)
	if schema := u.Query().Get("search_path"); strings.HasPrefix(schema, "bench_") {
		conn, err := pgx.Connect(ctx, t.baseMeta)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
		if err != nil {
			logf("  %s: drop schema %s: %v", t.name, schema, err)
		}
	}
}

// proc is one running broker process.
type proc struct {
	cmd       *exec.Cmd
	addr      string // Kafka listener, 127.0.0.1:port
	admin     string // Strata admin HTTP address ("" for Kafka)
	logPath   string
	exited    chan struct{}
	stopExtra func()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func launch(name string, args []string, env []string, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() { cmd.Wait(); lf.Close(); close(p.exited) }()
	return p, nil
}

// waitReady polls until the broker answers Metadata (and, for Strata, its
// /readyz), at most timeout.
func (p *proc) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("process exited at start; log %s:\n%s", p.logPath, tail(p.logPath, 15))
		default:
		}
		if p.admin != "" {
			resp, err := http.Get("http://" + p.admin + "/readyz")
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
			cancel()
			cl.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s; log %s:\n%s", timeout, p.logPath, tail(p.logPath, 15))
}

// peakRSS is the process's VmHWM in MiB (peak resident set since start).
func (p *proc) peakRSS() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// stop sends SIGTERM and waits up to 60s, then SIGKILLs.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		logf("  %s did not stop in 60s, killing pid %d", filepath.Base(p.cmd.Path), p.cmd.Process.Pid)
		p.cmd.Process.Kill()
		<-p.exited
	}
	if p.stopExtra != nil {
		p.stopExtra()
	}
}

// counter sums the Prometheus samples of name whose labels contain label
// (e.g. `op="put"`; "" for all) from the agent's /metrics. Kafka has
// none: 0.
func (p *proc) counter(name, label string) float64 {
	if p.admin == "" {
		return 0
	}
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		logf("  metrics: %v", err)
		return 0
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !(strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ")) || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// strataTarget runs the strata binary. metastore/objstore "" = embedded
// backends, kept in root (outside the agent's data dir) so a fresh agent
// with an empty data dir sees the same data (cold catch-up).
func strataTarget(name, bin, root, metastore, objstore string, env []string) *target {
	t := &target{
		name: name, bin: bin, env: env, root: root, baseMeta: metastore, base: objstore,
		durability: map[string]string{
			"1":   "fsync'd to the agent's local write-ahead buffer",
			"all": "in object storage and committed in the metastore",
		},
	}
	t.metaURL, t.objURL = metastore, objstore
	if metastore == "" {
		t.metaURL = "sqlite://" + filepath.Join(root, "meta.db")
		t.objURL = "file://" + filepath.Join(root, "objects")
	}
	n := 0
	t.startFn = func(_ bool, args []string) (*proc, error) {
		n++
		dataDir := filepath.Join(root, fmt.Sprintf("agent-%02d", n))
		addr := fmt.Sprintf("127.0.0.1:%d", freePort())
		admin := fmt.Sprintf("127.0.0.1:%d", freePort())
		p, err := launch(bin, append([]string{"agent", "--data-dir", dataDir, "--listen", addr, "--admin-listen", admin,
			"--metastore", t.metaURL, "--objstore", t.objURL, "--log-level", "warn"}, args...), env,
			filepath.Join(root, fmt.Sprintf("agent-%02d.log", n)))
		if err != nil {
			return nil, err
		}
		p.addr, p.admin = addr, admin
		p.stopExtra = func() { os.RemoveAll(dataDir) }
		return p, nil
	}
	return t
}

// fresh gives a Strata target a new, empty metastore and bucket prefix for
// scenario: a new SQLite file and directory (embedded), or a new Postgres
// schema and S3 prefix. Kafka: nothing (every start without keep has a
// fresh data dir already).
func (t *target) fresh(scenario string) {
	if t.name == kafkaPeer {
		return
	}
	t.storageSeq++
	ns := fmt.Sprintf("%02d-%s", t.storageSeq, scenario)
	if t.baseMeta == "" {
		dir := filepath.Join(t.root, "storage-"+ns)
		if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
			fatalf("%s: %v", t.name, err)
		}
		t.metaURL = "sqlite://" + filepath.Join(dir, "meta.db")
		t.objURL = "file://" + filepath.Join(dir, "objects")
		return
	}
	schema := "bench_" + strings.ReplaceAll(ns, "-", "_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, t.baseMeta)
	if err != nil {
		fatalf("%s: postgres: %v", t.name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		fatalf("%s: create schema %s: %v", t.name, schema, err)
	}
	mu, err := url.Parse(t.baseMeta)
	if err != nil {
		fatalf("%s: metastore url: %v", t.name, err)
	}
	q := mu.Query()
	q.Set("search_path", schema)
	mu.RawQuery = q.Encode()
	t.metaURL = mu.String()
	ou, err := url.Parse(t.base)
	if err != nil {
		fatalf("%s: object store url: %v", t.name, err)
	}
	ou.Path = strings.TrimSuffix(ou.Path, "/") + "/" + ns + "/"
	t.objURL = ou.String()
}

// kafkaTarget runs Apache Kafka, single node KRaft (broker+controller),
// loopback only, 1 GiB heap as kafka-server-start.sh gives it. keep=true
// restarts on the previous data dir.
func kafkaTarget(lib, root string) *target {
	n := 0
	var dataDir string
	return &target{
		name:   kafkaPeer,
		dropFn: func() { os.RemoveAll(dataDir) },
		durability: map[string]string{
			"1":   "in the broker's page cache (no fsync)",
			"all": "in the page cache of the only replica (no fsync; one node)",
		},
		startFn: func(keep bool, _ []string) (*proc, error) {
			n++
			if !keep || dataDir == "" {
				if dataDir != "" {
					os.RemoveAll(dataDir)
				}
				dataDir = filepath.Join(root, fmt.Sprintf("kafka-data-%02d", n))
			}
			port, cport := freePort(), freePort()
			props := filepath.Join(root, fmt.Sprintf("server-%02d.properties", n))
			cfg := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%[3]s
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
`, port, cport, dataDir)
			if err := os.WriteFile(props, []byte(cfg), 0o644); err != nil {
				return nil, err
			}
			log4j := filepath.Join(root, "log4j.properties")
			os.WriteFile(log4j, []byte("log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"+
				"log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"), 0o644)
			cp := filepath.Join(lib, "*")
			if !keep || n == 1 {
				out, err := exec.Command("java", "-Dlog4j.configuration=file:"+log4j, "-cp", cp, "kafka.tools.StorageTool",
					"format", "-t", "c3RyYXRhLWJlbmNoLWthZg", "-c", props).CombinedOutput()
				if err != nil {
					return nil, fmt.Errorf("kafka storage format: %v\n%s", err, out)
				}
			}
			p, err := launch("java", []string{"-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
				"-Dlog4j.configuration=file:" + log4j, "-cp", cp, "kafka.Kafka", props}, nil,
				filepath.Join(root, fmt.Sprintf("kafka-%02d.log", n)))
			if err != nil {
				return nil, err
			}
			p.addr = fmt.Sprintf("127.0.0.1:%d", port)
			return p, nil
		},
	}
}

// start launches the target; args are extra agent flags (Strata only).
func (t *target) start(keep bool, args ...string) *proc {
	p, err := t.startFn(keep, args)
	if err != nil {
		fatalf("%s: start: %v", t.name, err)
	}
	atExit(p.stop)
	if err := p.waitReady(90 * time.Second); err != nil {
		p.cmd.Process.Kill()
		fatalf("%s: %v", t.name, err)
	}
	return p
}

var _ = io.Discard
