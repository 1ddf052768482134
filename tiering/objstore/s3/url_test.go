package s3

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want location
	}{
		{"s3://bucket", location{bucket: "bucket", timeout: defaultTimeout, unsignedPayload: true}},
		{"s3://bucket/", location{bucket: "bucket", timeout: defaultTimeout, unsignedPayload: true}},
		{"s3://my.bucket-1/a/b/", location{bucket: "my.bucket-1", prefix: "a/b/", timeout: defaultTimeout, unsignedPayload: true}},
		{
			"s3://strata-test/?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
			location{bucket: "strata-test", endpoint: "http://127.0.0.1:9000", region: "us-east-1", pathStyle: true, timeout: defaultTimeout, unsignedPayload: true},
		},
		{
			"s3://b12/p?endpoint=https://s3.example.internal/&timeout=1m30s&path_style=false",
			location{bucket: "b12", prefix: "p/", endpoint: "https://s3.example.internal", timeout: 90 * time.Second, unsignedPayload: true},
		},
		// Plain http to another host keeps the signed payload, unless
		// the URL says otherwise; loopback in any spelling does not.
		{"s3://b12?endpoint=http://minio.internal:9000", location{bucket: "b12", endpoint: "http://minio.internal:9000", timeout: defaultTimeout}},
		{"s3://b12?endpoint=http://10.0.0.5:9000&unsigned_payload=true", location{bucket: "b12", endpoint: "http://10.0.0.5:9000", timeout: defaultTimeout, unsignedPayload: true}},
		{"s3://b12?endpoint=http://localhost:9000", location{bucket: "b12", endpoint: "http://localhost:9000", timeout: defaultTimeout, unsignedPayload: true}},
		{"s3://b12?endpoint=http://[::1]:9000", location{bucket: "b12", endpoint: "http://[::1]:9000", timeout: defaultTimeout, unsignedPayload: true}},
		{"s3://b12?endpoint=http://127.0.0.1:9000&unsigned_payload=false", location{bucket: "b12", endpoint: "http://127.0.0.1:9000", timeout: defaultTimeout}},
		{"s3://b12?unsigned_payload=0", location{bucket: "b12", timeout: defaultTimeout}},
	}
	for _, tt := range tests {
		got, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseURL(%q) = %+v, want %+v", tt.url, got, tt.want)
		}
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		wantErr string // a piece of the message
	}{
		{"", `scheme is ""`},
		{"file:///tmp/x", `scheme is "file"`},
		{"s3:bucket", "want s3://BUCKET/PREFIX"},
		{"s3://", "missing bucket"},
		{"s3:///prefix", "missing bucket"},
		{"s3://ab", "bad bucket name"},
		{"s3://Bucket", "bad bucket name"},
		{"s3://bucket:9000/x", "bad bucket name"},
		{"s3://-bucket", "bad bucket name"},
		{"s3://user:secret@bucket", "must not hold credentials"},
		{"s3://bucket/a//b", "bad prefix"},
		{"s3://bucket/a/../b", "bad prefix"},
		{"s3://bucket/x#frag", "fragment"},
		{"s3://bucket?endpoint=127.0.0.1:9000", "bad endpoint"},
		{"s3://bucket?endpoint=ftp://127.0.0.1", "want http:// or https://"},
		{"s3://bucket?endpoint=http://", "missing host"},
		{"s3://bucket?endpoint=http://127.0.0.1:99999", "bad port"},
		{"s3://bucket?endpoint=http://127.0.0.1:9000/path", "scheme://host[:port] only"},
		{"s3://bucket?endpoint=http://k:secret@127.0.0.1:9000", "must not hold credentials"},
		{"s3://bucket?endpoint=%zz", "bad query"},
		{"s3://bucket?region=", "empty region"},
		{"s3://bucket?path_style=maybe", "path_style"},
		{"s3://bucket?timeout=soon", "timeout"},
		{"s3://bucket?timeout=-1s", "timeout"},
		{"s3://bucket?timeout=0s", "timeout"},
		{"s3://bucket?unsigned_payload=yes", "unsigned_payload"},
		{"s3://bucket?region=a&region=b", "given 2 times"},
		{"s3://bucket?endpont=http://127.0.0.1:9000", `unknown parameter "endpont"`},
		{"s3://bucket?access_key=x", `unknown parameter "access_key"`},
	}
	for _, tt := range tests {
		_, err := Open(context.Background(), tt.url)
		if err == nil {
			t.Errorf("Open(%q) = nil error, want one containing %q", tt.url, tt.wantErr)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, ErrInvalidURL) || !strings.HasPrefix(msg, "s3: invalid URL") || !strings.Contains(msg, tt.wantErr) {
			t.Errorf("Open(%q) err = %q, want ErrInvalidURL \"s3: invalid URL ...%s...\"", tt.url, msg, tt.wantErr)
		}
		if strings.Contains(msg, "secret") {
			t.Errorf("Open(%q) err = %q repeats a secret", tt.url, msg)
		}
	}
}

// TestOpenNoRequest: Open with a valid URL succeeds without the server,
// so an agent can start while its object store is down.
func TestOpenNoRequest(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), "s3://bucket/p?endpoint=http://127.0.0.1:1&region=us-east-1&path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	if s.bucket != "bucket" || s.prefix != "p/" {
		t.Fatalf("Open: bucket %q prefix %q, want bucket p/", s.bucket, s.prefix)
	}
}
