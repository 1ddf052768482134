package mem

import (
	"context"
	"errors"
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
	s.SetFault(func(op, key string) error { return errors.New("down") })
	s.Get(ctx, "b") // faulted calls count too
	want := map[string]int64{OpPut: 2, OpGet: 3, OpGetRange: 1, OpStat: 1, OpList: 1, OpDelete: 1, "nope": 0}
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
