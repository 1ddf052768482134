package kafka

// ApiVersions v0-v4. The answer is generated from the handlers table in
// versions.go. Requests newer than v4 are answered by the connection with a
// v0 UNSUPPORTED_VERSION response carrying the table (see conn.go), as
// Kafka does, so clients retry with a version we serve.
//
// v3+ report the feature transaction.version (supported 0-2, finalized at
// Config.TransactionVersion): at 2, clients run transactions under KIP-890
// part 2 (EndTxn v5 bumps the epoch, Produce v12 and TxnOffsetCommit v5
// add partitions and groups to the transaction themselves); at 1 they
// send AddPartitionsToTxn and AddOffsetsToTxn as before.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleApiVersions(c *conn, req kmsg.Request, f *inflight) {
	resp := req.(*kmsg.ApiVersionsRequest).ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiVersionKeys()
	sf := kmsg.NewApiVersionsResponseSupportedFeature()
	sf.Name, sf.MinVersion, sf.MaxVersion = "transaction.version", 0, 2
	resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
	ff := kmsg.NewApiVersionsResponseFinalizedFeature()
	ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "transaction.version", c.srv.cfg.TransactionVersion, c.srv.cfg.TransactionVersion
	resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	resp.FinalizedFeaturesEpoch = 1
	f.finish(resp)
}
