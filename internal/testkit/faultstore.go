package testkit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stratalog/strata/metastore"
)

// ErrInjected is the error injected commits fail with.
var ErrInjected = errors.New("testkit: injected metastore failure")

// FaultStore is a metastore.Store whose CommitFlush can be held, failed,
// made ambiguous or refused as stale. Its faults apply in that order: a
// held commit is then failed, refused or committed.
type FaultStore struct {
	metastore.Store
	mu        sync.Mutex
	hold      chan struct{} // non-nil while commits are held
	fail      int
	ambiguous int
	stale     func(metastore.Flush) bool
	commits   int
}

// NewFaultStore wraps s.
func NewFaultStore(s metastore.Store) *FaultStore { return &FaultStore{Store: s} }

// HoldCommits blocks every CommitFlush until the returned release is
// called.
func (f *FaultStore) HoldCommits() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	f.hold = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.hold == ch {
				f.hold = nil
			}
			f.mu.Unlock()
			close(ch)
		})
	}
}

// FailCommits makes the next n CommitFlush calls fail without writing.
func (f *FaultStore) FailCommits(n int) {
	f.mu.Lock()
	f.fail = n
	f.mu.Unlock()
}

// AmbiguousCommits makes the next n CommitFlush calls commit and then
// answer ErrInjected.
func (f *FaultStore) AmbiguousCommits(n int) {
	f.mu.Lock()
	f.ambiguous = n
	f.mu.Unlock()
}

// StaleObjects makes CommitFlush refuse every flush that stale reports
// true for with metastore.ErrStaleObject, writing nothing, as the real
// store refuses an object uploaded more than metastore.MaxCommitDelay
// before the commit; a test cannot wait that long. stale is called
// without the lock held; nil removes the fault.
func (f *FaultStore) StaleObjects(stale func(metastore.Flush) bool) {
	f.mu.Lock()
	f.stale = stale
	f.mu.Unlock()
}

// Commits counts CommitFlush calls that reached the real store.
func (f *FaultStore) Commits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits
}

// CommitFlush applies the injected faults, then commits.
func (f *FaultStore) CommitFlush(ctx context.Context, fl metastore.Flush) error {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		return ErrInjected
	}
	stale := f.stale
	f.mu.Unlock()
	if stale != nil && stale(fl) {
		return fmt.Errorf("testkit: commit flush %q: %w", fl.ObjectKey, metastore.ErrStaleObject)
	}
	f.mu.Lock()
	ambiguous := f.ambiguous > 0
	if ambiguous {
		f.ambiguous--
	}
	f.commits++
	f.mu.Unlock()
	err := f.Store.CommitFlush(ctx, fl)
	if err == nil && ambiguous {
		return ErrInjected
	}
	return err
}
