package objstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/mem"
	"github.com/stratalog/strata/tiering/objstore/objstoretest"
)

func TestMeteredConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		return objstore.Metered(mem.New(), objstore.NewMetrics(nil))
	})
}

func TestMeteredOpIndexes(t *testing.T) {
	// Each op through Metered must land on its own counter.
	ctx := context.Background()
	m := objstore.NewMetrics(nil)
	s := objstore.Metered(mem.New(), m)
	s.Put(ctx, "k", []byte("v"))
	s.Get(ctx, "k")
	s.Get(ctx, "k")
	s.GetRange(ctx, "k", 0, 1)
	s.GetRange(ctx, "k", 0, 1)
	s.GetRange(ctx, "k", 0, 1)
	for range 4 {
		s.Stat(ctx, "k")
	}
	for range 5 {
		s.List(ctx, "")
	}
	for range 6 {
		s.Delete(ctx, "x")
	}
	for i, op := range []string{objstore.OpPut, objstore.OpGet, objstore.OpGetRange, objstore.OpStat, objstore.OpList, objstore.OpDelete} {
		if got := m.Count(op); got != int64(i+1) {
			t.Errorf("Count(%q) = %d, want %d", op, got, i+1)
		}
	}
}

func TestMetered(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := objstore.NewMetrics(reg)
	inner := mem.New()
	s := objstore.Metered(inner, m)

	if err := s.Put(ctx, "a", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRange(ctx, "a", 10, 30); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Get(missing) err = %v", err)
	}
	inner.SetFault(func(op, key string) error {
		if op == "put" {
			return errors.New("injected")
		}
		return nil
	})
	if err := s.Put(ctx, "b", make([]byte, 50)); err == nil {
		t.Fatal("faulted Put succeeded")
	}

	checks := []struct {
		name      string
		got, want int64
	}{
		{"Count(put)", m.Count("put"), 2},
		{"Count(get)", m.Count("get"), 2},
		{"Count(getrange)", m.Count("getrange"), 1},
		{"Bytes(put)", m.Bytes("put"), 100}, // the failed Put moved nothing
		{"Bytes(get)", m.Bytes("get"), 100},
		{"Bytes(getrange)", m.Bytes("getrange"), 30},
		{"Errors(put)", m.Errors("put"), 1},
		{"Errors(get)", m.Errors("get"), 0}, // not-exist is not a failure
		{"Count(bogus)", m.Count("bogus"), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}

	// The Prometheus series agree with the plain counters.
	for _, op := range []string{"put", "get", "getrange"} {
		if got, want := sampleCount(t, reg, "strata_objstore_bytes_total", op), uint64(m.Bytes(op)); got != want {
			t.Errorf("bytes_total{op=%s} = %d, want %d", op, got, want)
		}
	}
	if got := sampleCount(t, reg, "strata_objstore_errors_total", "put"); got != 1 {
		t.Errorf("errors_total{op=put} = %d, want 1", got)
	}
	if got := sampleCount(t, reg, "strata_objstore_request_duration_seconds", "get"); got != 2 {
		t.Errorf("request_duration_seconds{op=get} count = %d, want 2", got)
	}

	// A second NewMetrics on the same registry shares the series.
	m2 := objstore.NewMetrics(reg)
	objstore.Metered(inner, m2).Stat(ctx, "a")
	if got := sampleCount(t, reg, "strata_objstore_requests_total", "stat"); got != 1 {
		t.Errorf("requests_total{op=stat} = %d after a second NewMetrics, want 1", got)
	}
}

// sampleCount returns the counter value or histogram sample count of the
// named metric's op series in reg.
func sampleCount(t *testing.T, reg *prometheus.Registry, name, op string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					if h := m.GetHistogram(); h != nil {
						return h.GetSampleCount()
					}
					return uint64(m.GetCounter().GetValue())
				}
			}
		}
	}
	t.Fatalf("no %s{op=%q} in registry", name, op)
	return 0
}
