package objstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxBatchDelete is the most keys one BatchDeleter call takes: S3's
// DeleteObjects limit.
const MaxBatchDelete = 1000

// BatchDeleter is implemented by stores that delete many objects per
// request (S3 DeleteObjects). DeleteBatch removes up to MaxBatchDelete
// keys; missing keys are not errors. An error may leave some keys deleted
// and others not; it names the keys that failed: a failure of one key is
// a *KeyError (several are joined with errors.Join), and any other error
// means the whole request failed.
type BatchDeleter interface {
	DeleteBatch(ctx context.Context, keys []string) error
}

// UploadAborter is implemented by stores with multipart uploads (S3):
// AbortStaleUploads aborts the incomplete uploads started before
// olderThan and returns how many it aborted.
type UploadAborter interface {
	AbortStaleUploads(ctx context.Context, olderThan time.Time) (int, error)
}

// KeyError is the failure of one key of a DeleteBatch whose other keys
// may have been deleted.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("delete %q: %v", e.Key, e.Err) }

func (e *KeyError) Unwrap() error { return e.Err }

// failedKeys returns how many keys of a DeleteBatch of n keys that
// returned err were not deleted: 0 for nil, one per *KeyError that err is
// or joins, and n for any other error (the request as a whole failed).
func failedKeys(err error, n int) int {
	switch e := err.(type) {
	case nil:
		return 0
	case *KeyError:
		return 1
	case interface{ Unwrap() []error }:
		failed := 0
		for _, e := range e.Unwrap() {
			if _, ok := e.(*KeyError); !ok {
				return n
			}
			failed++
		}
		return min(failed, n)
	}
	return n
}

// DeleteKeys deletes keys from s, MaxBatchDelete per request where s is a
// BatchDeleter, one by one otherwise. It returns the errors of every
// failed batch or key joined, and stops early once ctx ends.
func DeleteKeys(ctx context.Context, s Store, keys []string) error {
	bd, ok := s.(BatchDeleter)
	if !ok {
		return deleteEach(ctx, s, keys)
	}
	var errs []error
	for len(keys) > 0 {
		n := min(len(keys), MaxBatchDelete)
		if err := bd.DeleteBatch(ctx, keys[:n]); err != nil {
			errs = append(errs, err)
		}
		keys = keys[n:]
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// deleteEach deletes keys one Delete at a time: DeleteKeys on a store
// without DeleteBatch, and Metered's DeleteBatch over one. Failures are
// *KeyErrors, joined, and the keys left when ctx ends one more error.
func deleteEach(ctx context.Context, s Store, keys []string) error {
	var errs []error
	for i, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			errs = append(errs, &KeyError{Key: k, Err: err})
		}
		if err := ctx.Err(); err != nil && i+1 < len(keys) {
			errs = append(errs, fmt.Errorf("%d keys not deleted: %w", len(keys)-i-1, err))
			break
		}
	}
	return errors.Join(errs...)
}
