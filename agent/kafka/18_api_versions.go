package kafka

// ApiVersions v0-v4. The answer is generated from the handlers table in
// versions.go. Requests newer than v4 are answered by the connection with a
// v0 UNSUPPORTED_VERSION response carrying the table (see conn.go), as
// Kafka does, so clients retry with a version we serve.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleApiVersions(c *conn, req kmsg.Request, f *inflight) {
	resp := req.(*kmsg.ApiVersionsRequest).ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiVersionKeys()
	f.finish(resp)
}
