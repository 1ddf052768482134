package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/objstoretest"
)

func TestMain(m *testing.M) {
	// Never let the credential chain ask an instance-metadata endpoint:
	// the tests talk to 127.0.0.1 only.
	if os.Getenv("AWS_EC2_METADATA_DISABLED") == "" {
		os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	}
	os.Exit(m.Run())
}

// testURL returns STRATA_TEST_S3_URL (see scripts/start-minio.sh), skipping
// the test when it is unset, except in CI, where nothing may be skipped.
func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STRATA_TEST_S3_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("STRATA_TEST_S3_URL is not set, and CI=true forbids skipping; start MinIO with scripts/start-minio.sh")
		}
		t.Skip("STRATA_TEST_S3_URL is not set; eval \"$(scripts/start-minio.sh)\" to run the S3 tests")
	}
	return u
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// withPrefix returns rawURL with elem appended to its prefix.
func withPrefix(t testing.TB, rawURL, elem string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strings.TrimPrefix(path.Join(u.Path, elem), "/")
	return u.String()
}

// newStore opens a store under a prefix of its own (test name plus random
// suffix), so parallel tests and repeated runs never share keys, and
// removes what the test left there when it ends, open uploads included.
func newStore(t *testing.T) *Store {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	elem := "test/" + unsafeName.ReplaceAllString(t.Name(), "_") + "-" + hex.EncodeToString(b[:])
	s, err := Open(context.Background(), withPrefix(t, testURL(t), elem))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		list, err := s.List(ctx, "")
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		for _, o := range list {
			if err := s.Delete(ctx, o.Key); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if _, err := s.AbortStaleUploads(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return newStore(t) })
}

// etag returns the object's ETag, which for a multipart upload ends in
// "-<number of parts>".
func etag(t *testing.T, s *Store, key string) string {
	t.Helper()
	out, err := s.client.HeadObject(context.Background(), &awss3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

func TestMultipart(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// Smaller than in production, so the test moves less: 3 parts of 8
	// MiB just over the threshold.
	s.threshold, s.partSize = 16<<20, 8<<20
	ctx := context.Background()
	tests := []struct {
		name      string
		size      int
		wantParts string // "" means a single PUT
	}{
		{"at threshold", s.threshold, ""},
		{"one byte over", s.threshold + 1, "-3"},
		{"whole parts", 5 * s.partSize, "-5"},
	}
	for _, tt := range tests {
		data := make([]byte, tt.size)
		for i := range data {
			data[i] = byte(i*31 + i>>16)
		}
		key := "mp/" + strings.ReplaceAll(tt.name, " ", "-")
		if err := s.Put(ctx, key, data); err != nil {
			t.Fatalf("%s: Put: %v", tt.name, err)
		}
		tag := etag(t, s, key)
		if gotMultipart := strings.Contains(tag, "-"); gotMultipart != (tt.wantParts != "") ||
			(tt.wantParts != "" && !strings.HasSuffix(tag, tt.wantParts)) {
			t.Errorf("%s: ETag %q, want parts %q", tt.name, tag, tt.wantParts)
		}
		got, err := s.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: Get returned %d bytes, %v; want the %d bytes written", tt.name, len(got), err, len(data))
		}
		// A range across the boundary between the first two parts.
		off, n := int64(s.partSize-10), int64(20)
		part, err := s.GetRange(ctx, key, off, n)
		if err != nil || !bytes.Equal(part, data[off:off+n]) {
			t.Errorf("%s: GetRange across parts = %v, %v", tt.name, part, err)
		}
	}
	// No upload is left open.
	if ups := openUploads(t, s); len(ups) != 0 {
		t.Errorf("%d multipart uploads left open", len(ups))
	}
}

// TestMultipartCancelled cancels multipart Puts at growing delays: every
// one must leave the whole object or none, and no open upload behind,
// and at least one cancel must land while parts are in flight.
func TestMultipartCancelled(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.threshold, s.partSize = 8<<20, 8<<20 // 3 parts of 8 MiB
	data := make([]byte, 3*s.partSize)
	midUpload := false
	for i, delay := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		key := fmt.Sprintf("cancelled-%d", i)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Put(ctx, key, data) }()
		time.Sleep(delay)
		cancel()
		err := <-done
		_, statErr := s.Stat(context.Background(), key)
		switch {
		case err == nil:
			if statErr != nil {
				t.Errorf("after %v: Put succeeded but Stat: %v", delay, statErr)
			}
		case !errors.Is(err, context.Canceled):
			t.Errorf("after %v: Put err = %v, want context.Canceled", delay, err)
		case statErr == nil:
			// The cancel came after the server had committed the object
			// (during Complete): then it must be whole.
			if got, err := s.Get(context.Background(), key); err != nil || !bytes.Equal(got, data) {
				t.Errorf("after %v: cancelled Put left %d bytes, %v; want none or all", delay, len(got), err)
			}
		case !errors.Is(statErr, objstore.ErrNotExist):
			t.Errorf("after %v: Stat after cancelled Put: %v, want ErrNotExist", delay, statErr)
		}
		if err != nil && strings.Contains(err.Error(), "upload part") {
			midUpload = true
		}
	}
	if !midUpload {
		t.Error("no cancel landed while parts were uploading")
	}
	if ups := openUploads(t, s); len(ups) != 0 {
		t.Errorf("%d multipart uploads left open after cancelled Puts", len(ups))
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	parent := newStore(t)
	ctx := context.Background()
	base := testURL(t)
	u, _ := url.Parse(base)
	u.Path = "/" + strings.TrimSuffix(parent.prefix, "/")
	a, err := Open(ctx, withPrefix(t, u.String(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, withPrefix(t, u.String(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, "k", []byte("in a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("b.Get(k) err = %v, want ErrNotExist: prefixes must not share keys", err)
	}
	list, err := parent.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != "a/k" {
		t.Errorf("parent List = %v, want a/k only", list)
	}
}

// TestListPagination lists more objects than one ListObjectsV2 page holds.
func TestListPagination(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("puts 1100 objects")
	}
	s := newStore(t)
	ctx := context.Background()
	const n = 1100 // a page holds 1000
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- s.Put(ctx, fmt.Sprintf("p/%04d", i), []byte{byte(i)})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, "p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("List = %d objects, want %d", len(list), n)
	}
	for i, o := range list {
		if want := fmt.Sprintf("p/%04d", i); o.Key != want || o.Size != 1 {
			t.Fatalf("List[%d] = %+v, want key %s size 1", i, o, want)
		}
	}
}

// TestServerChecksPutCRC: the CRC32 a PUT carries is the integrity check
// of the body now that it is not signed, so the server must refuse a body
// that does not match it.
func TestServerChecksPutCRC(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	data := []byte("the body as sent")
	_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + "bad-crc"),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ChecksumCRC32: aws.String(crc32Base64([]byte("the body as meant"))),
	})
	if err == nil {
		t.Fatal("PUT with a CRC32 that does not match its body succeeded")
	}
	if _, err := s.Stat(ctx, "bad-crc"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Stat after refused PUT: %v, want ErrNotExist", err)
	}
	if err := s.Put(ctx, "good-crc", data); err != nil {
		t.Fatal(err)
	}
}
