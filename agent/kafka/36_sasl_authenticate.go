package kafka

// SaslAuthenticate v0-v2.
//
//   - Carries the SASL tokens after a SaslHandshake v1. A failure of the
//     client (unknown user, wrong password, malformed message, too many
//     failures from its address) is SASL_AUTHENTICATION_FAILED with one
//     message whatever the cause; the connection then closes. Failures are
//     counted in strata_sasl_authentications_total.
//   - v1+: SessionLifetimeMs is --connections-max-reauth-ms once
//     authenticated (0 when sessions do not expire): the client
//     re-authenticates before it (KIP-368).
//   - Without a handshake in progress: ILLEGAL_SASL_STATE (and the
//     connection closes on SASL listeners).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleSaslAuthenticate(c *conn, req kmsg.Request, f *inflight) {
	r := req.(*kmsg.SASLAuthenticateRequest)
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if !c.lst.SASL() || c.sasl.sess == nil || !c.sasl.v1 {
		resp.ErrorCode, resp.ErrorMessage = illegalSASLState("SaslAuthenticate without a SaslHandshake v1 in progress")
		c.sasl.closing = c.lst.SASL()
		f.finish(resp)
		return
	}
	token, done, failMsg := c.saslStep(r.SASLAuthBytes)
	if failMsg != "" {
		resp.ErrorCode, resp.ErrorMessage = kerr.SaslAuthenticationFailed.Code, &failMsg
		f.finish(resp)
		return
	}
	resp.SASLAuthBytes = token
	if done && r.Version >= 1 {
		resp.SessionLifetimeMillis = c.srv.cfg.ReauthMs
	}
	f.finish(resp)
}
