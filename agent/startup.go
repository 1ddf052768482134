package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
)

// ErrDataDirInUse: another process holds the data directory's lock.
var ErrDataDirInUse = errors.New("agent: data dir in use")

// dataDirLock is an exclusive flock on <data-dir>/lock, held for the
// agent's life: two agents on one data dir would share an agent ID and a
// write-ahead buffer and fight over partitions.
type dataDirLock struct{ f *os.File }

func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent: data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = "pid " + strconv.Itoa(pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: data dir %s is in use by %s", ErrDataDirInUse, dir, holder)
		}
		return nil, fmt.Errorf("agent: lock data dir %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f: f}, nil
}

// release drops the lock (closing the file releases the flock).
func (l *dataDirLock) release() { l.f.Close() }

// probeObjectStore writes, reads back and deletes a small object under
// the agent's own prefix, so a wrong endpoint, bucket or credentials stop
// the agent at start instead of failing every upload later.
func probeObjectStore(ctx context.Context, s objstore.Store, agentID string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key := "probe/" + agentID
	want := []byte("strata start-up probe " + time.Now().UTC().Format(time.RFC3339Nano))
	if err := s.Put(ctx, key, want); err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	got, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("probe read: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("probe read back %d bytes, not the %d written", len(got), len(want))
	}
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("probe delete: %w", err)
	}
	return nil
}
