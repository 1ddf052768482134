package main

// kcat (librdkafka) against the real binary: a second, independent Kafka
// client implementation, as DESIGN.md promises existing clients work
// unchanged.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/internal/testkit"
)

// kcatPath finds kcat. Without it the test skips locally but fails in CI
// (CI=true), where scripts/test.sh installs it: CI must never skip.
func kcatPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed, and CI must not skip this test (scripts/test.sh installs it)")
		}
		t.Skip("kcat is not installed (apt-get install kcat, or run scripts/test.sh)")
	}
	return path
}

// kcat runs kcat with args (30s at most) and returns its stdout; a non-zero
// exit fails the test.
func kcat(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(errb.String(), 30))
	}
	// librdkafka reports delivery and protocol problems on stderr with
	// "%3|" (error) or "%4|" (warning) log lines even when it exits 0.
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.HasPrefix(l, "%3|") || strings.HasPrefix(l, "% ERROR") || strings.Contains(l, "Delivery failed") {
			t.Fatalf("kcat %s reported an error: %s", strings.Join(args, " "), l)
		}
	}
	return out.String()
}

// kcatMetadata is the part of `kcat -L -J` output the test reads.
type kcatMetadata struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
		} `json:"partitions"`
	} `json:"topics"`
}

// TestKcatRoundTrip: kcat produces 1,000 keyed lines from a file, lists
// the broker and the topic, and consumes the lines back unchanged: the
// exact sequence with one partition, every key's sequence with several.
// One topic is created by kcat's own Metadata request (--auto-create-topics
// with --default-partitions 2).
func TestKcatRoundTrip(t *testing.T) {
	t.Parallel()
	bin := kcatPath(t)
	p := startAgent(t, agentOpts{args: []string{"--auto-create-topics", "--default-partitions", "2"}})

	for _, tc := range []struct {
		topic      string
		partitions int32 // 0: created by kcat's Metadata request
		codec      string
	}{
		{"kcat-auto", 0, "none"},
		{"kcat-one", 1, "none"},
		{"kcat-three", 3, "none"},
		{"kcat-gzip", 3, "gzip"},
		{"kcat-lz4", 1, "lz4"},
		{"kcat-snappy", 1, "snappy"},
		{"kcat-zstd", 1, "zstd"},
	} {
		if t.Failed() {
			break // a broken agent would make each case wait for kcat's timeout
		}
		t.Run(tc.topic, func(t *testing.T) {
			wantParts := tc.partitions
			if wantParts == 0 {
				wantParts = 2 // --default-partitions
			} else {
				testkit.CreateTopic(t, p.addr, tc.topic, tc.partitions, nil)
			}

			var lines []string
			for i := 0; i < 1000; i++ {
				lines = append(lines, fmt.Sprintf("key-%02d:line %d of the kcat round trip, value %s", i%37, i, strings.Repeat("x", i%50)))
			}
			file := filepath.Join(t.TempDir(), "in.txt")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			kcat(t, bin, "-P", "-b", p.addr, "-t", tc.topic, "-K:", "-z", tc.codec, "-l", file)

			var md kcatMetadata
			out := kcat(t, bin, "-b", p.addr, "-L", "-J", "-t", tc.topic)
			if err := json.Unmarshal([]byte(out), &md); err != nil {
				t.Fatalf("kcat -L -J output is not JSON: %v\n%s", err, out)
			}
			if len(md.Brokers) != 1 || md.Brokers[0].Name != p.addr {
				t.Fatalf("kcat -L brokers = %+v, want one at %s", md.Brokers, p.addr)
			}
			if len(md.Topics) != 1 || md.Topics[0].Topic != tc.topic || md.Topics[0].Error != "" ||
				len(md.Topics[0].Partitions) != int(wantParts) {
				t.Fatalf("kcat -L topics = %+v, want %s with %d partitions", md.Topics, tc.topic, wantParts)
			}
			for _, part := range md.Topics[0].Partitions {
				if part.Leader != md.Brokers[0].ID {
					t.Fatalf("partition %d led by %d, want broker %d", part.Partition, part.Leader, md.Brokers[0].ID)
				}
			}

			out = kcat(t, bin, "-C", "-b", p.addr, "-t", tc.topic, "-e", "-o", "beginning", "-f", "%p %o %k:%s\n")
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(got) != len(lines) {
				t.Fatalf("consumed %d lines, want %d; first lines:\n%s", len(got), len(lines), tail(out, 5))
			}
			var seq []string
			keyPart := map[string]string{}
			perKeyGot, perKeyWant := map[string][]string{}, map[string][]string{}
			nextOffset := map[string]int{}
			for _, l := range got {
				var part string
				var off int
				var rest string
				if n, _ := fmt.Sscanf(l, "%s %d", &part, &off); n != 2 {
					t.Fatalf("unparsable kcat output line %q", l)
				}
				rest = l[len(fmt.Sprintf("%s %d ", part, off)):]
				if off != nextOffset[part] {
					t.Fatalf("partition %s: offset %d, want %d (dense from 0)", part, off, nextOffset[part])
				}
				nextOffset[part]++
				key, _, _ := strings.Cut(rest, ":")
				if p, ok := keyPart[key]; ok && p != part {
					t.Fatalf("key %s in partitions %s and %s", key, p, part)
				}
				keyPart[key] = part
				seq = append(seq, rest)
				perKeyGot[key] = append(perKeyGot[key], rest)
			}
			if wantParts == 1 {
				if strings.Join(seq, "\n") != strings.Join(lines, "\n") {
					t.Fatalf("consumed sequence differs from the file:\n%s", firstDiff(seq, lines))
				}
				return
			}
			for _, l := range lines {
				key, _, _ := strings.Cut(l, ":")
				perKeyWant[key] = append(perKeyWant[key], l)
			}
			if len(perKeyGot) != len(perKeyWant) {
				t.Fatalf("consumed %d keys, want %d", len(perKeyGot), len(perKeyWant))
			}
			for k, want := range perKeyWant {
				if strings.Join(perKeyGot[k], "\n") != strings.Join(want, "\n") {
					t.Fatalf("key %s: consumed sequence differs:\n%s", k, firstDiff(perKeyGot[k], want))
				}
			}
			if len(nextOffset) < 2 {
				t.Fatalf("all keys landed in %d partition(s) of %d", len(nextOffset), wantParts)
			}
		})
	}
}

func firstDiff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d: got %q, want %q", i, g, w)
		}
	}
	return "(no difference)"
}

// TestKcatGroupConsumer: kcat -G consumes a topic as a member of a
// consumer group (librdkafka's balanced consumer: FindCoordinator,
// JoinGroup, SyncGroup, OffsetCommit) and commits what it read; the
// committed offsets, read back with kadm, cover every record.
func TestKcatGroupConsumer(t *testing.T) {
	bin := kcatPath(t)
	p := startAgent(t, agentOpts{})
	testkit.CreateTopic(t, p.addr, "kcat-group", 3, nil)
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, fmt.Sprintf("k%d:v%d", i%17, i))
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kcat(t, bin, "-P", "-b", p.addr, "-t", "kcat-group", "-K:", "-l", in)

	out := kcat(t, bin, "-b", p.addr, "-G", "kcat-grp", "kcat-group", "-o", "beginning", "-e", "-q",
		"-f", "%s\n", "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100")
	got := strings.Fields(out)
	if len(got) != 300 {
		t.Fatalf("kcat -G read %d records, want 300", len(got))
	}
	seen := map[string]bool{}
	for _, v := range got {
		seen[v] = true
	}
	if len(seen) != 300 {
		t.Fatalf("kcat -G read %d distinct records of 300", len(seen))
	}
	adm := kadm.NewClient(newClient(t, p.addr))
	var committed int64
	testkit.Await(t, 10*time.Second, "committed offsets", func() bool {
		offs, err := adm.FetchOffsets(context.Background(), "kcat-grp")
		if err != nil {
			return false
		}
		committed = 0
		offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
		return committed == 300
	})
	groups, err := adm.ListGroups(context.Background())
	if _, ok := groups["kcat-grp"]; err != nil || !ok {
		t.Fatalf("ListGroups does not show kcat-grp: %v %v", groups.Groups(), err)
	}
}

// TestKcatConsumeByOffsetAndTimestamp: kcat starts at a given offset
// (-o N) and at the first record whose timestamp is >= T (-o s@T), which
// librdkafka resolves with ListOffsets by timestamp.
func TestKcatConsumeByOffsetAndTimestamp(t *testing.T) {
	bin := kcatPath(t)
	p := startAgent(t, agentOpts{})
	testkit.CreateTopic(t, p.addr, "kcat-ts", 1, nil)
	cl := newClient(t, p.addr, kgo.DefaultProduceTopic("kcat-ts"))
	base := time.UnixMilli(1_750_000_000_000)
	var rs []*kgo.Record
	for i := 0; i < 100; i++ {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	byOffset := strings.Fields(kcat(t, bin, "-C", "-b", p.addr, "-t", "kcat-ts", "-p", "0", "-o", "90", "-e", "-q", "-f", "%o:%s\n"))
	if len(byOffset) != 10 || byOffset[0] != "90:v90" || byOffset[9] != "99:v99" {
		t.Fatalf("kcat -o 90 read %v", byOffset)
	}
	ts := base.Add(42*time.Second + 500*time.Millisecond).UnixMilli() // between records 42 and 43
	byTime := strings.Fields(kcat(t, bin, "-C", "-b", p.addr, "-t", "kcat-ts", "-p", "0", "-o", fmt.Sprintf("s@%d", ts), "-e", "-q", "-f", "%o:%s:%T\n"))
	if len(byTime) != 57 || !strings.HasPrefix(byTime[0], "43:v43:") {
		t.Fatalf("kcat -o s@%d read %d records starting with %v", ts, len(byTime), byTime[:min(3, len(byTime))])
	}
	if want := fmt.Sprint(base.Add(43 * time.Second).UnixMilli()); !strings.HasSuffix(byTime[0], ":"+want) {
		t.Fatalf("first record by timestamp %q, want timestamp %s", byTime[0], want)
	}
}
