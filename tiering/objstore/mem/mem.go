package mem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/internal/objkey"
)

// ErrInvalidKey is returned (wrapped, with the reason) for a key that breaks
// the rules of objstore.Store.
var ErrInvalidKey = errors.New("mem: invalid key")

// Operation names, as passed to a fault function and to Calls.
const (
	OpPut      = "put"
	OpGet      = "get"
	OpGetRange = "getrange"
	OpStat     = "stat"
	OpList     = "list"
	OpDelete   = "delete"
	// OpDeleteBatch is DeleteBatch; the fault function is called once
	// per key, and a fault fails that key only.
	OpDeleteBatch = "delete_batch"
)

var ops = [...]string{OpPut, OpGet, OpGetRange, OpStat, OpList, OpDelete, OpDeleteBatch}

func opIndex(op string) int {
	for i, o := range ops {
		if o == op {
			return i
		}
	}
	return -1
}

type object struct {
	data     []byte
	modified time.Time
}

// Store is an in-memory objstore.Store. The zero value is not usable; call
// New.
type Store struct {
	calls [len(ops)]atomic.Int64
	fault atomic.Pointer[func(op, key string) error]

	mu struct {
		sync.Mutex
		objects map[string]object
	}
}

var (
	_ objstore.Store        = (*Store)(nil)
	_ objstore.BatchDeleter = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	s := &Store{}
	s.mu.objects = make(map[string]object)
	return s
}

// SetFault installs f, called before every operation; a non-nil error from
// f is returned (as is, unwrapped) instead of doing the operation. A nil f
// removes the fault.
func (s *Store) SetFault(f func(op string, key string) error) {
	if f == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&f)
}

// Calls returns how many times op ("put", "get", ...) has been called.
func (s *Store) Calls(op string) int64 {
	i := opIndex(op)
	if i < 0 {
		return 0
	}
	return s.calls[i].Load()
}

// ResetCalls sets every call counter to zero.
func (s *Store) ResetCalls() {
	for i := range s.calls {
		s.calls[i].Store(0)
	}
}

// begin counts the call and runs the checks every operation shares: the
// key, the context and the fault function.
func (s *Store) begin(ctx context.Context, op, key string, checkKey bool) error {
	s.calls[opIndex(op)].Add(1)
	if checkKey {
		if reason := objkey.Check(key); reason != "" {
			return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: %s %q: %w", op, key, err)
	}
	if f := s.fault.Load(); f != nil {
		if err := (*f)(op, key); err != nil {
			return err
		}
	}
	return nil
}

func notExist(op, key string) error {
	return fmt.Errorf("mem: %s %q: %w", op, key, objstore.ErrNotExist)
}

// Put implements objstore.Store.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if err := s.begin(ctx, OpPut, key, true); err != nil {
		return err
	}
	obj := object{data: slices.Clone(data), modified: time.Now()}
	if obj.data == nil {
		obj.data = []byte{}
	}
	s.mu.Lock()
	s.mu.objects[key] = obj
	s.mu.Unlock()
	return nil
}

func (s *Store) lookup(key string) (object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.mu.objects[key]
	return obj, ok
}

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, OpGet, key, true); err != nil {
		return nil, err
	}
	obj, ok := s.lookup(key)
	if !ok {
		return nil, notExist(OpGet, key)
	}
	// Stored slices are never modified after Put, so copying outside the
	// lock is safe.
	return slices.Clone(obj.data), nil
}

// GetRange implements objstore.Store.
func (s *Store) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := s.begin(ctx, OpGetRange, key, true); err != nil {
		return nil, err
	}
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("mem: getrange %q [%d,+%d): %w", key, off, n, objstore.ErrInvalidRange)
	}
	obj, ok := s.lookup(key)
	if !ok {
		return nil, notExist(OpGetRange, key)
	}
	size := int64(len(obj.data))
	if off > size || n > size-off {
		return nil, fmt.Errorf("mem: getrange %q [%d,+%d) of %d bytes: %w", key, off, n, size, objstore.ErrInvalidRange)
	}
	out := make([]byte, n)
	copy(out, obj.data[off:off+n])
	return out, nil
}

// Stat implements objstore.Store.
func (s *Store) Stat(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.begin(ctx, OpStat, key, true); err != nil {
		return objstore.ObjectInfo{}, err
	}
	obj, ok := s.lookup(key)
	if !ok {
		return objstore.ObjectInfo{}, notExist(OpStat, key)
	}
	return objstore.ObjectInfo{Key: key, Size: int64(len(obj.data)), Modified: obj.modified}, nil
}

// List implements objstore.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	if err := s.begin(ctx, OpList, prefix, false); err != nil {
		return nil, err
	}
	var out []objstore.ObjectInfo
	s.mu.Lock()
	for k, obj := range s.mu.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objstore.ObjectInfo{Key: k, Size: int64(len(obj.data)), Modified: obj.modified})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements objstore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, OpDelete, key, true); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.mu.objects, key)
	s.mu.Unlock()
	return nil
}

// DeleteBatch implements objstore.BatchDeleter: one call, counted once,
// deletes every key the fault function lets through under one lock. An
// invalid or faulted key is a *objstore.KeyError; the others are deleted.
func (s *Store) DeleteBatch(ctx context.Context, keys []string) error {
	s.calls[opIndex(OpDeleteBatch)].Add(1)
	if len(keys) > objstore.MaxBatchDelete {
		return fmt.Errorf("mem: delete batch of %d keys: more than %d", len(keys), objstore.MaxBatchDelete)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: delete batch of %d keys: %w", len(keys), err)
	}
	f := s.fault.Load()
	var errs []error
	ok := make([]string, 0, len(keys))
	for _, k := range keys {
		if reason := objkey.Check(k); reason != "" {
			errs = append(errs, &objstore.KeyError{Key: k, Err: fmt.Errorf("%w %q: %s", ErrInvalidKey, k, reason)})
			continue
		}
		if f != nil {
			if err := (*f)(OpDeleteBatch, k); err != nil {
				errs = append(errs, &objstore.KeyError{Key: k, Err: err})
				continue
			}
		}
		ok = append(ok, k)
	}
	s.mu.Lock()
	for _, k := range ok {
		delete(s.mu.objects, k)
	}
	s.mu.Unlock()
	return errors.Join(errs...)
}
