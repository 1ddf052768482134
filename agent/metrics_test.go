package agent_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/internal/testkit"
)

// TestAdminEndpoints: /healthz, /readyz and /metrics with the metrics the
// agent promises, after real traffic.
func TestAdminEndpoints(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "m", 1, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("m"))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.ConsumeAll(t, a.Addr(), "m", 1)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + a.AdminAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`strata_kafka_requests_total{api="Produce"}`,
		`strata_kafka_requests_total{api="Fetch"}`,
		"strata_produce_bytes_total",
		"strata_fetch_bytes_total",
		`strata_objstore_requests_total{op="put"}`,
		`strata_objstore_bytes_total{op="put"}`,
		"strata_flush_object_bytes_bucket",
		"strata_flush_duration_seconds_bucket",
		`strata_partition_high_watermark{partition="0",topic="m"} 1`,
		"strata_cache_hits_total",
		"strata_cache_misses_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
