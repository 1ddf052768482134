package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/metastore"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/tiering/objstore"
)

// This file holds what the storage-lifecycle figures need beyond the
// agent's own /metrics: what the metastore and the bucket hold
// (storageProbe), `strata compactor --once` as a separate process
// (runCompactor), and the object-store requests that process makes
// (s3Counter).

// storageStats is what the metastore knows and what the bucket holds at one
// moment.
type storageStats struct {
	// From the metastore (ObjectStats, RowCounts): objects with live bytes
	// and without (awaiting garbage collection), bytes referenced by index
	// rows, bytes of every known object, and index rows by kind.
	LiveObjects, DeadObjects int64
	LiveBytes, KnownBytes    int64
	FlushRows, SegmentRows   int64
	// From listing the bucket (prefix of this scenario): every object,
	// known to the metastore or not.
	BucketObjects, BucketBytes int64
}

func (s storageStats) rows() int64 { return s.FlushRows + s.SegmentRows }

// storageProbe reads a Strata target's metastore and bucket directly, with
// Strata's own clients (metastore/open, the agent's object-store opener):
// read-only, safe beside a running agent (SQLite in WAL mode with a busy
// timeout; Postgres).
type storageProbe struct {
	meta metastore.Store
	objs objstore.Store
}

func openProbe(t *target) *storageProbe {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	meta, err := metaopen.Metastore(ctx, t.metaURL)
	if err != nil {
		fatalf("%s: open metastore for counting: %v", t.name, err)
	}
	objs, err := agent.OpenObjectStore(ctx, t.objURL)
	if err != nil {
		meta.Close()
		fatalf("%s: open object store for counting: %v", t.name, err)
	}
	return &storageProbe{meta: meta, objs: objs}
}

func (p *storageProbe) close() { p.meta.Close() }

func (p *storageProbe) stats() (storageStats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var s storageStats
	objs, err := p.meta.ObjectStats(ctx)
	if err != nil {
		return s, fmt.Errorf("ObjectStats: %w", err)
	}
	for _, o := range objs {
		if o.Dead {
			s.DeadObjects += o.Count
		} else {
			s.LiveObjects += o.Count
		}
		s.LiveBytes += o.LiveBytes
		s.KnownBytes += o.Bytes
	}
	rc, err := p.meta.RowCounts(ctx)
	if err != nil {
		return s, fmt.Errorf("RowCounts: %w", err)
	}
	for _, r := range rc {
		s.FlushRows += r.FlushRows
		s.SegmentRows += r.SegmentRows
	}
	list, err := p.objs.List(ctx, "")
	if err != nil {
		return s, fmt.Errorf("list bucket: %w", err)
	}
	for _, o := range list {
		s.BucketObjects++
		s.BucketBytes += o.Size
	}
	return s, nil
}

func (p *storageProbe) mustStats(label string) storageStats {
	s, err := p.stats()
	if err != nil {
		fatalf("%s: %v", label, err)
	}
	logf("  %s: metastore %d live + %d dead objects, %.1f MiB live of %.1f MiB known, %d flush + %d segment index rows; bucket %d objects, %.1f MiB",
		label, s.LiveObjects, s.DeadObjects, float64(s.LiveBytes)/(1<<20), float64(s.KnownBytes)/(1<<20),
		s.FlushRows, s.SegmentRows, s.BucketObjects, float64(s.BucketBytes)/(1<<20))
	return s
}

// compactorRun is what one `strata compactor --once` did.
type compactorRun struct {
	seconds    float64
	jobs       int   // jobs that installed a segment ("compaction pass" jobs=N)
	inputBytes int64 // sum of their input_bytes ("compacted" lines)
	segments   int   // "compacted" lines: segments installed
	// requests counts the process's S3 requests by operation (s3Op); nil
	// when the object store is a local directory (nothing to count on the
	// wire, and --once exits before its /metrics could be read).
	requests map[string]int64
}

var (
	reJobs  = regexp.MustCompile(`msg="compaction pass" .*\bjobs=(\d+)`)
	reInput = regexp.MustCompile(`msg=compacted .*input_bytes=(\d+)`)
)

// runCompactor runs `strata compactor --once` on the target's current
// metastore and bucket, with args added, and waits for it to exit. On an S3
// store its requests go through an s3Counter.
func runCompactor(t *target, label string, args ...string) compactorRun {
	objURL := t.objURL
	var counter *s3Counter
	if strings.HasPrefix(objURL, "s3://") {
		counter = startS3Counter(objURL)
		defer counter.close()
		objURL = counter.url(objURL)
	}
	t.compactorSeq++
	logPath := filepath.Join(t.root, fmt.Sprintf("compactor-%02d.log", t.compactorSeq))
	full := append([]string{"compactor", "--once", "--metastore", t.metaURL, "--objstore", objURL,
		"--admin-listen", "off", "--log-level", "info"}, args...)
	logf("  %s: strata %s", label, strings.Join(redactArgs(full), " "))
	start := time.Now()
	p, err := launch(t.bin, full, t.env, logPath)
	if err != nil {
		fatalf("%s: compactor: %v", label, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Minute):
		p.cmd.Process.Kill()
		<-p.exited
		fatalf("%s: compactor --once still running after 30 minutes; log %s", label, logPath)
	}
	r := compactorRun{seconds: time.Since(start).Seconds()}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		fatalf("%s: compactor --once exited with %d; log %s:\n%s", label, code, logPath, tail(logPath, 20))
	}
	f, err := os.Open(logPath)
	if err != nil {
		fatalf("%s: %v", label, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := reJobs.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.jobs += n
		}
		if m := reInput.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			r.inputBytes += n
			r.segments++
		}
	}
	if counter != nil {
		r.requests = counter.counts()
	}
	if r.segments != r.jobs {
		logf("  %s: the log shows %d jobs in its pass summary but %d segments compacted", label, r.jobs, r.segments)
	}
	logf("  %s: %d jobs, %.1f MiB compacted in %.1f s; S3 requests %v", label, r.jobs, float64(r.inputBytes)/(1<<20), r.seconds, r.requests)
	return r
}

// redactArgs hides the Postgres URL's password, if any, in a logged
// command line.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "xxx")
				a = u.String()
			}
		}
		out[i] = a
	}
	return out
}

// Operation groups of s3Op, as object stores bill them.
func (r compactorRun) puts() int64 {
	return r.requests["put"] + r.requests["multipart-create"] + r.requests["multipart-part"] + r.requests["multipart-complete"]
}
func (r compactorRun) gets() int64    { return r.requests["get"] + r.requests["getrange"] }
func (r compactorRun) deletes() int64 { return r.requests["delete"] + r.requests["delete-batch"] }
func (r compactorRun) lists() int64   { return r.requests["list"] + r.requests["list-uploads"] }

// s3Counter is a reverse proxy on 127.0.0.1 in front of an S3 endpoint that
// counts every HTTP request by operation. It keeps the client's Host
// header, so signatures made for the proxy's address still verify
// upstream. Only `strata compactor` goes through it: its --once exits
// before its own /metrics can be read, and the agent's throughput is
// measured, so agents talk to the store directly.
type s3Counter struct {
	srv  *http.Server
	addr string
	mu   sync.Mutex
	n    map[string]int64
}

func startS3Counter(objURL string) *s3Counter {
	u, err := url.Parse(objURL)
	if err != nil {
		fatalf("s3 counter: %v", err)
	}
	up, err := url.Parse(u.Query().Get("endpoint"))
	if err != nil || up.Host == "" {
		fatalf("s3 counter: no endpoint in the object store URL")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("s3 counter: %v", err)
	}
	c := &s3Counter{addr: ln.Addr().String(), n: map[string]int64{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(up)
		r.Out.Host = r.In.Host // signed by the client
		c.mu.Lock()
		c.n[s3Op(r.In)]++
		c.mu.Unlock()
	}}
	c.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	go c.srv.Serve(ln)
	return c
}

// url is objURL with its endpoint replaced by the proxy's.
func (c *s3Counter) url(objURL string) string {
	u, _ := url.Parse(objURL)
	q := u.Query()
	q.Set("endpoint", "http://"+c.addr)
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *s3Counter) counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *s3Counter) close() { c.srv.Close() }

// s3Op names the S3 operation of a path-style request.
func s3Op(r *http.Request) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch r.Method {
	case http.MethodPut:
		if has("partNumber") {
			return "multipart-part"
		}
		return "put"
	case http.MethodPost:
		switch {
		case has("uploads"):
			return "multipart-create"
		case has("uploadId"):
			return "multipart-complete"
		case has("delete"):
			return "delete-batch"
		}
		return "post"
	case http.MethodDelete:
		if has("uploadId") {
			return "multipart-abort"
		}
		return "delete"
	case http.MethodHead:
		return "head"
	case http.MethodGet:
		switch {
		case has("uploads"):
			return "list-uploads"
		case has("list-type"), has("prefix"), strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0:
			return "list"
		case r.Header.Get("Range") != "":
			return "getrange"
		}
		return "get"
	}
	return strings.ToLower(r.Method)
}
