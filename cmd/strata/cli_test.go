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
		{"bad env value", func(*testing.T) []string { return nil }, []string{"STRATA_FLUSH_INTERVAL=banana"}, "STRATA_FLUSH_INTERVAL"},
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

// TestConfigErrorsNameTheirSource: a bad value names where it came from:
// the YAML file and its key, the STRATA_* variable, or the flag; when
// several sources set a key, the one that wins (flag, then environment,
// then file) is named. Exit code 2 and one line, as for every usage error.
func TestConfigErrorsNameTheirSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		yaml string // written to strata.yaml and passed with --config when not ""
		env  []string
		args []string
		want string // the whole error line; CONFIG stands for the file's path
		// prefix: want is only the start of the line (the rest is worded
		// by another package: agent.Config.Validate, the URL openers).
		prefix bool
	}{
		{name: "duration in the file", yaml: "flush-interval: abc\n",
			want: `strata: config file CONFIG: flush-interval: invalid duration "abc"`},
		{name: "duration in the environment", env: []string{"STRATA_FLUSH_INTERVAL=abc"},
			want: `strata: STRATA_FLUSH_INTERVAL: invalid duration "abc"`},
		{name: "duration flag", args: []string{"--flush-interval=abc"},
			want: `strata: invalid argument "abc" for "--flush-interval" flag: time: invalid duration "abc"`},
		{name: "size in the file", yaml: "flush-bytes: lots\n",
			want: `strata: config file CONFIG: flush-bytes: "lots" is not a byte size (e.g. 8MiB, 1GiB, 1048576)`},
		{name: "size in the environment", env: []string{"STRATA_FLUSH_BYTES=lots"},
			want: `strata: STRATA_FLUSH_BYTES: "lots" is not a byte size (e.g. 8MiB, 1GiB, 1048576)`},
		{name: "size flag", args: []string{"--flush-bytes=lots"},
			want: `strata: --flush-bytes: "lots" is not a byte size (e.g. 8MiB, 1GiB, 1048576)`},
		{name: "environment beats the file", yaml: "flush-bytes: lots\n", env: []string{"STRATA_FLUSH_BYTES=heaps"},
			want: `strata: STRATA_FLUSH_BYTES: "heaps" is not a byte size (e.g. 8MiB, 1GiB, 1048576)`},
		{name: "flag beats the environment", env: []string{"STRATA_FLUSH_BYTES=heaps"}, args: []string{"--flush-bytes=lots"},
			want: `strata: --flush-bytes: "lots" is not a byte size (e.g. 8MiB, 1GiB, 1048576)`},
		// viper alone would read these as false and 0 without a word.
		{name: "bool in the file", yaml: "auto-create-topics: maybe\n",
			want: `strata: config file CONFIG: auto-create-topics: "maybe" is not true or false`},
		{name: "integer in the environment", env: []string{"STRATA_DEFAULT_PARTITIONS=many"},
			want: `strata: STRATA_DEFAULT_PARTITIONS: "many" is not a whole number`},
		// Range checks (agent.Config.Validate) and URLs name their source too.
		{name: "range in the environment", env: []string{"STRATA_LEASE_TTL=1ms"},
			want: `strata: STRATA_LEASE_TTL 1ms: `, prefix: true},
		{name: "range in the file", yaml: "flush-bytes: 100\n",
			want: `strata: config file CONFIG: flush-bytes 100: `, prefix: true},
		{name: "not a URL in the file", yaml: "metastore: meta.db\n",
			want: `strata: config file CONFIG: metastore "meta.db": not a URL (want sqlite:// or postgres://...)`},
		{name: "object store URL scheme in the environment", env: []string{"STRATA_OBJSTORE=ftp://x/y"},
			want: `strata: STRATA_OBJSTORE: `, prefix: true},
		{name: "metastore URL scheme in the file", yaml: "metastore: mysql://x\n",
			want: `strata: config file CONFIG: metastore: `, prefix: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"agent", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--data-dir", filepath.Join(dir, "data")}
			want := tc.want
			if tc.yaml != "" {
				path := filepath.Join(dir, "strata.yaml")
				if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", path)
				want = strings.ReplaceAll(want, "CONFIG", path)
			}
			args = append(args, tc.args...)
			// Clear the variables the cases set, should the test's own
			// environment have them.
			env := []string{"STRATA_FLUSH_INTERVAL=", "STRATA_FLUSH_BYTES=", "STRATA_DEFAULT_PARTITIONS=", "STRATA_LEASE_TTL=", "STRATA_OBJSTORE="}
			code, stdout, stderr := run(t, append(env, tc.env...), args...)
			if code != 2 {
				t.Fatalf("strata %v with %v: exit code %d, want 2; stderr:\n%s", args, tc.env, code, stderr)
			}
			got := strings.TrimSuffix(stderr, "\n")
			if tc.prefix && (!strings.HasPrefix(got, want) || strings.Contains(got, "\n")) {
				t.Fatalf("strata %v with %v: stderr\n%q\nwant one line starting with\n%q", args, tc.env, stderr, want)
			}
			if !tc.prefix && got != want {
				t.Fatalf("strata %v with %v: stderr\n%q\nwant the one line\n%q", args, tc.env, stderr, want)
			}
			if stdout != "" {
				t.Fatalf("stdout should be empty, got %q", stdout)
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
