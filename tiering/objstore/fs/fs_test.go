package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/objstoretest"
)

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestInvalidKeyError(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "/etc/passwd", "../escape", "a/../../b", `a\b`, "a\x00", ".tmp", ".tmp/x"} {
		err := s.Put(context.Background(), key, []byte("x"))
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) err = %v, want ErrInvalidKey", key, err)
		}
	}
	parent := filepath.Dir(s.Dir())
	if _, err := os.Stat(filepath.Join(parent, "escape")); err == nil {
		t.Fatal("Put wrote outside the store's directory")
	}
}

func TestTempFilesIgnoredAndCleared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// A crash mid-Put leaves a temporary file behind; a younger one may
	// be another process's Put in progress and stays.
	stale := filepath.Join(dir, tmpDir, "put-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	young := filepath.Join(dir, tmpDir, "put-456")
	if err := os.WriteFile(young, []byte("in progress"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != "k" {
		t.Fatalf("List = %v, want only k", list)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file survived Open: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("young temp file removed by Open: %v", err)
	}
	os.Remove(young)
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("temp dir holds %d files after Put, want 0", len(entries))
	}
}

func TestKeyMapsToPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "ab/seg/agent-1/x.seg", []byte("data")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "ab", "seg", "agent-1", "x.seg"))
	if err != nil || string(got) != "data" {
		t.Fatalf("file = %q, %v; want %q", got, err, "data")
	}
}
