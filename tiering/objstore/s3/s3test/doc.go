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
