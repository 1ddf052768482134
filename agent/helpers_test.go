package agent_test

import (
	"testing"
	"time"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

// testAgent starts an agent (testkit.StartAgent) on the suite's backends
// (testkit.Backends) with the admin listener on and a 20ms flush
// interval, after mod has changed its config.
func testAgent(t *testing.T, mod func(*agent.Config), opts ...testkit.Option) *agent.Agent {
	t.Helper()
	cfg := agent.Config{AdminListen: "127.0.0.1:0", FlushInterval: 20 * time.Millisecond}
	cfg.MetastoreURL, cfg.ObjstoreURL = testkit.Backends(t)
	if mod != nil {
		mod(&cfg)
	}
	return testkit.StartAgent(t, cfg, opts...)
}

// waitHWM waits until a partition's high watermark reaches want.
func waitHWM(t *testing.T, a *agent.Agent, topic string, part int32, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tp := a.Registry().Topic(topic)
		if p := tp.Partition(part); p != nil && p.HighWatermark() >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("high watermark of %s/%d never reached %d", topic, part, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
