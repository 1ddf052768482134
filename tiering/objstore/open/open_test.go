package open

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadURLs(t *testing.T) {
	for _, tc := range []struct{ url, mention string }{
		{"objects", "want scheme://"},
		{"file://", "empty directory"},
		{"file:///tmp/x?sync=1", "take no parameters"},
		{"gs://bucket", `unknown scheme "gs"`},
		{"s3://", "s3"},
	} {
		s, err := ObjectStore(t.Context(), tc.url)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ObjectStore(%q) = %v, %v; want ErrBadURL mentioning %q", tc.url, s, err, tc.mention)
		}
		if s != nil {
			t.Errorf("ObjectStore(%q) returned a store with its error", tc.url)
		}
	}
}

func TestFile(t *testing.T) {
	ctx := t.Context()
	s, err := ObjectStore(ctx, "file://"+filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a/b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
}
