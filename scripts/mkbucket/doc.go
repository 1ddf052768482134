// Command mkbucket creates a bucket on an S3-compatible server, for
// scripts/start-minio.sh. A bucket that already exists and is ours is not an
// error. Credentials come from the AWS chain (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY).
//
//	go run ./scripts/mkbucket -endpoint http://127.0.0.1:9000 -bucket strata-test
package main
