package s3

// Tests against a scripted HTTP server on 127.0.0.1, for behaviour a real
// MinIO will not show on demand: 503 SlowDown, 5xx storms, hung requests,
// failing parts, odd range answers.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/stratalog/strata/tiering/objstore"
)

// fakeStore opens a Store on a test server running handler, with fast
// backoff and static credentials (the credential chain is never asked).
func fakeStore(t *testing.T, handler http.HandlerFunc, params string) *Store {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	s, err := open(context.Background(),
		"s3://bucket/pre?endpoint="+srv.URL+"&region=us-east-1&path_style=true"+params,
		tuning{backoffBase: time.Millisecond, accessKey: "test", secretKey: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<Error><Code>%s</Code><Message>scripted</Message></Error>", code)
}

func TestRetrySlowDown(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) <= 3 {
			s3Error(w, http.StatusServiceUnavailable, "SlowDown")
			return
		}
		w.WriteHeader(http.StatusOK)
	}, "")
	if err := s.Put(context.Background(), "k", []byte("data")); err != nil {
		t.Fatalf("Put after 3 SlowDowns: %v", err)
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("server saw %d requests, want 4", n)
	}
}

func TestRetryBounded(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		s3Error(w, http.StatusInternalServerError, "InternalError")
	}, "")
	_, err := s.Get(context.Background(), "k")
	if err == nil {
		t.Fatal("Get = nil error from a server that always fails")
	}
	if n := calls.Load(); n != maxAttempts {
		t.Fatalf("server saw %d requests, want %d (bounded attempts)", n, maxAttempts)
	}
	if !strings.HasPrefix(err.Error(), `s3: get "k": `) {
		t.Errorf("err = %q, want the s3: prefix and key", err)
	}
	// No AWS type escapes.
	if _, ok := errors.AsType[smithy.APIError](err); ok {
		t.Errorf("err %v wraps a smithy.APIError", err)
	}
}

func TestNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		s3Error(w, http.StatusForbidden, "AccessDenied")
	}, "")
	if _, err := s.Get(context.Background(), "k"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("Get err = %v, want AccessDenied", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("server saw %d requests for a 403, want 1", n)
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing") && r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound) // HEAD: no body, no code
		case strings.HasSuffix(r.URL.Path, "/missing"):
			s3Error(w, http.StatusNotFound, "NoSuchKey")
		case strings.HasSuffix(r.URL.Path, "/nobucket"):
			s3Error(w, http.StatusNotFound, "NoSuchBucket")
		case strings.HasSuffix(r.URL.Path, "/range416"):
			s3Error(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
		case strings.HasSuffix(r.URL.Path, "/short"):
			// 10-byte object, asked for [8, 11): S3 answers the 2 bytes
			// that exist.
			w.Header().Set("Content-Range", "bytes 8-9/10")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("89"))
		case strings.HasSuffix(r.URL.Path, "/norange"):
			// A server that ignores Range and sends all 10 bytes.
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("0123456789"))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
		}
	}, "")
	ctx := context.Background()
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Get(missing) err = %v, want ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Stat(missing) err = %v, want ErrNotExist", err)
	}
	if _, err := s.Get(ctx, "nobucket"); err == nil || errors.Is(err, objstore.ErrNotExist) || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("Get with a missing bucket err = %v, want a NoSuchBucket error that is not ErrNotExist", err)
	}
	if _, err := s.GetRange(ctx, "range416", 100, 1); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("GetRange answered 416: err = %v, want ErrInvalidRange", err)
	}
	if _, err := s.GetRange(ctx, "short", 8, 3); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("GetRange answered short: err = %v, want ErrInvalidRange", err)
	}
	if _, err := s.GetRange(ctx, "norange", 2, 3); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("GetRange answered without Content-Range: err = %v, want ErrInvalidRange", err)
	}
	if got, err := s.GetRange(ctx, "norange", 0, 10); err != nil || string(got) != "0123456789" {
		t.Errorf("GetRange(0, whole) without Content-Range = %q, %v", got, err)
	}
}

// TestBrokenBody: a GET whose body breaks off is retried.
func TestBrokenBody(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		if calls.Add(1) == 1 {
			w.Write([]byte("01234")) // then hang up
			panic(http.ErrAbortHandler)
		}
		w.Write([]byte("0123456789"))
	}, "")
	got, err := s.Get(context.Background(), "k")
	if err != nil || string(got) != "0123456789" {
		t.Fatalf("Get = %q, %v; want the whole object after a retry", got, err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("server saw %d GETs, want 2", n)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int32
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, "&timeout=50ms")
	t.Cleanup(func() { close(release) })
	start := time.Now()
	_, err := s.Stat(context.Background(), "k")
	if err == nil {
		t.Fatal("Stat on a hung server = nil error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Stat took %v with timeout=50ms", d)
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("server saw %d requests; a timed-out attempt should be retried", n)
	}
}

func TestCancelInFlight(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}, "")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	start := time.Now()
	_, err := s.Get(ctx, "k")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Get err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Get took %v to notice the cancel", d)
	}
}

// TestMultipartAbort: when a part fails for good, the upload is aborted
// and never completed.
func TestMultipartAbort(t *testing.T) {
	t.Parallel()
	var (
		mu                      sync.Mutex
		created, aborted, ended bool
		parts                   int
	)
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		q := r.URL.Query()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			created = true
			fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>pre/big</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPut && q.Get("uploadId") == "up-1":
			parts++
			if q.Get("partNumber") == "2" {
				s3Error(w, http.StatusBadRequest, "InvalidArgument")
				return
			}
			w.Header().Set("ETag", `"etag"`)
		case r.Method == http.MethodDelete && q.Get("uploadId") == "up-1":
			aborted = true
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPost && q.Get("uploadId") == "up-1":
			ended = true
			fmt.Fprint(w, `<CompleteMultipartUploadResult><ETag>"x-3"</ETag></CompleteMultipartUploadResult>`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
		}
	}, "")
	s.threshold, s.partSize = 10, 4 // 3 parts; the fake has no minimum part size
	err := s.Put(context.Background(), "big", bytes.Repeat([]byte("x"), 11))
	if err == nil || !strings.Contains(err.Error(), "part 2 of 3") {
		t.Fatalf("Put err = %v, want a part 2 failure", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !created || !aborted || ended {
		t.Fatalf("created %v aborted %v completed %v; want created and aborted, not completed", created, aborted, ended)
	}
}

// TestPutHashesOnce checks what a single PUT carries: to a loopback
// endpoint an UNSIGNED-PAYLOAD signature and the body's CRC32, which the
// server checks; with unsigned_payload=false the SHA-256 of the body in
// the signature as well.
func TestPutHashesOnce(t *testing.T) {
	t.Parallel()
	data := []byte("some bytes of an object")
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		params, wantSHA string
	}{
		{"", "UNSIGNED-PAYLOAD"},
		{"&unsigned_payload=false", hex.EncodeToString(sum[:])},
	} {
		var mu sync.Mutex
		var got http.Header
		s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			got = r.Header.Clone()
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}, tc.params)
		if err := s.Put(context.Background(), "k", data); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if v := got.Get("X-Amz-Content-Sha256"); v != tc.wantSHA {
			t.Errorf("%q: X-Amz-Content-Sha256 = %q, want %q", tc.params, v, tc.wantSHA)
		}
		if v, want := got.Get("X-Amz-Checksum-Crc32"), crc32Base64(data); v != want {
			t.Errorf("%q: X-Amz-Checksum-Crc32 = %q, want %q", tc.params, v, want)
		}
		if !strings.Contains(got.Get("Authorization"), "Signature=") {
			t.Errorf("%q: request not signed: Authorization %q", tc.params, got.Get("Authorization"))
		}
		mu.Unlock()
	}
}
