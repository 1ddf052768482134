package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent/wire"
	"github.com/stratalog/strata/auth"
	"github.com/stratalog/strata/auth/scram"
	"github.com/stratalog/strata/auth/tlsconf"
	"github.com/stratalog/strata/metastore"
)

// maxUnauthenticatedFrame bounds frames before SASL authentication
// succeeds (Kafka's sasl.server.max.receive.size), so an unauthenticated
// client cannot make the agent allocate --max-request-bytes.
const maxUnauthenticatedFrame = 512 << 10

// defaultPrincipals maps a certificate subject to "User:" and its DN.
var defaultPrincipals, _ = tlsconf.ParseRules("DEFAULT")

// tlsHandshakeTimeout bounds a client's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

// saslState is a connection's SASL progress, touched only by its reader
// goroutine.
type saslState struct {
	// authenticated is true once a SASL exchange succeeded; it stays true
	// during a re-authentication.
	authenticated bool
	// sess is the exchange in progress (after SaslHandshake), nil
	// otherwise.
	sess      auth.Session
	mechanism string
	// raw: SaslHandshake v0 was used, the next frames are bare tokens.
	raw bool
	// v1: SaslHandshake v1 was used, SaslAuthenticate carries the tokens.
	v1 bool
	// expires is when the session ends (connections.max.reauth.ms);
	// zero: never.
	expires time.Time
	// closing: the connection closes once the pending answers are sent.
	closing bool
}

// handshakeTLS completes the TLS handshake of SSL and SASL_SSL listeners
// and takes the principal from a client certificate (SSL only: on
// SASL_SSL the principal is SASL's). False closes the connection.
func (c *conn) handshakeTLS() bool {
	if !c.lst.UsesTLS() {
		return true
	}
	tc := c.nc.(*tls.Conn)
	ctx, cancel := context.WithTimeout(c.ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.srv.metrics.tlsFailures.Inc()
		c.srv.log.Debug("tls handshake failed", "remote", c.host, "listener", c.lst.Name, "err", err)
		return false
	}
	if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 && c.lst.Protocol == SSL {
		m := c.lst.Principals
		if m == nil {
			m = defaultPrincipals
		}
		c.principal = m.Principal(st.PeerCertificates[0])
	}
	if c.lst.Protocol == SSL {
		c.authenticated()
	}
	return true
}

// admits reports whether a request may be handled on this connection;
// false closes it. On SASL listeners, before authentication only
// ApiVersions, SaslHandshake and (after a v1 handshake) SaslAuthenticate
// are served, as Kafka does; once a session has expired
// (connections.max.reauth.ms) only a re-authentication is.
func (c *conn) admits(hdr wire.Header) bool {
	if !c.lst.SASL() {
		return true
	}
	switch hdr.Key {
	case 18, 17:
		return true
	case 36:
		if c.sasl.sess != nil {
			return true
		}
	}
	why := "request before SASL authentication"
	if c.sasl.authenticated {
		if c.sasl.sess == nil && (c.sasl.expires.IsZero() || time.Now().Before(c.sasl.expires)) {
			return true
		}
		why = "request after the SASL session expired"
		if c.sasl.sess != nil {
			why = "request during SASL re-authentication"
		}
	}
	c.srv.metrics.closedBadFrames.Inc()
	c.srv.log.Info("closing connection: "+why, "remote", c.host, "listener", c.lst.Name, "api", kmsg.NameForKey(hdr.Key))
	return false
}

// saslStep runs one token of the exchange in progress. It returns the
// server's token, whether authentication completed, and, on failure, a
// message for the client (the same for every failure of the client's
// making) with the connection marked to close.
func (c *conn) saslStep(token []byte) (resp []byte, done bool, failMsg string) {
	srv := c.srv
	mech := c.sasl.mechanism
	fail := func(result, msg string) ([]byte, bool, string) {
		srv.metrics.authentications.WithLabelValues(mech, result).Inc()
		c.sasl.sess, c.sasl.closing = nil, true
		return nil, false, msg
	}
	const badCreds = "Authentication failed: invalid credentials"
	if !srv.cfg.AuthLimiter.Allow(c.host) {
		srv.log.Info("sasl authentication refused: too many failures from this address", "remote", c.host, "mechanism", mech)
		return fail("limited", badCreds)
	}
	resp, done, err := c.sasl.sess.Step(c.ctx, token)
	if err != nil {
		if !errors.Is(err, auth.ErrAuthFailed) {
			srv.log.Warn("sasl authentication error", "remote", c.host, "mechanism", mech, "err", err)
			return fail("error", "Authentication failed: internal error")
		}
		srv.cfg.AuthLimiter.Failed(c.host)
		srv.log.Info("sasl authentication failed", "remote", c.host, "mechanism", mech, "reason", err)
		return fail("failed", badCreds)
	}
	if !done {
		return resp, false, ""
	}
	p := c.sasl.sess.Principal()
	if c.sasl.authenticated && p != c.principal {
		srv.log.Info("sasl re-authentication as another principal refused", "remote", c.host, "was", c.principal, "now", p)
		return fail("failed", "Authentication failed: re-authentication must keep the principal")
	}
	srv.metrics.authentications.WithLabelValues(mech, "ok").Inc()
	c.principal, c.sasl.authenticated, c.sasl.sess = p, true, nil
	c.sasl.expires = time.Time{}
	if srv.cfg.ReauthMs > 0 {
		c.sasl.expires = time.Now().Add(time.Duration(srv.cfg.ReauthMs) * time.Millisecond)
	}
	c.authenticated()
	return resp, true, ""
}

func (c *conn) authenticated() {
	if h := c.srv.cfg.OnAuthenticated; h != nil {
		h(c.lst.Name, c.principal)
	}
}

// saslRawToken handles a bare token after SaslHandshake v0. A failure
// closes the connection without an answer, as Kafka's v0 framing does.
func (c *conn) saslRawToken(frame []byte) bool {
	resp, done, failMsg := c.saslStep(frame)
	if failMsg != "" {
		return false
	}
	if done {
		c.sasl.raw = false
	}
	f := c.enqueue(wire.Header{}, "SaslAuthenticate")
	if f == nil {
		return false
	}
	if resp == nil {
		resp = []byte{}
	}
	f.raw = resp
	close(f.done)
	return true
}

// credentialStore reads SCRAM credentials from the metastore for the
// authenticator.
type credentialStore struct{ meta metastore.Users }

// NewCredentialStore adapts the metastore for auth.NewAuthenticator.
func NewCredentialStore(meta metastore.Users) auth.CredentialStore { return credentialStore{meta} }

func (s credentialStore) ScramCredential(ctx context.Context, user, mechanism string) (scram.Credential, bool, error) {
	c, err := s.meta.ScramCredential(ctx, user, mechanism)
	if errors.Is(err, metastore.ErrNotFound) {
		return scram.Credential{}, false, nil
	}
	if err != nil {
		return scram.Credential{}, false, err
	}
	return scram.Credential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true, nil
}

// illegalSASLState answers a SASL request that does not fit the
// connection's state.
func illegalSASLState(msg string) (int16, *string) {
	return kerr.IllegalSaslState.Code, &msg
}
