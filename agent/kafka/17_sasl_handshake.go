package kafka

// SaslHandshake v0-v1.
//
//   - On SASL_PLAINTEXT and SASL_SSL listeners: the mechanism must be one
//     of --sasl-enabled-mechanisms, else UNSUPPORTED_SASL_MECHANISM with
//     the enabled list, and the connection closes. The answer always
//     lists the enabled mechanisms.
//   - v0: the tokens that follow are bare length-prefixed frames (no
//     request header), answered the same way. v1: they come in
//     SaslAuthenticate requests.
//   - After authentication, a v1 handshake starts a re-authentication
//     (KIP-368) when sessions expire (--connections-max-reauth-ms); it
//     must end with the same principal.
//   - Other listeners, a handshake during an exchange, or a second one
//     without re-authentication: ILLEGAL_SASL_STATE, and on SASL
//     listeners the connection closes.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleSaslHandshake(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.SASLHandshakeRequest)
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	if !c.lst.SASL() || srv.cfg.Auth == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		f.finish(resp)
		return
	}
	resp.SupportedMechanisms = srv.cfg.Auth.Mechanisms()
	reauth := c.sasl.authenticated && r.Version >= 1 && srv.cfg.ReauthMs > 0
	if c.sasl.sess != nil || (c.sasl.authenticated && !reauth) {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.sasl.closing = true
		f.finish(resp)
		return
	}
	sess, err := srv.cfg.Auth.Start(r.Mechanism)
	if err != nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		srv.metrics.authentications.WithLabelValues("unsupported", "failed").Inc()
		c.sasl.closing = true
		f.finish(resp)
		return
	}
	c.sasl.sess, c.sasl.mechanism = sess, r.Mechanism
	c.sasl.raw, c.sasl.v1 = r.Version == 0, r.Version >= 1
	f.finish(resp)
}
