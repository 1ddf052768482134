package mem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/objstoretest"
)

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return New() })
}

func TestFault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	errDown := errors.New("injected: store down")
	var mu sync.Mutex
	var seen []string
	s.SetFault(func(op, key string) error {
		mu.Lock()
		seen = append(seen, op+" "+key)
		mu.Unlock()
		if op == OpGet || op == OpPut {
			return errDown
		}
		return nil
	})
	if _, err := s.Get(ctx, "k"); !errors.Is(err, errDown) {
		t.Fatalf("Get err = %v, want injected error", err)
	}
	if err := s.Put(ctx, "k", []byte("new")); !errors.Is(err, errDown) {
		t.Fatalf("Put err = %v, want injected error", err)
	}
	// A faulted Put must not have changed the object.
	if got, err := s.GetRange(ctx, "k", 0, 1); err != nil || string(got) != "v" {
		t.Fatalf("GetRange = %q, %v; want %q", got, err, "v")
	}
	if _, err := s.List(ctx, "pre"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	want := []string{"get k", "put k", "getrange k", "list pre"}
	if len(seen) != len(want) {
		t.Fatalf("fault saw %q, want %q", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("fault saw %q, want %q", seen, want)
		}
	}
	mu.Unlock()

	s.SetFault(nil)
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get after clearing fault = %q, %v", got, err)
	}
}

func TestCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	s.Put(ctx, "a", []byte("1"))
	s.Put(ctx, "b", []byte("2"))
	s.Get(ctx, "a")
	s.Get(ctx, "missing")
	s.GetRange(ctx, "a", 0, 1)
	s.Stat(ctx, "a")
	s.List(ctx, "")
	s.Delete(ctx, "a")
	s.DeleteBatch(ctx, []string{"x", "y", "z"}) // one call, whatever the keys
	s.SetFault(func(op, key string) error { return errors.New("down") })
	s.Get(ctx, "b") // faulted calls count too
	want := map[string]int64{OpPut: 2, OpGet: 3, OpGetRange: 1, OpStat: 1, OpList: 1, OpDelete: 1, OpDeleteBatch: 1, "nope": 0}
	for op, n := range want {
		if got := s.Calls(op); got != n {
			t.Errorf("Calls(%q) = %d, want %d", op, got, n)
		}
	}
	s.ResetCalls()
	if got := s.Calls(OpGet); got != 0 {
		t.Errorf("Calls(get) after ResetCalls = %d", got)
	}
}

// TestDeleteBatchFault: DeleteBatch asks the fault function once per key,
// and a faulted key fails alone.
func TestDeleteBatchFault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	for _, k := range []string{"a", "b", "c"} {
		s.Put(ctx, k, []byte(k))
	}
	errDown := errors.New("injected")
	var seen []string
	s.SetFault(func(op, key string) error {
		seen = append(seen, op+" "+key)
		if key == "b" {
			return errDown
		}
		return nil
	})
	err := s.DeleteBatch(ctx, []string{"a", "b", "c"})
	var ke *objstore.KeyError
	if !errors.Is(err, errDown) || !errors.As(err, &ke) || ke.Key != "b" {
		t.Fatalf("DeleteBatch err = %v, want a KeyError for b", err)
	}
	if want := []string{"delete_batch a", "delete_batch b", "delete_batch c"}; !slices.Equal(seen, want) {
		t.Fatalf("fault saw %q, want %q", seen, want)
	}
	s.SetFault(nil)
	list, _ := s.List(ctx, "")
	if len(list) != 1 || list[0].Key != "b" {
		t.Fatalf("List after DeleteBatch = %v, want only b", list)
	}
	// DeleteKeys uses DeleteBatch, MaxBatchDelete keys a call.
	s.ResetCalls()
	var many []string
	for i := range 2*objstore.MaxBatchDelete + 1 {
		many = append(many, fmt.Sprintf("x/%d", i))
	}
	if err := objstore.DeleteKeys(ctx, s, many); err != nil {
		t.Fatal(err)
	}
	if d, b := s.Calls(OpDelete), s.Calls(OpDeleteBatch); d != 0 || b != 3 {
		t.Fatalf("DeleteKeys made %d Delete and %d DeleteBatch calls, want 0 and 3", d, b)
	}
}
