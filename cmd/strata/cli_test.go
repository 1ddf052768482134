package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// binBuildFlags are extra `go build` flags for the binary under test
// (race_test.go adds -race).
var binBuildFlags []string

// TestMain builds the strata binary once for every test in the package.
func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "strata-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	strataBin = filepath.Join(dir, "strata")
	// -buildvcs=false: the binary needs no VCS stamp, and stamping fails
	// in CI checkouts that git considers of dubious ownership.
	args := append(append([]string{"build", "-buildvcs=false"}, binBuildFlags...), "-o", strataBin, ".")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go %s: %v\n", strings.Join(args, " "), err)
		return 1
	}
	return m.Run()
}

// run runs the binary to completion (10s at most) and returns its exit
// code, stdout and stderr.
func run(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir() // a default ./strata-data must not land in the source tree
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("strata %v did not finish within 10s; stderr:\n%s", args, errb.String())
	}
	return exitCode(err), out.String(), errb.String()
}

// TestUsageErrorsExit2: every mistake in flags, environment, config file
// or backend URL exits with code 2 and one line on stderr naming the
// problem, before anything listens or writes data.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	writeConfig := func(t *testing.T, body string) string {
		path := filepath.Join(t.TempDir(), "strata.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name    string
		args    func(t *testing.T) []string
		env     []string
		mention string // a substring the error line must contain
	}{
		{"bad duration flag", func(*testing.T) []string { return []string{"--flush-interval=banana"} }, nil, "flush-interval"},
		{"bad byte size flag", func(*testing.T) []string { return []string{"--flush-bytes=lots"} }, nil, "flush-bytes"},
		{"unknown flag", func(*testing.T) []string { return []string{"--no-such-flag"} }, nil, "no-such-flag"},
		{"positional argument", func(*testing.T) []string { return []string{"extra"} }, nil, "extra"},
		{"unknown metastore scheme", func(*testing.T) []string { return []string{"--metastore=mysql://x"} }, nil, "mysql"},
		{"metastore not a URL", func(*testing.T) []string { return []string{"--metastore=meta.db"} }, nil, "metastore"},
		{"unknown objstore scheme", func(*testing.T) []string { return []string{"--objstore=ftp://x/y"} }, nil, "ftp"},
		{"bad log format", func(*testing.T) []string { return []string{"--log-format=xml"} }, nil, "log-format"},
		{"bad env value", func(*testing.T) []string { return nil }, []string{"STRATA_FLUSH_INTERVAL=banana"}, "flush-interval"},
		{"unknown config key", func(t *testing.T) []string {
			return []string{"--config", writeConfig(t, "listen: 127.0.0.1:0\nflush-intervall: 1s\n")}
		}, nil, "flush-intervall"},
		{"config file missing", func(t *testing.T) []string {
			return []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}
		}, nil, "nope.yaml"},
		{"config file not YAML", func(t *testing.T) []string {
			return []string{"--config", writeConfig(t, "listen: [unclosed\n")}
		}, nil, "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"agent", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--data-dir", dataDir}, tc.args(t)...)
			code, stdout, stderr := run(t, tc.env, args...)
			if code != 2 {
				t.Fatalf("strata %v: exit code %d, want 2; stderr:\n%s", args, code, stderr)
			}
			line := strings.TrimSuffix(stderr, "\n")
			if line == "" || strings.Contains(line, "\n") {
				t.Fatalf("stderr is not exactly one line:\n%s", stderr)
			}
			if !strings.HasPrefix(line, "strata: ") || !strings.Contains(line, tc.mention) {
				t.Fatalf("error line %q does not start with \"strata: \" and mention %q", line, tc.mention)
			}
			if stdout != "" {
				t.Fatalf("stdout should be empty, got %q", stdout)
			}
			// A rejected configuration must not start writing state.
			if _, err := os.Stat(filepath.Join(dataDir, "wal")); err == nil {
				t.Fatalf("a write-ahead buffer was created in %s despite the usage error", dataDir)
			}
		})
	}
}

// TestVersion: `strata version` prints "strata <version>" on stdout (so
// scripts can capture it) and exits 0.
func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, nil, "version")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "strata ") || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("stdout = %q, stderr = %q; want one line \"strata <version>\" on stdout", stdout, stderr)
	}
}

// TestConfigFileAndEnv: settings come from the --config YAML file, STRATA_*
// environment overrides the file, flags override both, and SIGTERM stops
// the agent with exit code 0.
func TestConfigFileAndEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "yaml-data")
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`# listen is overridden by STRATA_LISTEN below
listen: 127.0.0.1:1
admin-listen: "off"
data-dir: %s
rack: rack-from-yaml # overridden by STRATA_RACK, itself overridden by --rack
flush-interval: 50ms
log-format: json
`, dataDir)
	path := filepath.Join(dir, "strata.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"STRATA_LISTEN=" + addr, "STRATA_AGENT_ID=agent-from-env", "STRATA_RACK=rack-from-env"}
	p := spawn(t, env, "agent", "--config", path, "--rack", "rack-from-flag")
	p.addr, p.dataDir = addr, dataDir
	if err := p.waitReady(); err != nil { // proves STRATA_LISTEN beat the file's listen
		t.Fatal(err)
	}

	cl := newClient(t, addr)
	resp, err := metadata(cl, addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].Rack == nil || *resp.Brokers[0].Rack != "rack-from-flag" {
		t.Fatalf("brokers = %+v, want one with rack rack-from-flag (the flag beats env and file)", resp.Brokers)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "meta.db")); err != nil {
		t.Fatalf("data-dir from the YAML file not used: %v", err)
	}
	// The agent ID came from the environment, so none was generated.
	if _, err := os.Stat(filepath.Join(dataDir, "agent-id")); err == nil {
		t.Fatal("agent-id file written although STRATA_AGENT_ID was set")
	}
	// log-format: json from the file.
	first := strings.SplitN(p.stderr.String(), "\n", 2)[0]
	if !strings.HasPrefix(first, "{") {
		t.Fatalf("first log line %q is not JSON (log-format from the YAML file ignored)", first)
	}
	// An ApiVersions round trip, to be sure it is a Kafka listener and not
	// just an open port.
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; log:\n%s", code, tail(p.stderr.String(), 30))
	}
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Fatalf("no \"stopped\" log line after SIGTERM:\n%s", tail(p.stderr.String(), 30))
	}
}
