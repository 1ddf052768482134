package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stratalog/strata/tiering/objstore"
)

// DeleteBatch implements objstore.BatchDeleter with one DeleteObjects
// request in quiet mode (the answer lists only the keys that failed).
// Invalid keys are *objstore.KeyErrors and are not sent; a key the answer
// reports failed with a transient code is sent again, up to batchAttempts
// requests in all; what still fails is a *objstore.KeyError with the
// server's code and message. A request that fails as a whole (after the
// SDK's retries) fails every key, and its error names the batch.
func (s *Store) DeleteBatch(ctx context.Context, keys []string) error {
	if len(keys) > objstore.MaxBatchDelete {
		return fmt.Errorf("s3: delete batch of %d keys: more than %d", len(keys), objstore.MaxBatchDelete)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: delete batch of %d keys: %w", len(keys), err)
	}
	var errs []error
	// Bucket keys to send, deduplicated: S3 may refuse a request that
	// names a key twice.
	pending := make([]string, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, key := range keys {
		k, err := s.objectKey(key)
		if err != nil {
			errs = append(errs, &objstore.KeyError{Key: key, Err: err})
			continue
		}
		if !seen[k] {
			seen[k] = true
			pending = append(pending, k)
		}
	}
	if len(pending) == 0 {
		return errors.Join(errs...)
	}
	// keyErr turns the failure of bucket key k into a *KeyError.
	keyErr := func(k string, err error) error {
		key, _ := strings.CutPrefix(k, s.prefix)
		return &objstore.KeyError{Key: key, Err: err}
	}
	for attempt := range batchAttempts {
		if attempt > 0 {
			// Only keys a 200 answer failed are left: name each.
			d, _ := s.backoff.BackoffDelay(attempt, nil)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				for _, k := range pending {
					errs = append(errs, keyErr(k, fmt.Errorf("s3: %w", ctx.Err())))
				}
				return errors.Join(errs...)
			}
		}
		failed, err := s.deleteObjects(ctx, pending)
		if err != nil {
			if attempt == 0 {
				return errors.Join(append(errs, s.batchError(pending, err))...)
			}
			for _, k := range pending {
				errs = append(errs, keyErr(k, fmt.Errorf("s3: %w", err)))
			}
			return errors.Join(errs...)
		}
		pending = pending[:0]
		for _, e := range failed {
			code := aws.ToString(e.Code)
			if retriableCode(code) && attempt+1 < batchAttempts {
				pending = append(pending, aws.ToString(e.Key))
				continue
			}
			errs = append(errs, keyErr(aws.ToString(e.Key), fmt.Errorf("s3: %s: %s", code, aws.ToString(e.Message))))
		}
		if len(pending) == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// deleteObjects sends one DeleteObjects request for bucket keys ks and
// returns the keys it failed, but for NoSuchKey (a missing key is
// deleted). The request's own error is converted.
func (s *Store) deleteObjects(ctx context.Context, ks []string) ([]types.Error, error) {
	ids := make([]types.ObjectIdentifier, len(ks))
	for i, k := range ks {
		ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := s.client.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
		Bucket: aws.String(s.bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return nil, convert(ctx, err)
	}
	return slices.DeleteFunc(out.Errors, func(e types.Error) bool {
		return aws.ToString(e.Code) == "NoSuchKey"
	}), nil
}

// batchError is the error of a DeleteObjects request that failed as a
// whole, naming its bucket keys ks by count and range (a whole list
// would make a 1000-key log line).
func (s *Store) batchError(ks []string, err error) error {
	first, _ := strings.CutPrefix(slices.Min(ks), s.prefix)
	last, _ := strings.CutPrefix(slices.Max(ks), s.prefix)
	return fmt.Errorf("s3: delete batch of %d keys %q to %q: %w", len(ks), first, last, err)
}

// retriableCode reports whether a per-key DeleteObjects error code is
// transient, as the same codes are for a whole request.
func retriableCode(code string) bool {
	switch code {
	case "InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "OperationAborted":
		return true
	}
	return false
}

// AbortStaleUploads implements objstore.UploadAborter: it lists the
// incomplete multipart uploads under the store's prefix and aborts those
// initiated before olderThan. Uploads are aborted whatever their key (an
// incomplete upload is invisible and only billed); an upload completed or
// aborted meanwhile (NoSuchUpload) is skipped. olderThan must be well
// before any Put still running could have started: that Put would fail
// at Complete.
func (s *Store) AbortStaleUploads(ctx context.Context, olderThan time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3: abort stale uploads: %w", err)
	}
	aborted := 0
	var errs []error
	err := s.eachUpload(ctx, func(u types.MultipartUpload) error {
		if u.Initiated == nil || !u.Initiated.Before(olderThan) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
			Bucket:   aws.String(s.bucket),
			Key:      u.Key,
			UploadId: u.UploadId,
		})
		switch {
		case err == nil:
			aborted++
		case hasCode(err, "NoSuchUpload") || isNotFound(err):
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			key, _ := strings.CutPrefix(aws.ToString(u.Key), s.prefix)
			errs = append(errs, fmt.Errorf("s3: abort upload %q of %q: %w", aws.ToString(u.UploadId), key, convert(ctx, err)))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("s3: abort stale uploads: %w", err))
	}
	return aborted, errors.Join(errs...)
}

// eachUpload calls fn for every incomplete multipart upload under the
// store's prefix, page by page, until fn returns an error. It lists the
// whole bucket and filters here: MinIO takes a non-empty Prefix of
// ListMultipartUploads for an exact object name and lists nothing under
// it. Errors of the listing are converted.
func (s *Store) eachUpload(ctx context.Context, fn func(types.MultipartUpload) error) error {
	pages := awss3.NewListMultipartUploadsPaginator(s.client, &awss3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list multipart uploads: %w", convert(ctx, err))
		}
		for _, u := range page.Uploads {
			if !strings.HasPrefix(aws.ToString(u.Key), s.prefix) {
				continue
			}
			if err := fn(u); err != nil {
				return err
			}
		}
	}
	return nil
}
