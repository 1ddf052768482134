package agent_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/tiering/objstore/mem"
)

// TestDataDirLocked: a second agent on the same data dir refuses to start
// and names the process holding it.
func TestDataDirLocked(t *testing.T) {
	a := testAgent(t, nil)
	cfg := a.Config()
	cfg.Listen, cfg.AdminListen, cfg.Registerer, cfg.Gatherer = "127.0.0.1:0", "off", nil, nil
	_, err := agent.New(context.Background(), cfg, agent.Deps{})
	if !errors.Is(err, agent.ErrDataDirInUse) {
		t.Fatalf("second agent on %s: %v, want agent.ErrDataDirInUse", cfg.DataDir, err)
	}
	want := "data dir " + cfg.DataDir + " is in use by pid " + strconv.Itoa(os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

// TestUnwritableDataDir: the error names the path and the cause.
func TestUnwritableDataDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := agent.New(context.Background(), agent.Config{DataDir: filepath.Join(f, "data"), Listen: "127.0.0.1:0", AdminListen: "off", Logger: testkit.Logger()}, agent.Deps{})
		if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("data dir under a file: %v", err)
		}
		return
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := agent.New(context.Background(), agent.Config{DataDir: dir, Listen: "127.0.0.1:0", AdminListen: "off", Logger: testkit.Logger()}, agent.Deps{})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("read-only data dir: %v", err)
	}
}

// TestObjectStoreProbe: an object store that refuses writes stops the
// agent at start with an error naming the store, instead of an agent
// that accepts produces it can never upload.
func TestObjectStoreProbe(t *testing.T) {
	objs := mem.New()
	objs.SetFault(func(op, key string) error {
		if op == "put" {
			return errors.New("AccessDenied: bad credentials")
		}
		return nil
	})
	cfg := agent.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "off", Logger: testkit.Logger()}
	_, err := agent.New(context.Background(), cfg, agent.Deps{Objects: objs})
	if err == nil || !strings.Contains(err.Error(), "object store") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("start with a failing object store: %v", err)
	}
}

// TestReadyzReportsFailingUploads: once uploads have failed for longer than
// a few flush intervals /readyz answers 503 with the reason, and 200 again
// after they recover.
func TestReadyzReportsFailingUploads(t *testing.T) {
	objs := mem.New()
	cfg := agent.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", FlushInterval: 20 * time.Millisecond, Logger: testkit.Logger()}
	a := testkit.StartAgent(t, cfg, testkit.WithDeps(agent.Deps{Objects: objs}))
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + a.AdminAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testkit.WaitFor(t, 5*time.Second, func() bool { c, _ := readyz(); return c == 200 })
	testkit.CreateTopic(t, a.Addr(), "r", 1, nil)
	objs.SetFault(func(op, key string) error {
		if op == "put" {
			return errors.New("injected outage")
		}
		return nil
	})
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("r"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() bool { c, _ := readyz(); return c == 503 })
	if _, body := readyz(); !strings.Contains(body, "failing for") {
		t.Fatalf("/readyz body %q gives no reason", body)
	}
	objs.SetFault(nil)
	testkit.WaitFor(t, 10*time.Second, func() bool { c, _ := readyz(); return c == 200 })
	testkit.ConsumeAll(t, a.Addr(), "r", 1)
}
