// Package s3 is an objstore.Store in an S3-compatible bucket (AWS S3, MinIO,
// and others), built on aws-sdk-go-v2. No AWS type appears in its API or
// escapes in its errors.
//
// # Basics
//
// Open takes a URL:
//
//	s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true&timeout=30s
//
// Every object key is stored under PREFIX/ in BUCKET (PREFIX may be empty).
// Parameters, all optional:
//
//   - endpoint: the service's base URL, http or https; absent means AWS S3.
//   - region: the signing region; absent means the AWS configuration
//     (AWS_REGION, the shared config file), else us-east-1 when endpoint is
//     set. Without endpoint a region is required.
//   - path_style: true addresses the bucket in the path
//     (http://host/BUCKET/key), as MinIO needs; default false.
//   - timeout: the limit on each HTTP attempt, body included, as a Go
//     duration; default 2m.
//   - unsigned_payload: true sends request bodies as UNSIGNED-PAYLOAD
//     (the signature covers the headers, not a SHA-256 of the body);
//     default true over https (TLS protects the body; the SDK does the
//     same for PUTs there) and to a loopback endpoint (127.0.0.1, ::1,
//     localhost), false over plain http to any other host.
//
// Credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), the shared config and
// credentials files (AWS_PROFILE), web identity, and the instance or task
// role. A URL with user:password in it is refused so secrets stay out of
// flags and logs.
//
// Requests are retried by the SDK's standard retryer, configured here with
// bounded attempts and capped exponential backoff with full jitter, on 5xx
// answers, throttling (503 SlowDown) and connection errors. Objects up to
// 128 MiB are one PUT carrying the body's CRC32 (computed once, by Put),
// which the server checks; it is the body's only hash when the payload is
// unsigned. Larger objects are uploaded in 16 MiB parts, a few at a time,
// each with its CRC32 and the whole object's at Complete; a failed
// multipart upload is aborted, and until Complete nothing is visible, so
// Put stays atomic. No checksum of a GET answer is checked: range GETs
// cannot be, and what Strata stores carries CRCs of its own. A range past the end of an object is objstore.ErrInvalidRange,
// checked against the Content-Range of the answer (S3 returns a short
// range rather than an error when only the end is past the object).
//
// # Caveats
//
//   - Open makes no request: a wrong bucket or bad credentials show up on
//     the first operation. This lets an agent start while the store is down.
//   - A 404 on Stat (HEAD has no error body) cannot tell a missing object
//     from a missing bucket; both are objstore.ErrNotExist. Get and
//     GetRange report a missing bucket as an error of its own.
//   - List skips keys under PREFIX that are not valid objstore keys (for
//     example "dir/" markers made by other tools).
//   - Multipart uploads carry a full-object CRC32 (ChecksumType
//     FULL_OBJECT), which the server checks at Complete. AWS S3 and MinIO
//     support it; an older S3-compatible server may refuse such uploads.
//   - A failed abort, or a Put cancelled while the upload was being
//     created and whose creation did not answer within 5 s more, leaves
//     an incomplete upload behind, invisible to readers but billed.
//     AbortStaleUploads aborts those older than a cut-off; so does a
//     bucket lifecycle rule that aborts incomplete multipart uploads after
//     a day.
//   - DeleteBatch is one DeleteObjects request (quiet mode); keys the
//     answer fails with a transient code are sent again, a few times.
//     AbortStaleUploads lists the whole bucket's uploads and keeps those
//     under PREFIX, because MinIO reads a non-empty Prefix of
//     ListMultipartUploads as an exact object name.
package s3
