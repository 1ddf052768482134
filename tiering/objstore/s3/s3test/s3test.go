package s3test

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
)

// EnvURL is the environment variable naming the test bucket.
const EnvURL = "STRATA_TEST_S3_URL"

// ServerURL returns the test bucket's URL, skipping the test when it is
// not set (failing it when CI=true).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI never skips the S3 tests (scripts/test.sh starts MinIO)", EnvURL)
		}
		t.Skipf("%s is not set; start MinIO with scripts/start-minio.sh DIR and source DIR/env", EnvURL)
	}
	return u
}

// URL returns the test bucket's URL with a fresh prefix.
func URL(t testing.TB) string {
	t.Helper()
	raw := ServerURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	var b [8]byte
	rand.Read(b[:])
	u.Path = "/" + strings.Trim(strings.Trim(u.Path, "/")+"/t-"+hex.EncodeToString(b[:]), "/")
	return u.String()
}
