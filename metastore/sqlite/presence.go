package sqlite

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/stratalog/strata/metastore"
)

// Presence on SQLite, the one-machine metastore, is an exclusive flock on
// a file per agent in <db>.presence/ beside the database: the kernel
// releases it when the holding process exits, however it exits. A peer
// tests it with a shared non-blocking flock: refused means held. flock
// locks belong to an open file, so agents in one process exclude each
// other too.

func (s *Store) presenceFile(agentID string) string {
	return filepath.Join(s.path+".presence", hex.EncodeToString([]byte(agentID))+".lock")
}

type presenceHold struct {
	path string
	mu   sync.Mutex
	f    *os.File // nil until held
}

// HoldPresence takes agentID's presence file lock.
func (s *Store) HoldPresence(ctx context.Context, agentID string) (metastore.PresenceHold, error) {
	path := s.presenceFile(agentID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: presence of %q: %w", agentID, err)
	}
	h := &presenceHold{path: path}
	if _, err := h.Renew(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// Renew takes the lock if it is not held yet (a peer testing it at that
// moment, or a live process with the same agent ID, makes it wait).
func (h *presenceHold) Renew(context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f != nil {
		return true, nil // a held flock cannot be lost
	}
	f, err := os.OpenFile(h.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("sqlite: presence: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("sqlite: presence: %w", err)
	}
	h.f = f
	return true, nil
}

// Close releases the lock.
func (h *presenceHold) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	return err
}

// PresentAgents tests each agent's presence file.
func (s *Store) PresentAgents(_ context.Context, agentIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(agentIDs))
	for _, id := range agentIDs {
		f, err := os.Open(s.presenceFile(id))
		if errors.Is(err, fs.ErrNotExist) {
			out[id] = false
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: presence: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		f.Close() // releases the test lock if it was taken
		switch {
		case errors.Is(err, syscall.EWOULDBLOCK):
			out[id] = true
		case err != nil:
			return nil, fmt.Errorf("sqlite: presence: %w", err)
		default:
			out[id] = false
		}
	}
	return out, nil
}
