package main

// The tests in this package run the real strata binary (built once by
// TestMain in cli_test.go) as a child process and talk to it over
// 127.0.0.1 with franz-go and kcat. This file holds the process harness
// they share: start, wait until ready, SIGTERM, SIGKILL, restart. The
// Kafka-side helpers (clients, topics, waiting) are internal/testkit's.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testkit"
)

// strataBin is the binary built by TestMain.
var strataBin string

// freeAddr returns 127.0.0.1:<port> for a port that was free a moment ago.
// The agent binds it right after; a collision shows up as a failed start
// with "address already in use" in the agent's log.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer collects a child's stderr while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// agentProc is one run of `strata agent`.
type agentProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	addr    string // Kafka listener, 127.0.0.1:port
	dataDir string
	stderr  *syncBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
}

// agentOpts describes how to start an agent.
type agentOpts struct {
	addr    string   // --listen; "" picks a free port
	dataDir string   // --data-dir; "" makes a temporary one
	args    []string // extra flags
	env     []string // extra environment
}

// backends remembers, per data dir, the backends given to an agent, so a
// restart with the same data dir finds its metadata and objects again.
var backends sync.Map // data dir → []string flags

// backendFlags returns --metastore/--objstore flags for the suite's
// backends (testkit.Backends: SQLite and a directory, or a fresh Postgres
// schema and S3 prefix when STRATA_TEST_BACKEND=remote), the same ones
// for every start on dataDir.
func backendFlags(t testing.TB, dataDir string) []string {
	t.Helper()
	if f, ok := backends.Load(dataDir); ok {
		return f.([]string)
	}
	meta, objs := testkit.Backends(t)
	f := []string{"--metastore", meta, "--objstore", objs}
	backends.Store(dataDir, f)
	return f
}

// startAgent starts `strata agent --listen ADDR --admin-listen off
// --data-dir DIR ARGS...` and waits until a Metadata request succeeds. The
// process is killed at the end of the test if it is still running; if the
// test failed, its log is printed.
//
// A port picked by freeAddr can be taken by another socket before the
// agent binds it (tests run in parallel, and a restart reuses the old
// port); on "address already in use" it retries twice on a fresh port.
// Agents do not care: they re-register their new address on start.
func startAgent(t testing.TB, o agentOpts) *agentProc {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	if !slices.Contains(o.args, "--metastore") && !slices.Contains(o.args, "--objstore") {
		o.args = append(backendFlags(t, o.dataDir), o.args...)
	}
	for attempt := 0; ; attempt++ {
		addr := o.addr
		if addr == "" || attempt > 0 {
			addr = freeAddr(t)
		}
		args := append([]string{"agent", "--listen", addr, "--admin-listen", "off", "--data-dir", o.dataDir}, o.args...)
		p := spawn(t, o.env, args...)
		p.addr, p.dataDir = addr, o.dataDir
		err := p.waitReady()
		if err == nil {
			return p
		}
		if attempt < 2 && strings.Contains(p.stderr.String(), "address already in use") {
			t.Logf("%s was taken before the agent could bind it; retrying on another port", addr)
			continue
		}
		t.Fatal(err)
	}
}

// spawn starts the binary with args and extra environment, without
// waiting for anything.
func spawn(t testing.TB, env []string, args ...string) *agentProc {
	t.Helper()
	p := &agentProc{t: t, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(strataBin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start strata: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("agent %v log:\n%s", args, tail(p.stderr.String(), 60))
		}
		// An agent built with -race reports races on stderr even when it
		// is later killed; any report fails the test.
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in the agent:\n%s", tail(p.stderr.String(), 60))
		}
	})
	return p
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = append([]string{fmt.Sprintf("... (%d lines before)", len(ls)-lines)}, ls[len(ls)-lines:]...)
	}
	return strings.Join(ls, "\n")
}

func (p *agentProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady waits (30s at most) until a Metadata request to the agent
// returns a broker at its address. If the process exits first it returns
// an error with the agent's log; a timeout fails the test.
func (p *agentProc) waitReady() error {
	p.t.Helper()
	cl := newClient(p.t, p.addr)
	defer cl.Close()
	var lastErr error
	testkit.Await(p.t, 30*time.Second, "the agent to answer Metadata on "+p.addr, func() bool {
		if p.exited() {
			return true
		}
		_, lastErr = metadata(cl, p.addr)
		return lastErr == nil
	})
	if lastErr != nil || p.exited() {
		return fmt.Errorf("agent exited during start-up (%v):\n%s", p.waitErr, tail(p.stderr.String(), 40))
	}
	return nil
}

// metadata sends a Metadata request for all topics and checks that the
// agent lists itself at addr.
func metadata(cl *kgo.Client, addr string) (*kmsg.MetadataResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	for _, b := range resp.Brokers {
		if b.Host == host && strconv.Itoa(int(b.Port)) == port {
			return resp, nil
		}
	}
	return resp, fmt.Errorf("metadata lists %d brokers, none at %s", len(resp.Brokers), addr)
}

// stop sends sig and waits (30s at most) for the process to exit,
// returning its exit code (-1 if killed by a signal).
func (p *agentProc) stop(sig syscall.Signal) int {
	p.t.Helper()
	// ErrProcessDone: the process is already dead (e.g. killed from a
	// produce callback) and reaped; the wait below still reports how.
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
	return p.wait()
}

// wait waits (30s at most) for the process to exit after a signal sent
// elsewhere and returns its exit code (-1 if killed by a signal). Sending
// SIGTERM twice would be wrong: once the agent has restored the default
// handler on its way out, a second SIGTERM kills it.
func (p *agentProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatal("agent did not exit within 30s of the signal")
	}
	return exitCode(p.waitErr)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -2
}

// restart starts a new agent on the same address and data directory with
// the same extra flags.
func (p *agentProc) restart(args ...string) *agentProc {
	p.t.Helper()
	if !p.exited() {
		p.t.Fatal("restart of a running agent")
	}
	return startAgent(p.t, agentOpts{addr: p.addr, dataDir: p.dataDir, args: args})
}

// newClient is testkit.NewClient for addr with timeouts that give up
// quickly, so a dead agent fails requests instead of hanging the test.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return testkit.NewClient(t, addr, append([]kgo.Opt{kgo.DialTimeout(2 * time.Second), kgo.RetryTimeout(10 * time.Second)}, opts...)...)
}
