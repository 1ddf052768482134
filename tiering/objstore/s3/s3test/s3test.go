// Package s3test gives tests their own empty prefix in the test bucket.
//
// # Basics
//
// URL reads the bucket from STRATA_TEST_S3_URL (scripts/test.sh provides it
// and the AWS_* credentials; locally, source the env file
// scripts/start-minio.sh writes) and returns that URL with a fresh random
// prefix, so tests can run in parallel against one bucket.
//
// # Caveats
//
// Without STRATA_TEST_S3_URL the test is skipped, except when CI=true: CI
// never skips the S3 tests. Objects under the prefix are left for the
// throwaway server to discard.
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
