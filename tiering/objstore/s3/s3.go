package s3

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/internal/objkey"
)

// ErrInvalidKey is returned (wrapped, with the reason) for a key that breaks
// the rules of objstore.Store.
var ErrInvalidKey = errors.New("s3: invalid key")

const (
	// multipartThreshold is the object size above which Put uploads in
	// parts: below it one PUT is cheaper (a 64 MiB segment in one request
	// instead of create + 8 parts + complete; BenchmarkPut measures
	// both), above it a failed part is retried alone instead of the whole
	// object.
	multipartThreshold = 128 << 20
	// partSize is the size of every part but the last (S3's minimum is
	// 5 MiB).
	partSize = 16 << 20
	// oldMultipartThreshold and oldPartSize are the settings before
	// BenchmarkPut, its baseline.
	oldMultipartThreshold, oldPartSize = 16 << 20, 8 << 20
	// partConcurrency bounds the parts of one Put in flight at once.
	partConcurrency = 4
	// createGrace is how long CreateMultipartUpload may go on once the
	// Put is cancelled, to learn the upload's ID and abort it.
	createGrace = 5 * time.Second

	// maxAttempts bounds the SDK's attempts per request, the first included.
	maxAttempts = 7
	// backoffBase and backoffCap shape the delay before retry i (1-based):
	// uniform in [0, min(backoffCap, backoffBase<<i)) — "full jitter", so
	// many agents retrying after one outage do not retry in step. Six
	// retries wait about 20s at most in all.
	backoffBase = 100 * time.Millisecond
	backoffCap  = 10 * time.Second

	// bodyAttempts bounds the GETs made when reading a body fails midway
	// (the SDK retries a request until its headers arrive, not after).
	bodyAttempts = 3

	// batchAttempts bounds the DeleteObjects requests one DeleteBatch
	// makes: a request that succeeds may still fail some keys with a
	// transient code (InternalError, SlowDown), which the SDK does not
	// retry since the answer is a 200; those keys are sent again.
	batchAttempts = 3
)

// Store is an objstore.Store in an S3 bucket. It is safe for concurrent
// use.
type Store struct {
	client *awss3.Client
	bucket string
	prefix string // "" or ends in "/"

	// Multipart settings; constants but for tests.
	threshold int
	partSize  int
	backoff   jitterBackoff // between GETs whose body broke off
	// sdkCRC leaves a single PUT's checksum to the SDK (tuning.sdkDefaults).
	sdkCRC bool
}

var (
	_ objstore.Store         = (*Store)(nil)
	_ objstore.BatchDeleter  = (*Store)(nil)
	_ objstore.UploadAborter = (*Store)(nil)
)

// Open returns a Store for the bucket and prefix rawURL names (see the
// package doc). It reads the AWS configuration but makes no request.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, tuning{})
}

// tuning holds what tests change; the zero value is production.
type tuning struct {
	backoffBase          time.Duration // 0 means backoffBase
	accessKey, secretKey string        // static credentials instead of the AWS chain
	// sdkDefaults leaves payload signing and request checksums as the
	// SDK does them by default (SHA-256 of every body over http, and a
	// CRC32 of it besides): BenchmarkPut's baseline.
	sdkDefaults bool
	// noPutChecksum sends single PUTs with no checksum at all:
	// BenchmarkPut's measure of what the CRC32 costs.
	noPutChecksum bool
}

// unsignedPayloadHash is SigV4's payload hash of a body that is not
// signed.
const unsignedPayloadHash = "UNSIGNED-PAYLOAD"

// unsignedPayload marks every request's body UNSIGNED-PAYLOAD before the
// SDK's checksum and signing middleware look at it, so neither reads the
// body to hash it with SHA-256; the CRC32 checksum a request carries is
// then its only hash. Over https the SDK already sends PutObject and
// UploadPart bodies unsigned (with a trailing checksum), and still does.
func unsignedPayload(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("strata.UnsignedPayload",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			return next.HandleFinalize(v4.SetPayloadHash(ctx, unsignedPayloadHash), in)
		}), middleware.Before)
}

func open(ctx context.Context, rawURL string, tune tuning) (*Store, error) {
	loc, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	backoff := jitterBackoff{base: cmp.Or(tune.backoffBase, backoffBase)}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(loc.timeout)),
		awsconfig.WithRetryer(func() aws.Retryer { return newRetryer(backoff) }),
		// The SDK would print notes about checksums it cannot check (range
		// GETs) to stderr; failures reach the caller as errors instead.
		awsconfig.WithLogger(logging.Nop{}),
	}
	if loc.region != "" {
		opts = append(opts, awsconfig.WithRegion(loc.region))
	}
	if tune.accessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(tune.accessKey, tune.secretKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		if loc.endpoint == "" {
			return nil, fmt.Errorf("s3: no region: add region= to the URL or set AWS_REGION")
		}
		// S3-compatible servers accept any region; us-east-1 is the
		// customary one.
		cfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if loc.endpoint != "" {
			o.BaseEndpoint = aws.String(loc.endpoint)
		}
		o.UsePathStyle = loc.pathStyle
		if tune.sdkDefaults {
			return
		}
		// One hash per body, not two. A PUT's CRC32, which the server
		// checks, is computed only where the operation requires one or
		// where Put asks for it (every PutObject and part below); no
		// CRC32 of GET answers is checked either: range GETs, nearly all
		// our reads, cannot be, and the bytes carry CRCs of their own
		// (each record batch's CRC32C, a segment's footer and trailer).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if loc.unsignedPayload {
			o.APIOptions = append(o.APIOptions, unsignedPayload)
		}
	})
	threshold, parts := multipartThreshold, partSize
	if tune.sdkDefaults {
		threshold, parts = oldMultipartThreshold, oldPartSize
	}
	return &Store{
		client:    client,
		bucket:    loc.bucket,
		prefix:    loc.prefix,
		threshold: threshold,
		partSize:  parts,
		backoff:   backoff,
		sdkCRC:    tune.sdkDefaults || tune.noPutChecksum,
	}, nil
}

// newRetryer is the SDK's standard retryer (5xx, throttling such as 503
// SlowDown, connection errors) with our bounds and backoff. Its client-side
// retry quota is off: after an outage had drained it, requests would fail
// on their first transient error without a retry, and maxAttempts already
// bounds the extra load a failing request makes.
func newRetryer(backoff jitterBackoff) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = backoffCap
		o.Backoff = backoff
		o.RateLimiter = ratelimit.None
	})
}

// jitterBackoff is capped exponential backoff with full jitter.
type jitterBackoff struct {
	base time.Duration
}

// BackoffDelay implements retry.BackoffDelayer.
func (b jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	limit := backoffCap
	if attempt < 20 {
		limit = min(backoffCap, b.base<<attempt)
	}
	return rand.N(limit), nil
}

// objectKey checks key and returns the bucket key that stores it.
func (s *Store) objectKey(key string) (string, error) {
	if reason := objkey.Check(key); reason != "" {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	return s.prefix + key, nil
}

// Put implements objstore.Store.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %q: %w", key, err)
	}
	if len(data) > s.threshold {
		err = s.putMultipart(ctx, k, data)
	} else {
		in := &awss3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(k),
			Body:          bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
		}
		if !s.sdkCRC {
			// Computed here, once, rather than by the SDK (which, with
			// a signed payload, reads the body for SHA-256 and CRC32
			// alike); the server checks it, and a retry reuses it.
			in.ChecksumCRC32 = aws.String(crc32Base64(data))
		}
		_, err = s.client.PutObject(ctx, in)
		err = convert(ctx, err)
	}
	if err != nil {
		return fmt.Errorf("s3: put %q: %w", key, err)
	}
	return nil
}

// putMultipart uploads data in parts, partConcurrency at a time, and
// aborts the upload if any part or the completion fails. Errors are
// already converted.
func (s *Store) putMultipart(ctx context.Context, k string, data []byte) (err error) {
	// Create outlives a cancel of ctx by up to createGrace: cut short, it
	// may leave an upload the server created but whose ID we never
	// learnt, open (and billed) until AbortStaleUploads. With the ID, the
	// abort below runs as for any other failure.
	cctx, cancelCreate := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCreate()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(createGrace, cancelCreate) })
	created, err := s.client.CreateMultipartUpload(cctx, &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(k),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		// One CRC32 of the whole object, not a checksum of part
		// checksums: the server checks it at Complete, and a later Get
		// of the whole object is checked against it as for a single PUT.
		ChecksumType: types.ChecksumTypeFullObject,
	})
	stop()
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", convert(ctx, err))
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		// The caller's context may be what failed: abort on a fresh one,
		// bounded so a dead store cannot hold Put forever.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, aerr := s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
			Bucket:   aws.String(s.bucket),
			Key:      aws.String(k),
			UploadId: uploadID,
		})
		// NoSuchUpload: a Complete whose answer was lost did finish.
		if aerr != nil && !isNotFound(aerr) && !hasCode(aerr, "NoSuchUpload") {
			err = fmt.Errorf("%w (and abort failed: %v)", err, convert(actx, aerr))
		}
	}()

	nparts := (len(data) + s.partSize - 1) / s.partSize
	parts := make([]types.CompletedPart, nparts)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, partConcurrency)
	for i := range nparts {
		select {
		case sem <- struct{}{}:
		case <-pctx.Done():
		}
		if pctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			n := int32(i + 1)
			body := data[i*s.partSize : min(len(data), (i+1)*s.partSize)]
			out, err := s.client.UploadPart(pctx, &awss3.UploadPartInput{
				Bucket:            aws.String(s.bucket),
				Key:               aws.String(k),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(n),
				Body:              bytes.NewReader(body),
				ContentLength:     aws.Int64(int64(len(body))),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("upload part %d of %d: %w", n, nparts, convert(ctx, err))
				}
				mu.Unlock()
				cancel()
				return
			}
			parts[i] = types.CompletedPart{
				PartNumber:    aws.Int32(n),
				ETag:          out.ETag,
				ChecksumCRC32: out.ChecksumCRC32,
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(k),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		ChecksumType:    types.ChecksumTypeFullObject,
		ChecksumCRC32:   aws.String(crc32Base64(data)),
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", convert(ctx, err))
	}
	return nil
}

// crc32Base64 is the S3 form of data's CRC32 (IEEE): big-endian, base64.
func crc32Base64(data []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data)))
}

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: get %q: %w", key, err)
	}
	data, err := s.get(ctx, k, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("s3: get %q: %w", key, err)
	}
	return data, nil
}

// GetRange implements objstore.Store.
func (s *Store) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: get range %q: %w", key, err)
	}
	if off < 0 || n < 0 || off > (1<<63-1)-n {
		return nil, fmt.Errorf("s3: get range %q [%d, +%d): %w", key, off, n, objstore.ErrInvalidRange)
	}
	if n == 0 {
		// HTTP cannot ask for zero bytes; the object must still exist
		// and off must be within it.
		info, err := s.stat(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("s3: get range %q: %w", key, err)
		}
		if off > info.Size {
			return nil, fmt.Errorf("s3: get range %q [%d, +0) of %d bytes: %w", key, off, info.Size, objstore.ErrInvalidRange)
		}
		return []byte{}, nil
	}
	data, err := s.get(ctx, k, off, n)
	if err != nil {
		return nil, fmt.Errorf("s3: get range %q [%d, +%d): %w", key, off, n, err)
	}
	return data, nil
}

// get reads the whole object (off < 0) or exactly n bytes at off,
// retrying the whole GET if the body breaks off midway. Errors are
// converted.
func (s *Store) get(ctx context.Context, k string, off, n int64) ([]byte, error) {
	in := &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}
	if off >= 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	var lastErr error
	for attempt := range bodyAttempts {
		if attempt > 0 {
			d, _ := s.backoff.BackoffDelay(attempt, lastErr)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out, err := s.client.GetObject(ctx, in)
		if err != nil {
			return nil, convert(ctx, err)
		}
		data, err := readBody(out, off, n)
		out.Body.Close()
		if err == nil {
			return data, nil
		}
		if errors.Is(err, objstore.ErrInvalidRange) || ctx.Err() != nil {
			return nil, convert(ctx, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("reading body: %v", lastErr)
}

// readBody reads a GetObject answer, checking that a range answer covers
// exactly [off, off+n): S3 answers a range that starts inside the object
// but ends past it with the bytes that exist, which objstore calls
// ErrInvalidRange.
func readBody(out *awss3.GetObjectOutput, off, n int64) ([]byte, error) {
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	if off >= 0 {
		start, end, total, ok := parseContentRange(aws.ToString(out.ContentRange))
		switch {
		case ok && (start != off || end != off+n-1):
			return nil, fmt.Errorf("object has %d bytes: %w", total, objstore.ErrInvalidRange)
		case !ok && !(off == 0 && size == n):
			// No Content-Range: the server sent the whole object.
			return nil, fmt.Errorf("object has %d bytes: %w", size, objstore.ErrInvalidRange)
		}
	}
	if size < 0 {
		return io.ReadAll(out.Body)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(out.Body, data); err != nil {
		return nil, err
	}
	return data, nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	total = -1
	if tot != "*" {
		total, err3 = strconv.ParseInt(tot, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return start, end, total, true
}

// Stat implements objstore.Store.
func (s *Store) Stat(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("s3: stat %q: %w", key, err)
	}
	info, err := s.stat(ctx, k)
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("s3: stat %q: %w", key, err)
	}
	info.Key = key
	return info, nil
}

// stat HEADs bucket key k. Errors are converted.
func (s *Store) stat(ctx context.Context, k string) (objstore.ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return objstore.ObjectInfo{}, convert(ctx, err)
	}
	return objstore.ObjectInfo{
		Size:     aws.ToInt64(out.ContentLength),
		Modified: aws.ToTime(out.LastModified),
	}, nil
}

// List implements objstore.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: list %q: %w", prefix, err)
	}
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	var infos []objstore.ObjectInfo
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: list %q: %w", prefix, convert(ctx, err))
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || objkey.Check(key) != "" {
				continue
			}
			infos = append(infos, objstore.ObjectInfo{
				Key:      key,
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified),
			})
		}
	}
	// S3 lists in UTF-8 byte order already; some compatible servers may
	// not, and the contract is sorted.
	slices.SortFunc(infos, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// Delete implements objstore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: delete %q: %w", key, err)
	}
	_, err = s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3: delete %q: %w", key, convert(ctx, err))
	}
	return nil
}

// convert turns an SDK error into one that wraps the objstore sentinels or
// the context's error where they apply, and otherwise carries only the
// SDK error's text, so no AWS type escapes the package.
func convert(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, objstore.ErrInvalidRange), errors.Is(err, objstore.ErrNotExist):
		return err
	case isNotFound(err):
		return objstore.ErrNotExist
	case isInvalidRange(err):
		return objstore.ErrInvalidRange
	}
	return errors.New(err.Error())
}

// isNotFound reports whether err says the object does not exist. A HEAD
// answer has no body, so its 404 carries only the generic code NotFound.
func isNotFound(err error) bool {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
		return false
	}
	return httpStatus(err) == 404
}

// hasCode reports whether err is an S3 error with the given code.
func hasCode(err error, code string) bool {
	ae, ok := errors.AsType[smithy.APIError](err)
	return ok && ae.ErrorCode() == code
}

// isInvalidRange reports whether err says the range is not satisfiable.
func isInvalidRange(err error) bool {
	return hasCode(err, "InvalidRange") || httpStatus(err) == 416
}

// httpStatus returns the HTTP status of a failed answer, or 0.
func httpStatus(err error) int {
	if re, ok := errors.AsType[interface {
		error
		HTTPStatusCode() int
	}](err); ok {
		return re.HTTPStatusCode()
	}
	return 0
}
