package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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

// TestMeteredConformanceNoBatch: over a store without DeleteBatch,
// Metered's DeleteBatch falls back to Delete and still passes.
func TestMeteredConformanceNoBatch(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		return objstore.Metered(plainStore{mem.New()}, objstore.NewMetrics(nil))
	})
}

// plainStore hides every method of its store but objstore.Store's.
type plainStore struct{ objstore.Store }

// abortingStore is a mem store that also claims multipart uploads: each
// AbortStaleUploads reports aborted uploads.
type abortingStore struct {
	*mem.Store
	aborted int
}

func (s abortingStore) AbortStaleUploads(ctx context.Context, olderThan time.Time) (int, error) {
	return s.aborted, nil
}

func TestMeteredOpIndexes(t *testing.T) {
	// Each op through Metered must land on its own counter.
	ctx := context.Background()
	m := objstore.NewMetrics(nil)
	s := objstore.Metered(abortingStore{Store: mem.New()}, m)
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
	for range 7 {
		s.(objstore.BatchDeleter).DeleteBatch(ctx, []string{"x", "y"})
	}
	for range 8 {
		s.(objstore.UploadAborter).AbortStaleUploads(ctx, time.Now())
	}
	for i, op := range []string{objstore.OpPut, objstore.OpGet, objstore.OpGetRange, objstore.OpStat, objstore.OpList, objstore.OpDelete,
		objstore.OpDeleteBatch, objstore.OpAbortUploads} {
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

// TestMeteredBatch: DeleteBatch and AbortStaleUploads are forwarded where
// the store has them, counted once per request with the keys deleted and
// uploads aborted; elsewhere DeleteBatch falls back to Delete.
func TestMeteredBatch(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := objstore.NewMetrics(reg)
	inner := mem.New()
	s := objstore.Metered(abortingStore{Store: inner, aborted: 3}, m)

	var keys []string
	for i := range objstore.MaxBatchDelete + 10 {
		keys = append(keys, fmt.Sprintf("k/%04d", i))
	}
	for _, k := range keys[:20] {
		s.Put(ctx, k, []byte("v"))
	}
	if err := objstore.DeleteKeys(ctx, s, keys); err != nil {
		t.Fatal(err)
	}
	if got := inner.Calls(mem.OpDeleteBatch); got != 2 {
		t.Errorf("inner DeleteBatch calls = %d, want 2 (DeleteKeys must batch through Metered)", got)
	}
	// One key of a batch fails.
	injected := errors.New("injected")
	inner.SetFault(func(op, key string) error {
		if op == mem.OpDeleteBatch && key == "bad" {
			return injected
		}
		return nil
	})
	err := s.(objstore.BatchDeleter).DeleteBatch(ctx, []string{"a", "bad", "c"})
	var ke *objstore.KeyError
	if !errors.Is(err, injected) || !errors.As(err, &ke) || ke.Key != "bad" {
		t.Fatalf("DeleteBatch err = %v, want a KeyError for bad", err)
	}
	if n, err := s.(objstore.UploadAborter).AbortStaleUploads(ctx, time.Now()); n != 3 || err != nil {
		t.Fatalf("AbortStaleUploads = %d, %v; want 3, nil", n, err)
	}

	checks := []struct {
		name      string
		got, want int64
	}{
		{"Count(delete_batch)", m.Count(objstore.OpDeleteBatch), 3},
		{"Errors(delete_batch)", m.Errors(objstore.OpDeleteBatch), 1},
		{"Count(delete)", m.Count(objstore.OpDelete), 0},
		{"DeletedKeys", m.DeletedKeys(), int64(len(keys)) + 2},
		{"Count(abort_uploads)", m.Count(objstore.OpAbortUploads), 1},
		{"AbortedUploads", m.AbortedUploads(), 3},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if got := sampleCount(t, reg, "strata_objstore_requests_total", objstore.OpDeleteBatch); got != 3 {
		t.Errorf("requests_total{op=delete_batch} = %d, want 3", got)
	}
	for name, want := range map[string]int64{
		"strata_objstore_deleted_keys_total":    m.DeletedKeys(),
		"strata_objstore_aborted_uploads_total": m.AbortedUploads(),
	} {
		if got := counterValue(t, reg, name); got != float64(want) {
			t.Errorf("%s = %v, want %d", name, got, want)
		}
	}

	// Over a store without DeleteBatch: one Delete per key, and nothing
	// to abort.
	m2 := objstore.NewMetrics(nil)
	plain := objstore.Metered(plainStore{mem.New()}, m2)
	if err := objstore.DeleteKeys(ctx, plain, keys[:5]); err != nil {
		t.Fatal(err)
	}
	if n, err := plain.(objstore.UploadAborter).AbortStaleUploads(ctx, time.Now()); n != 0 || err != nil {
		t.Fatalf("AbortStaleUploads without uploads = %d, %v; want 0, nil", n, err)
	}
	if d, b, a, k := m2.Count(objstore.OpDelete), m2.Count(objstore.OpDeleteBatch), m2.Count(objstore.OpAbortUploads), m2.DeletedKeys(); d != 5 || b != 0 || a != 0 || k != 5 {
		t.Errorf("fallback: delete %d, delete_batch %d, abort_uploads %d, deleted keys %d; want 5, 0, 0, 5", d, b, a, k)
	}
}

// counterValue returns the value of the unlabelled counter name in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s in registry", name)
	return 0
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
