package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stratalog/strata/tiering/objstore"
)

// deleteRequest is the body of a DeleteObjects request.
type deleteRequest struct {
	Quiet   bool `xml:"Quiet"`
	Objects []struct {
		Key string `xml:"Key"`
	} `xml:"Object"`
}

// TestDeleteBatchKeyErrors: per-key failures in a DeleteObjects answer.
// A transient one is sent again alone; NoSuchKey is success; the rest
// come back as KeyErrors naming the key without the store's prefix.
func TestDeleteBatchKeyErrors(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		requests [][]string
	)
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !r.URL.Query().Has("delete") {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		var req deleteRequest
		body, _ := io.ReadAll(r.Body)
		if err := xml.Unmarshal(body, &req); err != nil {
			t.Errorf("DeleteObjects body %q: %v", body, err)
		}
		if !req.Quiet {
			t.Errorf("DeleteObjects without Quiet")
		}
		var ks []string
		for _, o := range req.Objects {
			ks = append(ks, o.Key)
		}
		mu.Lock()
		requests = append(requests, ks)
		n := len(requests)
		mu.Unlock()
		fmt.Fprint(w, `<DeleteResult>`)
		for _, k := range ks {
			var code string
			switch {
			case k == "pre/flaky" && n == 1:
				code = "InternalError"
			case k == "pre/missing":
				code = "NoSuchKey"
			case k == "pre/denied":
				code = "AccessDenied"
			}
			if code != "" {
				fmt.Fprintf(w, `<Error><Key>%s</Key><Code>%s</Code><Message>scripted</Message></Error>`, k, code)
			}
		}
		fmt.Fprint(w, `</DeleteResult>`)
	}, "")
	err := s.DeleteBatch(context.Background(), []string{"a", "flaky", "missing", "denied", "a", "bad//key"})
	var kes []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		ke, ok := e.(*objstore.KeyError)
		if !ok {
			t.Fatalf("error %v is not a KeyError", e)
		}
		kes = append(kes, ke.Key)
	}
	slices.Sort(kes)
	if want := []string{"bad//key", "denied"}; !slices.Equal(kes, want) {
		t.Fatalf("failed keys %q (err %v), want %q", kes, err, want)
	}
	if !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("err = %v, want the server's code", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"pre/a", "pre/flaky", "pre/missing", "pre/denied"}, {"pre/flaky"}}
	if !slices.EqualFunc(requests, want, slices.Equal) {
		t.Fatalf("requests %q, want %q", requests, want)
	}
}

// TestDeleteBatchTransientBounded: a key that keeps failing with a
// transient code is sent batchAttempts times, then reported.
func TestDeleteBatchTransientBounded(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		calls++
		mu.Unlock()
		fmt.Fprint(w, `<DeleteResult><Error><Key>pre/k</Key><Code>SlowDown</Code><Message>slow</Message></Error></DeleteResult>`)
	}, "")
	err := s.DeleteBatch(context.Background(), []string{"k"})
	var ke *objstore.KeyError
	if !errors.As(err, &ke) || ke.Key != "k" || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("err = %v, want a SlowDown KeyError for k", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != batchAttempts {
		t.Fatalf("server saw %d requests, want %d", calls, batchAttempts)
	}
}

// TestDeleteBatchRequestFails: a request failing as a whole is retried by
// the SDK (bounded), then fails the batch with one error naming it.
func TestDeleteBatchRequestFails(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		calls++
		mu.Unlock()
		s3Error(w, http.StatusInternalServerError, "InternalError")
	}, "")
	err := s.DeleteBatch(context.Background(), []string{"x/2", "x/1", "x/3"})
	if err == nil || !strings.Contains(err.Error(), `3 keys "x/1" to "x/3"`) {
		t.Fatalf("err = %v, want the batch named", err)
	}
	if ke := (*objstore.KeyError)(nil); errors.As(err, &ke) {
		t.Fatalf("err %v is a KeyError; the whole request failed", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != maxAttempts {
		t.Fatalf("server saw %d requests, want %d", calls, maxAttempts)
	}
}

// TestAbortStaleUploadsPages: uploads are listed page by page, those
// outside the prefix skipped, and only those initiated before the cut-off
// are aborted; an upload gone meanwhile is not an error.
func TestAbortStaleUploadsPages(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		aborted []string
	)
	old, recent := "2020-01-01T00:00:00.000Z", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	s := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodGet && q.Has("uploads"):
			if q.Get("key-marker") == "" {
				fmt.Fprintf(w, `<ListMultipartUploadsResult><Bucket>bucket</Bucket><IsTruncated>true</IsTruncated>`+
					`<NextKeyMarker>pre/b</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>`+
					`<Upload><Key>other/a</Key><UploadId>u0</UploadId><Initiated>%s</Initiated></Upload>`+
					`<Upload><Key>pre/a</Key><UploadId>u1</UploadId><Initiated>%s</Initiated></Upload>`+
					`<Upload><Key>pre/b</Key><UploadId>u2</UploadId><Initiated>%s</Initiated></Upload>`+
					`</ListMultipartUploadsResult>`, old, old, recent)
				return
			}
			if q.Get("key-marker") != "pre/b" || q.Get("upload-id-marker") != "u2" {
				t.Errorf("second page asked with markers %q %q", q.Get("key-marker"), q.Get("upload-id-marker"))
			}
			fmt.Fprintf(w, `<ListMultipartUploadsResult><Bucket>bucket</Bucket><IsTruncated>false</IsTruncated>`+
				`<Upload><Key>pre/c</Key><UploadId>u3</UploadId><Initiated>%s</Initiated></Upload>`+
				`<Upload><Key>pre/d</Key><UploadId>u4</UploadId><Initiated>%s</Initiated></Upload>`+
				`</ListMultipartUploadsResult>`, old, old)
		case r.Method == http.MethodDelete && q.Has("uploadId"):
			mu.Lock()
			aborted = append(aborted, strings.TrimPrefix(r.URL.Path, "/bucket/")+" "+q.Get("uploadId"))
			mu.Unlock()
			if q.Get("uploadId") == "u4" {
				s3Error(w, http.StatusNotFound, "NoSuchUpload")
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
		}
	}, "")
	n, err := s.AbortStaleUploads(context.Background(), time.Now().Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("AbortStaleUploads = %d, %v; want 2, nil", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"pre/a u1", "pre/c u3", "pre/d u4"}; !slices.Equal(aborted, want) {
		t.Fatalf("aborted %q, want %q", aborted, want)
	}
}

// TestAbortStaleUploads runs against the test bucket: an upload left open
// is aborted once it is older than the cut-off, not before, and uploads
// under another prefix are left alone.
func TestAbortStaleUploads(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other := newStore(t)
	ctx := context.Background()
	open := func(st *Store, key string) string {
		t.Helper()
		out, err := st.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
			Bucket: aws.String(st.bucket), Key: aws.String(st.prefix + key),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.UploadId)
	}
	uploads := func(st *Store) []string {
		t.Helper()
		var ids []string
		for _, u := range openUploads(t, st) {
			ids = append(ids, aws.ToString(u.UploadId))
		}
		return ids
	}
	open(s, "left/open-1")
	open(s, "left/open-2")
	theirs := open(other, "theirs")

	if n, err := s.AbortStaleUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("AbortStaleUploads(an hour ago) = %d, %v; want 0, nil", n, err)
	}
	if got := uploads(s); len(got) != 2 {
		t.Fatalf("%d uploads open, want 2", len(got))
	}
	// Servers round Initiated; a cut-off a minute ahead covers both.
	if n, err := s.AbortStaleUploads(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("AbortStaleUploads(now) = %d, %v; want 2, nil", n, err)
	}
	if got := uploads(s); len(got) != 0 {
		t.Fatalf("uploads %q still open", got)
	}
	if got := uploads(other); !slices.Equal(got, []string{theirs}) {
		t.Fatalf("another prefix's uploads = %q, want %q untouched", got, theirs)
	}
}

// openUploads returns the incomplete multipart uploads under st's prefix.
func openUploads(t *testing.T, st *Store) []types.MultipartUpload {
	t.Helper()
	var ups []types.MultipartUpload
	err := st.eachUpload(context.Background(), func(u types.MultipartUpload) error {
		ups = append(ups, u)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ups
}
